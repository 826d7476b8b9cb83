#!/usr/bin/env python3
"""Bulk goodput through the Python binding, batched API (``Stack.transmit`` /
``Stack.feed_many``): the same transfer as the Rust harness
(core/benches/compare, "goodput MTU 1500"): two stacks in one thread, packets
handed over directly, virtual time that jumps to the next deadline only when
nothing else can happen, 256 KiB buffers, the same 64 KiB pattern, thread CPU
time. Prints ``python_goodput_gbps <median>``.

    python3 python/benches/bulk.py [MTU] [MEGABYTES] [RUNS]
"""
from __future__ import annotations

import statistics
import sys
import time

import tcpkit

A, B = "192.0.2.1", "192.0.2.2"


def pattern(n: int) -> bytes:
    return bytes(((i * 2654435761) & 0xFFFFFFFF) >> 13 & 0xFF for i in range(n))


def run(mtu: int, nbytes: int, app: bytes) -> float:
    cfg = dict(mtu=mtu, send_buffer=256 * 1024, recv_buffer=256 * 1024)
    a = tcpkit.Stack([A], isn_secret=bytes([1]) * 32, **cfg)
    b = tcpkit.Stack([B], isn_secret=bytes([2]) * 32, **cfg)
    lst = b.listen(80)
    now = 1.0
    c = a.connect((B, 80), now=now)
    view = memoryview(app)

    def move() -> int:
        n = 0
        while True:
            pa = a.transmit(now)
            if pa:
                b.feed_many(pa, now)
            pb = b.transmit(now)
            if pb:
                a.feed_many(pb, now)
            if not pa and not pb:
                return n
            n += len(pa) + len(pb)

    def jump() -> None:
        nonlocal now
        ts = [t for t in (a.next_timeout(), b.next_timeout()) if t is not None]
        if not ts:
            raise RuntimeError("stalled")
        now = max(now, min(ts))
        a.handle_timeout(now)
        b.handle_timeout(now)

    s = None
    while s is None:
        move()
        s = lst.accept()
        if s is None:
            jump()
    sent = got = 0
    t0 = time.thread_time()
    while got < nbytes:
        progress = move() != 0
        while sent < nbytes:
            off = sent % len(app)
            end = min(len(app), off + nbytes - sent)
            try:
                sent += c.send(view[off:end])
                progress = True
            except BlockingIOError:
                break
        progress |= move() != 0
        while True:
            d = s.recv(1 << 16)
            if not d:
                break
            if d[-1] != app[(got + len(d) - 1) % len(app)]:
                raise RuntimeError("wrong data")
            got += len(d)
            progress = True
        a.events()
        b.events()
        if not progress:
            jump()
    return nbytes * 8 / (time.thread_time() - t0) / 1e9


def main() -> None:
    mtu = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    mb = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    app = pattern(64 * 1024)
    run(mtu, mb << 20, app)  # untimed warm-up, as in the Rust harness
    r = [run(mtu, mb << 20, app) for _ in range(runs)]
    print(f"python_goodput_gbps {statistics.median(r):.3f}")


if __name__ == "__main__":
    main()
