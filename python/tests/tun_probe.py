"""Run inside a network namespace by test_tun.py: checks tcpkit.tun.Tun both ways.

The namespace has tk0 (persistent TUN) with 192.0.2.1/24 for the kernel.
1. kernel -> Tun: a UDP datagram sent by a kernel socket to 192.0.2.2 is read
   from the Tun as a whole IPv4 packet.
2. Tun -> kernel: an IPv4/UDP packet written to the Tun from 192.0.2.2 reaches
   a kernel socket bound on 192.0.2.1.
"""

import select
import socket
import struct
import sys
import time

from tcpkit.tun import Tun

from netsim import checksum


def udp_packet(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = checksum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 7, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + udp


def main() -> int:
    with Tun("tk0") as tun:
        assert tun.name == "tk0", tun.name
        t0 = time.monotonic()
        tun.read_many()  # non-blocking: returns at once, whatever is waiting
        assert time.monotonic() - t0 < 0.5
        # 1. kernel -> Tun
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.monotonic() + 10
        got = None
        while time.monotonic() < deadline and got is None:
            # Resent until seen: the kernel drops packets until it has
            # noticed the carrier that opening the device brought up.
            s.sendto(b"to-tun", ("192.0.2.2", 9999))
            select.select([tun], [], [], 0.2)
            for p in tun.read_many():
                if p[0] >> 4 == 4 and p[9] == 17 and p.endswith(b"to-tun"):
                    got = p
        assert got is not None, "no packet from the kernel"
        assert got[16:20] == socket.inet_aton("192.0.2.2")
        # 2. Tun -> kernel
        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        r.bind(("192.0.2.1", 7777))
        r.settimeout(5)
        assert tun.write(udp_packet(socket.inet_aton("192.0.2.2"), socket.inet_aton("192.0.2.1"), 5555, 7777, b"from-tun"))
        data, addr = r.recvfrom(100)
        assert data == b"from-tun" and addr == ("192.0.2.2", 5555), (data, addr)
    assert tun.closed
    print("tun ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
