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


def run_in_namespace(script: str) -> "subprocess.CompletedProcess[str]":
    """Run a script of this folder in a fresh namespace with tk0 set up."""
    ns = f"tcpkit-pytest-{os.getpid()}"
    nsexec = ["ip", "netns", "exec", ns]
    sh("ip", "netns", "add", ns)
    try:
        sh(*nsexec, "ip", "link", "set", "lo", "up")
        sh(*nsexec, "ip", "tuntap", "add", "dev", "tk0", "mode", "tun")
        sh(*nsexec, "ip", "addr", "add", "192.0.2.1/24", "dev", "tk0")
        sh(*nsexec, "ip", "-6", "addr", "add", "2001:db8::1/64", "dev", "tk0", "nodad")
        sh(*nsexec, "ip", "link", "set", "tk0", "up")
        env = dict(os.environ, PYTHONPATH=str(HERE))
        r = subprocess.run(
            [*nsexec, sys.executable, str(HERE / script)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=str(HERE),
        )
        assert r.returncode == 0, r.stdout + r.stderr
        return r
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, timeout=30)


def test_tun_reads_and_writes_packets_with_the_kernel() -> None:
    assert "tun ok" in run_in_namespace("tun_probe.py").stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed (make setup installs it)")
def test_aio_http_server_on_tun_serves_curl_v4_and_v6() -> None:
    out = run_in_namespace("tun_http_server.py").stdout
    assert out.count("bytes ok") == 2, out


def test_tun_name_too_long_is_value_error() -> None:
    from tcpkit.tun import Tun

    with pytest.raises(ValueError):
        Tun("x" * 20)
