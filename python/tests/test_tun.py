"""tcpkit.tun.Tun against the Linux kernel, inside a network namespace made here.

Needs root (CAP_NET_ADMIN) and /dev/net/tun; skipped with one line otherwise.
The root namespace is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None,
    reason="TUN tests need root, /dev/net/tun and iproute2 (network namespace)",
)


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, timeout=30)


def test_tun_reads_and_writes_packets_with_the_kernel() -> None:
    ns = f"tcpkit-pytest-{os.getpid()}"
    nsexec = ["ip", "netns", "exec", ns]
    sh("ip", "netns", "add", ns)
    try:
        sh(*nsexec, "ip", "link", "set", "lo", "up")
        sh(*nsexec, "ip", "tuntap", "add", "dev", "tk0", "mode", "tun")
        sh(*nsexec, "ip", "addr", "add", "192.0.2.1/24", "dev", "tk0")
        sh(*nsexec, "ip", "link", "set", "tk0", "up")
        env = dict(os.environ, PYTHONPATH=str(HERE))
        r = subprocess.run(
            [*nsexec, sys.executable, str(HERE / "tun_probe.py")],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=str(HERE),
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "tun ok" in r.stdout
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, timeout=30)


def test_tun_name_too_long_is_value_error() -> None:
    from tcpkit.tun import Tun

    with pytest.raises(ValueError):
        Tun("x" * 20)
