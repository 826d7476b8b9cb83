#!/usr/bin/env python3
"""Two tcpkit stacks transfer data over an in-memory link with seeded loss.

Everything runs on a virtual clock (no sleeping, no root, no network): the
loop jumps from one packet arrival or stack deadline to the next. Prints
progress and, at the end, the stacks' counters and the sender's ConnInfo.

    python3 examples/python/memory_pair.py --bytes 2000000 --loss 0.02 --seed 7
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import random
import sys

import tcpkit

A, B = "192.0.2.1", "192.0.2.2"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bytes", type=int, default=1_000_000, help="bytes to transfer")
    ap.add_argument("--loss", type=float, default=0.02, help="share of packets lost, each direction")
    ap.add_argument("--seed", type=int, default=1, help="seed of the loss")
    ap.add_argument("--delay", type=float, default=0.010, help="one-way delay, seconds")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    client = tcpkit.Stack([A])
    server = tcpkit.Stack([B])
    peer = {id(client): server, id(server): client}
    wire: list[tuple[float, int, int, bytes]] = []  # (arrival, seq, dest id, packet)
    stacks = {id(client): client, id(server): server}
    now, seq, sent_pkts, lost = 0.0, 0, 0, 0

    data = random.Random(args.seed + 1).randbytes(args.bytes)
    listener = server.listen(80)
    conn = client.connect((B, 80), now=now)
    accepted: tcpkit.Connection | None = None
    received = bytearray()
    offset = 0
    done = False
    next_report = 0

    def pump() -> None:
        nonlocal seq, sent_pkts, lost, accepted, offset, done
        moved = True
        while moved:
            moved = False
            for s in (client, server):
                for p in s.transmit(now):
                    moved = True
                    sent_pkts += 1
                    if rng.random() < args.loss:
                        lost += 1
                        continue
                    seq += 1
                    heapq.heappush(wire, (now + args.delay, seq, id(peer[id(s)]), p))
                for ev in s.events():
                    moved = True
                    if ev.kind is tcpkit.EventKind.ACCEPTABLE:
                        accepted = listener.accept()
                    elif ev.kind is tcpkit.EventKind.CLOSED and ev.reason is not None:
                        raise SystemExit(f"connection failed: {ev.reason!r}")
                    elif ev.conn == accepted and ev.kind in (tcpkit.EventKind.READABLE, tcpkit.EventKind.PEER_CLOSED):
                        while (chunk := accepted.recv()) is not None:  # type: ignore[union-attr]
                            if chunk == b"":
                                done = True
                                break
                            received.extend(chunk)
            # The client writes as long as the stack takes data.
            while offset < len(data):
                try:
                    offset += conn.send(memoryview(data)[offset : offset + 65536])
                    moved = True
                except BlockingIOError:
                    break
                if offset == len(data):
                    conn.shutdown()

    pump()
    while not done:
        deadlines = [t for t in (client.next_timeout(), server.next_timeout()) if t is not None]
        if wire:
            deadlines.append(wire[0][0])
        if not deadlines:
            print("stalled: nothing in flight and no timer", file=sys.stderr)
            return 1
        now = max(now, min(deadlines))
        while wire and wire[0][0] <= now:
            _, _, dst, p = heapq.heappop(wire)
            stacks[dst].feed(p, now)
        for s in (client, server):
            t = s.next_timeout()
            if t is not None and t <= now:
                s.handle_timeout(now)
        pump()
        if len(received) >= next_report:
            print(f"t={now:8.3f}s  received {len(received):>10} / {len(data)} bytes")
            next_report += max(len(data) // 10, 1)

    ok = hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
    info = conn.info
    print(f"done at t={now:.3f}s (virtual): {len(received)} bytes, sha256 {'matches' if ok else 'DIFFERS'}")
    print(f"packets sent {sent_pkts}, lost {lost} ({lost / max(sent_pkts, 1):.1%})")
    print(
        f"sender: segs_sent={info.segs_sent} retransmitted={info.segs_retransmitted} "
        f"timeouts={info.timeouts} srtt={info.srtt_us}us cwnd={info.cwnd}"
    )
    print("client counters:", {k: v for k, v in client.counters.items() if v})
    print("server counters:", {k: v for k, v in server.counters.items() if v})
    conn.close()
    if accepted is not None:
        accepted.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
