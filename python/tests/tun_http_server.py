"""Run inside a network namespace by test_tun.py: a tcpkit.aio HTTP server on a
TUN device, fetched by the kernel with curl (IPv4 and IPv6), bodies checked.

The namespace has tk0 (persistent TUN) with 192.0.2.1/24 and 2001:db8::1/64.
"""

import asyncio
import hashlib
import random
import sys

import tcpkit
from tcpkit import aio
from tcpkit.tun import Tun

BODY = random.Random(9).randbytes(500_000)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY))
    writer.write(BODY)
    await writer.drain()
    writer.close()


async def main() -> int:
    with Tun("tk0") as tun:
        async with aio.Driver(tcpkit.Stack(["192.0.2.2", "2001:db8::2"]), aio.TunTransport(tun)) as driver:
            server = await aio.start_server(handle, None, 80, driver=driver)
            for url in ("http://192.0.2.2/blob", "http://[2001:db8::2]/blob"):
                proc = await asyncio.create_subprocess_exec(
                    "curl", "-sS", "--max-time", "30", "-o", "-", url, stdout=asyncio.subprocess.PIPE
                )
                out, _ = await proc.communicate()
                assert proc.returncode == 0, f"curl {url} exited {proc.returncode}"
                assert hashlib.sha256(out).digest() == hashlib.sha256(BODY).digest(), f"{url}: {len(out)} bytes"
                print(f"{url}: {len(out)} bytes ok")
            server.close()
            await server.wait_closed()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(asyncio.wait_for(main(), 90)))
