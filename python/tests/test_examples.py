"""The Python examples run and succeed (the TUN one skips itself without root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(os.environ.get("TCPKIT_REPO", Path(__file__).resolve().parents[2])) / "examples" / "python"


def run_example(name: str, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, f"{name} failed:\n{r.stdout}\n{r.stderr}"
    return r


def test_memory_pair_example_with_loss(tmp_path: Path) -> None:
    r = run_example("memory_pair.py", "--bytes", "300000", "--loss", "0.03", "--seed", "3", cwd=tmp_path)
    assert "sha256 matches" in r.stdout
    lost = int(r.stdout.split("lost ")[1].split()[0])
    assert lost > 0


def test_pcap_session_example_is_readable_by_tshark(tmp_path: Path) -> None:
    r = run_example("pcap_session.py", "s.pcap", cwd=tmp_path)
    assert "client got" in r.stdout
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed")
    t = subprocess.run([tshark, "-r", str(tmp_path / "s.pcap")], capture_output=True, text=True, timeout=120)
    assert t.returncode == 0, t.stderr
    assert "HTTP" in t.stdout and "SYN" in t.stdout


def test_http_fetch_over_tun_example(tmp_path: Path) -> None:
    r = run_example("http_fetch_tun.py", cwd=tmp_path, timeout=200)
    if r.stdout.startswith("skip:"):
        pytest.skip(r.stdout.strip())
    assert r.stdout.count(" 200 OK") == 2 and r.stdout.count("sha256 matches") == 2  # IPv4 and IPv6
