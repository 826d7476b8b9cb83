#!/usr/bin/env python3
"""Record a short tcpkit session (connect, request, reply, close) to a pcap file.

    python3 examples/python/pcap_session.py session.pcap && tshark -r session.pcap

Two stacks talk over an in-memory link on a virtual clock; the client stack is
wrapped in tcpkit.pcap.Recorder, so every packet it sends or receives is
written (LINKTYPE_RAW, timestamps = the virtual clock).
"""

from __future__ import annotations

import sys

import tcpkit
import tcpkit.pcap

A, B = "192.0.2.1", "192.0.2.2"


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "session.pcap"
    writer = tcpkit.pcap.PcapWriter.open(path)
    client = tcpkit.pcap.Recorder(tcpkit.Stack([A]), writer)
    server = tcpkit.Stack([B])
    listener = server.listen(80)
    now = 1.0
    conn = client.connect((B, 80), now=now)
    conn.send(b"GET / HTTP/1.0\r\n\r\n")
    reply = b"HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\nhello"
    got = bytearray()
    srv: tcpkit.Connection | None = None
    for _ in range(200):
        now += 0.001
        # Packets take one step to cross: feed what each side sent last step.
        for p in client.transmit(now):
            server.feed(p, now)
        for p in server.transmit(now):
            client.feed(p, now)
        for ev in server.events():
            if ev.kind is tcpkit.EventKind.ACCEPTABLE:
                srv = listener.accept()
            elif ev.conn is not None and ev.conn == srv and ev.kind is tcpkit.EventKind.READABLE:
                if srv.recv():
                    srv.send(reply)
                    srv.shutdown()
        for ev in client.events():
            if ev.kind in (tcpkit.EventKind.READABLE, tcpkit.EventKind.PEER_CLOSED):
                while (chunk := conn.recv()) not in (None, b""):
                    got.extend(chunk)  # type: ignore[arg-type]
                if ev.kind is tcpkit.EventKind.PEER_CLOSED:
                    conn.close()
        for s in (client, server):
            t = s.next_timeout()
            if t is not None and t <= now:
                s.handle_timeout(now)
        if bytes(got) == reply and srv is not None and srv.state in (tcpkit.State.CLOSED, tcpkit.State.LAST_ACK):
            break
    for _ in range(5):  # let the last ACKs cross
        now += 0.001
        for p in client.transmit(now):
            server.feed(p, now)
        for p in server.transmit(now):
            client.feed(p, now)
    writer.close()
    print(f"client got {bytes(got)!r}")
    print(f"wrote {len(tcpkit.pcap.read_pcap(path))} packets to {path}; try: tshark -r {path}")
    return 0 if bytes(got) == reply else 1


if __name__ == "__main__":
    sys.exit(main())
