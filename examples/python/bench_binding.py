#!/usr/bin/env python3
"""Cost of the Python binding: per-call overhead and a bulk transfer through Python.

Figures, not a test. Build the extension in release mode for meaningful
numbers (``TCPKIT_PY_PROFILE=release bash python/tests/run.sh`` or
``pip install ./python``). Prints the median of several runs.

    python3 examples/python/bench_binding.py [--mbytes 50]
"""

from __future__ import annotations

import argparse
import statistics
import struct
import time

import tcpkit

A, B = "192.0.2.1", "192.0.2.2"


def not_for_us_packet() -> bytes:
    # IPv4 header to 198.51.100.1 (not ours) + 20 zero bytes of TCP.
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes([192, 0, 2, 1]), bytes([198, 51, 100, 1]))
    s = sum(struct.unpack("!10H", ip))
    s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xFFFF) + ip[12:]
    return ip + bytes(20)


def per_call(n: int = 200_000) -> dict[str, float]:
    s = tcpkit.Stack([B])
    pkt = not_for_us_packet()
    out = {}
    t = time.perf_counter()
    for _ in range(n):
        s.feed(pkt, 1.0)
    out["feed (ns/call)"] = (time.perf_counter() - t) / n * 1e9
    batch = [pkt] * 64
    t = time.perf_counter()
    for _ in range(n // 64):
        s.feed_many(batch, 1.0)
    out["feed_many x64 (ns/packet)"] = (time.perf_counter() - t) / (n // 64 * 64) * 1e9
    t = time.perf_counter()
    for _ in range(n):
        s.poll_event()
    out["poll_event empty (ns/call)"] = (time.perf_counter() - t) / n * 1e9
    t = time.perf_counter()
    for _ in range(n):
        s.transmit(1.0)
    out["transmit empty (ns/call)"] = (time.perf_counter() - t) / n * 1e9
    return out


def transfer(nbytes: int) -> float:
    """Goodput (MB/s, wall clock) of one connection, no loss, zero delay, virtual time."""
    client, server = tcpkit.Stack([A]), tcpkit.Stack([B])
    lst = server.listen(80)
    now = 1.0
    c = client.connect((B, 80), now=now)
    srv = None
    chunk = bytes(65536)
    sent = got = 0
    t0 = time.perf_counter()
    while got < nbytes:
        while sent < nbytes:
            try:
                sent += c.send(chunk if nbytes - sent >= len(chunk) else chunk[: nbytes - sent])
            except BlockingIOError:
                break
        server.feed_many(client.transmit(now), now)
        client.feed_many(server.transmit(now), now)
        if srv is None:
            srv = lst.accept()
        if srv is not None:
            while (d := srv.recv(1 << 20)) is not None and d:
                got += len(d)
        client.events()
        server.events()
        now += 0.0001
        for st in (client, server):
            t = st.next_timeout()
            if t is not None and t <= now:
                st.handle_timeout(now)
    return nbytes / (time.perf_counter() - t0) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mbytes", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    runs = [per_call() for _ in range(args.runs)]
    for k in runs[0]:
        print(f"{k:32s} {statistics.median(r[k] for r in runs):10.0f}")
    goodput = statistics.median(transfer(args.mbytes * 1_000_000) for _ in range(args.runs))
    print(f"{'bulk transfer via Python (MB/s)':32s} {goodput:10.1f}")


if __name__ == "__main__":
    main()
