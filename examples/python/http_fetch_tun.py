#!/usr/bin/env python3
"""Fetch a file over HTTP from the Linux kernel's TCP with tcpkit.aio over a TUN device.

Needs root (it creates a network namespace, never touching the root one);
without root it prints one line saying so and exits 0.

Inside a fresh namespace ``tcpkit-py-<pid>``: a TUN device tk0 with the
kernel side at 192.0.2.1/24 and 2001:db8::1/64, ``python3 -m http.server``
listening there, and this script (re-run inside the namespace) as a tcpkit
stack at 192.0.2.2 and 2001:db8::2 fetching a 1 MB file over IPv4, then over
IPv6, checking its sha256 each time.

    sudo python3 examples/python/http_fetch_tun.py
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

KERNEL, OURS, PORT, DEV = "192.0.2.1", "192.0.2.2", 8080, "tk0"
KERNEL6, OURS6 = "2001:db8::1", "2001:db8::2"


async def fetch(path: str, expect_sha: str) -> int:
    import tcpkit
    from tcpkit import aio
    from tcpkit.tun import Tun

    failures = 0
    with Tun(DEV) as tun:
        async with aio.Driver(tcpkit.Stack([OURS, OURS6]), aio.TunTransport(tun)) as driver:
            for host in (KERNEL, KERNEL6):
                for _ in range(50):  # the server may still be starting
                    try:
                        reader, writer = await aio.open_connection(host, PORT, driver=driver)
                        break
                    except ConnectionRefusedError:
                        await asyncio.sleep(0.1)
                else:
                    print(f"http server on {host} never came up", file=sys.stderr)
                    return 1
                writer.write(f"GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                await writer.drain()
                response = await reader.read(-1)
                writer.close()
                await writer.wait_closed()
                head, _, body = response.partition(b"\r\n\r\n")
                status = head.split(b"\r\n", 1)[0].decode(errors="replace")
                sha = hashlib.sha256(body).hexdigest()
                ok = sha == expect_sha and " 200 " in status
                failures += not ok
                print(f"{host}: {status}; {len(body)} bytes; sha256 {'matches' if sha == expect_sha else 'DIFFERS'}")
    return 0 if failures == 0 else 1


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, timeout=30)


def outside() -> int:
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None:
        print("skip: http_fetch_tun needs root, /dev/net/tun and iproute2 (it creates a network namespace)")
        return 0
    ns = f"tcpkit-py-{os.getpid()}"
    nsexec = ["ip", "netns", "exec", ns]
    server = None
    with tempfile.TemporaryDirectory() as d:
        body = random.Random(5).randbytes(1_000_000)
        with open(os.path.join(d, "blob.bin"), "wb") as f:
            f.write(body)
        run("ip", "netns", "add", ns)
        try:
            run(*nsexec, "ip", "link", "set", "lo", "up")
            run(*nsexec, "ip", "tuntap", "add", "dev", DEV, "mode", "tun")
            run(*nsexec, "ip", "addr", "add", f"{KERNEL}/24", "dev", DEV)
            run(*nsexec, "ip", "-6", "addr", "add", f"{KERNEL6}/64", "dev", DEV, "nodad")
            run(*nsexec, "ip", "link", "set", DEV, "up")
            # Bound to "::" (dual stack): serves both 192.0.2.1 and 2001:db8::1.
            server = subprocess.Popen(
                [*nsexec, sys.executable, "-m", "http.server", str(PORT), "--bind", "::", "--directory", d],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.3)
            r = subprocess.run(
                [*nsexec, sys.executable, os.path.abspath(__file__), "--inside", hashlib.sha256(body).hexdigest()],
                timeout=120,
            )
            return r.returncode
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)
            subprocess.run(["ip", "netns", "del", ns], check=False, timeout=30)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        sys.exit(asyncio.run(asyncio.wait_for(fetch("blob.bin", sys.argv[2]), 90)))
    sys.exit(outside())
