#!/usr/bin/env python3
"""An HTTP/1.1 server on tcpkit.aio over a TUN device, for the kernel interop
tests (examples/tests/run-kernel.sh); run it inside a namespace that has the
TUN device (see that script). The stack takes 192.0.2.2 and 2001:db8::2.

    interop_http.py serve [--dev tk0] [--port 80] [--seconds S]
                          [--loss P] [--reorder P] [--seed N] [--pcap FILE]
                          [--abort-after N]
    interop_http.py gen N        the body of GET /bytes/N to stdout

GET /bytes/N   N bytes: random.Random(N).randbytes(N) (deterministic)
POST /echo     the request body back (Content-Length required)

--loss/--reorder drop or hold back (behind the next packet) a share of the
packets in both directions in the host loop; --pcap records every packet fed
to and emitted by the stack; --abort-after aborts (RST) a GET once N body
bytes were handed to the stack. A connection ended by an error (a reset from
the kernel) is printed as "interop: connection ended: ...". SIGTERM stops the
server cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
from typing import Dict, List, Optional

import tcpkit
from tcpkit import aio
from tcpkit.pcap import PcapWriter
from tcpkit.tun import Tun

_bodies: Dict[int, bytes] = {}
ABORT_AFTER = 0


def body(n: int) -> bytes:
    """The deterministic body of GET /bytes/n (cached: 200 clients ask for the same)."""
    b = _bodies.get(n)
    if b is None:
        b = random.Random(n).randbytes(n)
        if len(_bodies) < 8:
            _bodies[n] = b
    return b


class FaultyTun(aio.TunTransport):
    """TunTransport with loss, one-packet reordering and a capture in the host loop."""

    def __init__(self, tun: Tun, loss: float, reorder: float, seed: int, pcap: Optional[PcapWriter]) -> None:
        super().__init__(tun)
        self.rng = random.Random(seed)
        self.loss, self.reorder, self.pcap = loss, reorder, pcap
        self.dropped = [0, 0]  # in, out
        self.reordered = [0, 0]

    def _faults(self, packets: List[bytes], way: int) -> List[bytes]:
        if not self.loss and not self.reorder:
            return packets
        out: List[bytes] = []
        held: Optional[bytes] = None
        for p in packets:
            if self.rng.random() < self.loss:
                self.dropped[way] += 1
                continue
            if held is None and self.rng.random() < self.reorder:
                held = p
                self.reordered[way] += 1
                continue
            out.append(p)
            if held is not None:
                out.append(held)
                held = None
        if held is not None:
            out.append(held)
        return out

    def start(self, loop: asyncio.AbstractEventLoop, deliver: aio.Deliver) -> None:
        def faulty_deliver(packets: List[bytes]) -> None:
            packets = self._faults(packets, 0)
            if self.pcap is not None:
                for p in packets:
                    self.pcap.write(p)
            if packets:
                deliver(packets)

        super().start(loop, faulty_deliver)

    def send(self, packets: List[bytes]) -> None:
        if self.pcap is not None:
            for p in packets:
                self.pcap.write(p)
        super().send(self._faults(packets, 1))


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = (lines[0].split(" ") + ["", ""])[:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if method == "GET" and path.startswith("/bytes/") and path[7:].isdigit():
            data = body(int(path[7:]))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(data))
            if ABORT_AFTER:
                view = memoryview(data)
                for off in range(0, len(data), 1 << 16):
                    if off >= ABORT_AFTER:
                        print(f"interop: aborting after {off} bytes", file=sys.stderr, flush=True)
                        writer.transport.abort()
                        return
                    writer.write(view[off : off + (1 << 16)])
                    await writer.drain()
            else:
                writer.write(data)
        elif method == "POST" and path == "/echo" and headers.get("content-length", "").isdigit():
            left = int(headers["content-length"])
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % left)
            while left > 0:
                chunk = await reader.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
                writer.write(chunk)
                await writer.drain()
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, asyncio.IncompleteReadError) as e:
        print(f"interop: connection ended: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        writer.transport.abort()


async def serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    pcap = PcapWriter.open(args.pcap) if args.pcap else None
    try:
        with Tun(args.dev) as tun:
            transport = FaultyTun(tun, args.loss, args.reorder, args.seed, pcap)
            async with aio.Driver(tcpkit.Stack(["192.0.2.2", "2001:db8::2"]), transport) as driver:
                server = await aio.start_server(handle, None, args.port, driver=driver, backlog=256)
                print(f"interop_http.py: serving on {args.dev} port {args.port}", file=sys.stderr, flush=True)
                try:
                    await asyncio.wait_for(stop.wait(), args.seconds)
                except asyncio.TimeoutError:
                    pass
                server.close()
            print(
                f"interop: dropped in {transport.dropped[0]} out {transport.dropped[1]}, "
                f"reordered in {transport.reordered[0]} out {transport.reordered[1]}",
                file=sys.stderr,
            )
    finally:
        if pcap is not None:
            pcap.close()
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dev", default="tk0")
    s.add_argument("--port", type=int, default=80)
    s.add_argument("--seconds", type=float, default=600)
    s.add_argument("--loss", type=float, default=0.0)
    s.add_argument("--reorder", type=float, default=0.0)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--pcap")
    s.add_argument("--abort-after", type=int, default=0)
    g = sub.add_parser("gen")
    g.add_argument("n", type=int)
    args = p.parse_args()
    global ABORT_AFTER
    if args.cmd == "gen":
        sys.stdout.buffer.write(body(args.n))
        return 0
    ABORT_AFTER = args.abort_after
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
