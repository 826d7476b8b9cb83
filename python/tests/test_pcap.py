"""tcpkit.pcap: files readable by tshark, and a Recorder wrapping a stack."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import tcpkit
import tcpkit.pcap as pcap
from netsim import A_ADDR, B_ADDR, SYN, Net, ipv4_tcp

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed (make setup installs it)")


def tshark_fields(path: Path, *fields: str) -> list[list[str]]:
    assert TSHARK is not None
    args = [TSHARK, "-r", str(path), "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def test_writer_header_and_records(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    pkt = ipv4_tcp(A_ADDR, B_ADDR, 40000, 80, SYN)
    with pcap.PcapWriter.open(str(path)) as w:
        w.write(pkt, 12.25)
        w.write(bytearray(pkt), 13.0)
    raw = path.read_bytes()
    magic, major, minor, _, _, _, link = struct.unpack("<IHHiIII", raw[:24])
    assert (magic, major, minor, link) == (0xA1B2C3D4, 2, 4, pcap.LINKTYPE_RAW)
    sec, usec, incl, orig = struct.unpack("<IIII", raw[24:40])
    assert (sec, usec, incl, orig) == (12, 250000, len(pkt), len(pkt))
    assert pcap.read_pcap(str(path)) == [pkt, pkt]


@needs_tshark
def test_tshark_reads_a_handmade_packet(tmp_path: Path) -> None:
    path = tmp_path / "syn.pcap"
    with pcap.PcapWriter.open(str(path)) as w:
        w.write(ipv4_tcp(A_ADDR, B_ADDR, 40000, 80, SYN, seq=7), 1.0)
    rows = tshark_fields(path, "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.flags.syn")
    assert rows == [[A_ADDR, B_ADDR, "40000", "80", "True"]] or rows == [[A_ADDR, B_ADDR, "40000", "80", "1"]]


@needs_tshark
def test_recorded_session_reads_back_with_tshark(tmp_path: Path) -> None:
    path = tmp_path / "session.pcap"
    with pcap.PcapWriter.open(str(path)) as w:
        net = Net(a=pcap.Recorder(tcpkit.Stack([A_ADDR]), w), b=tcpkit.Stack([B_ADDR]))  # type: ignore[arg-type]
        lst = net.b.listen(80)
        client = net.a.connect((B_ADDR, 80), now=net.now)
        assert net.run(lambda: tcpkit.EventKind.ACCEPTABLE in net.kinds(net.b), limit=10)
        server = lst.accept()
        assert server is not None
        client.send(b"hello over pcap")
        assert net.run(lambda: tcpkit.EventKind.READABLE in net.kinds(net.b), limit=10)
        assert server.recv() == b"hello over pcap"
        client.close()
        server.close()
        net.run(lambda: False, limit=2)
    rows = tshark_fields(path, "ip.src", "tcp.flags.syn", "tcp.flags.fin", "tcp.payload", "tcp.checksum.status")
    assert len(rows) == len(pcap.read_pcap(str(path))) >= 5
    srcs = {r[0] for r in rows}
    assert srcs == {A_ADDR, B_ADDR}  # both directions were recorded
    assert any(r[1] in ("1", "True") for r in rows)
    assert any(r[2] in ("1", "True") for r in rows)
    assert any(r[3] == b"hello over pcap".hex() or r[3] == b"hello over pcap".hex(":") for r in rows)


def test_recorder_writes_fed_and_sent_packets_in_order(tmp_path: Path) -> None:
    path = tmp_path / "r.pcap"
    syns = [ipv4_tcp(A_ADDR, B_ADDR, 40000 + i, 81, SYN) for i in range(3)]
    with pcap.PcapWriter.open(str(path)) as w:
        rec = pcap.Recorder(tcpkit.Stack([B_ADDR]), w)
        assert rec.feed_many(syns, now=5.0) == 3
        first = rec.poll_transmit(now=5.5)
        rest = rec.transmit(now=6.0)
        assert rec.poll_transmit(now=6.0) is None
        assert rec.counters["packets_in"] == 3  # other attributes are the stack's
    packets = pcap.read_pcap(str(path))
    assert first is not None and len(rest) == 2
    assert packets == syns + [first] + rest
    raw = path.read_bytes()
    assert struct.unpack("<II", raw[24:32]) == (5, 0)  # the `now` given is the timestamp
