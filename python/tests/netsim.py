"""Test helpers: hand-made packets and a virtual-clock link between two stacks.

Only test scaffolding: no TCP logic, just bytes on a simulated wire.
"""

from __future__ import annotations

import heapq
import ipaddress
import random
import struct
from typing import Callable, Dict, List, Optional, Tuple

import tcpkit


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum (complemented)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_tcp(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    flags: int,
    seq: int = 1000,
    ack: int = 0,
    payload: bytes = b"",
    window: int = 65535,
) -> bytes:
    """An IPv4 + TCP packet with correct checksums (no options)."""
    s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, window, 0, 0) + payload
    pseudo = s + d + struct.pack("!BBH", 0, 6, len(tcp))
    c = checksum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    total = 20 + len(tcp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def parse_ipv4_tcp(pkt: bytes) -> Dict[str, object]:
    """The fields of an IPv4 TCP packet the tests look at."""
    ihl = (pkt[0] & 0x0F) * 4
    src, dst = str(ipaddress.IPv4Address(pkt[12:16])), str(ipaddress.IPv4Address(pkt[16:20]))
    sport, dport, seq, ack, off, flags, window = struct.unpack("!HHIIBBH", pkt[ihl : ihl + 16])
    return {
        "src": src,
        "dst": dst,
        "proto": pkt[9],
        "sport": sport,
        "dport": dport,
        "seq": seq,
        "ack": ack,
        "flags": flags,
        "window": window,
        "payload": pkt[ihl + (off >> 4) * 4 :],
    }


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

A_ADDR = "192.0.2.1"
B_ADDR = "192.0.2.2"


class Net:
    """Two stacks joined by a link with delay and seeded loss, on a virtual clock.

    ``run(until)`` advances time from event to event (packet arrivals and the
    stacks' own deadlines) until ``until()`` is true or ``limit`` virtual
    seconds passed. Events are collected per stack in ``self.events``.
    """

    def __init__(
        self,
        a: Optional[tcpkit.Stack] = None,
        b: Optional[tcpkit.Stack] = None,
        loss: float = 0.0,
        seed: int = 0,
        delay: float = 0.005,
        **config: object,
    ) -> None:
        self.a = a or tcpkit.Stack([A_ADDR], **config)
        self.b = b or tcpkit.Stack([B_ADDR], **config)
        self.now = 1.0
        self.loss = loss
        self.rng = random.Random(seed)
        self.delay = delay
        self.wire: List[Tuple[float, int, tcpkit.Stack, bytes]] = []
        self._seq = 0
        self.events: Dict[int, List[tcpkit.Event]] = {id(self.a): [], id(self.b): []}
        self.on_event: Optional[Callable[[tcpkit.Stack, tcpkit.Event], None]] = None
        self.sent = 0
        self.dropped = 0
        self.captured: List[bytes] = []

    def peer(self, s: tcpkit.Stack) -> tcpkit.Stack:
        return self.b if s is self.a else self.a

    def pump(self) -> None:
        """Move what both stacks transmit onto the wire and collect events."""
        for _ in range(1000):
            moved = False
            for s in (self.a, self.b):
                for p in s.transmit(self.now):
                    moved = True
                    self.sent += 1
                    self.captured.append(p)
                    if self.loss and self.rng.random() < self.loss:
                        self.dropped += 1
                        continue
                    self._seq += 1
                    heapq.heappush(self.wire, (self.now + self.delay, self._seq, self.peer(s), p))
                for ev in s.events():
                    moved = True
                    self.events[id(s)].append(ev)
                    if self.on_event is not None:
                        self.on_event(s, ev)
            if not moved:
                return

    def step(self) -> bool:
        """Advance to the next thing that happens; False when nothing is left."""
        self.pump()
        times = [t for t in (self.a.next_timeout(), self.b.next_timeout()) if t is not None]
        if self.wire:
            times.append(self.wire[0][0])
        if not times:
            return False
        self.now = max(self.now, min(times))
        while self.wire and self.wire[0][0] <= self.now:
            _, _, dst, p = heapq.heappop(self.wire)
            dst.feed(p, self.now)
        for s in (self.a, self.b):
            t = s.next_timeout()
            if t is not None and t <= self.now:
                s.handle_timeout(self.now)
        self.pump()
        return True

    def run(self, until: Callable[[], bool], limit: float = 120.0) -> bool:
        """Step until ``until()``; False if virtual ``limit`` seconds passed first."""
        end = self.now + limit
        self.pump()
        steps = 0
        while not until():
            steps += 1
            if self.now > end or steps > 200_000 or not self.step():
                return until()
        return True

    def kinds(self, s: tcpkit.Stack) -> List[tcpkit.EventKind]:
        return [e.kind for e in self.events[id(s)]]
