"""Write the packets a stack sees to a pcap file (LINKTYPE_RAW: bare IP packets).

>>> with tcpkit.pcap.PcapWriter.open("session.pcap") as pcap:
...     stack = tcpkit.pcap.Recorder(tcpkit.Stack(["192.0.2.2"]), pcap)
...     stack.feed(packet)          # written to the file, then fed
...     for p in stack.transmit():  # each packet is written as it leaves
...         ...

The file is read by tcpdump, tshark and Wireshark. Timestamps are the ``now``
given to the call (seconds; wall-clock ``time.time()`` when omitted), so a
session on a virtual clock gets virtual timestamps.
"""

from __future__ import annotations

import struct
import time
from types import TracebackType
from typing import IO, Any, Iterable, List, Optional, Type, Union

__all__ = ["LINKTYPE_RAW", "PcapWriter", "Recorder", "read_pcap"]

#: Link type of raw IPv4/IPv6 packets (no link-layer header).
LINKTYPE_RAW = 101

_MAGIC = 0xA1B2C3D4  # microsecond timestamps
_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")

Buffer = Union[bytes, bytearray, memoryview]


class PcapWriter:
    """A pcap (libpcap 2.4) writer for raw IP packets on a binary file object."""

    def __init__(self, file: IO[bytes], snaplen: int = 262144, close_file: bool = False) -> None:
        self._file = file
        self._snaplen = snaplen
        self._close_file = close_file
        file.write(_GLOBAL.pack(_MAGIC, 2, 4, 0, 0, snaplen, LINKTYPE_RAW))

    @classmethod
    def open(cls, path: str, snaplen: int = 262144) -> "PcapWriter":
        """Create (or truncate) the file at ``path`` and write its header."""
        return cls(open(path, "wb"), snaplen=snaplen, close_file=True)  # noqa: SIM115

    def write(self, packet: Buffer, timestamp: Optional[float] = None) -> None:
        """Append one packet; ``timestamp`` in seconds (default ``time.time()``)."""
        if timestamp is None:
            timestamp = time.time()
        data = bytes(packet)
        sec = int(timestamp)
        usec = int(round((timestamp - sec) * 1_000_000))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        cap = data[: self._snaplen]
        self._file.write(_RECORD.pack(sec & 0xFFFFFFFF, usec, len(cap), len(data)))
        self._file.write(cap)

    def flush(self) -> None:
        """Flush the underlying file."""
        self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it."""
        self._file.flush()
        if self._close_file:
            self._file.close()

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class Recorder:
    """Wraps a :class:`tcpkit.Stack` so that every packet fed to it and every
    packet it transmits is also written to a :class:`PcapWriter`.

    Every other attribute is the stack's own, so a Recorder stands in for the
    stack anywhere (``listen``, ``connect``, ``events`` ...). Packets are
    recorded whether or not the stack accepts them.
    """

    def __init__(self, stack: Any, writer: PcapWriter) -> None:
        self.stack = stack
        self.writer = writer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stack, name)

    def feed(self, packet: Buffer, now: Optional[float] = None) -> bool:
        """Record, then feed one packet (see :meth:`tcpkit.Stack.feed`)."""
        self.writer.write(packet, now)
        return bool(self.stack.feed(packet, now))

    def feed_many(self, packets: Iterable[Buffer], now: Optional[float] = None) -> int:
        """Record, then feed several packets (see :meth:`tcpkit.Stack.feed_many`)."""
        packets = list(packets)
        for p in packets:
            self.writer.write(p, now)
        return int(self.stack.feed_many(packets, now))

    def poll_transmit(self, now: Optional[float] = None) -> Optional[bytes]:
        """The next packet to send, recorded (see :meth:`tcpkit.Stack.poll_transmit`)."""
        p: Optional[bytes] = self.stack.poll_transmit(now)
        if p is not None:
            self.writer.write(p, now)
        return p

    def transmit(self, now: Optional[float] = None) -> List[bytes]:
        """Every packet to send, recorded (see :meth:`tcpkit.Stack.transmit`)."""
        packets: List[bytes] = self.stack.transmit(now)
        for p in packets:
            self.writer.write(p, now)
        return packets


def read_pcap(path: str) -> List[bytes]:
    """The packets of a little-endian microsecond pcap file (as this module writes)."""
    out: List[bytes] = []
    with open(path, "rb") as f:
        header = f.read(_GLOBAL.size)
        magic, _, _, _, _, _, linktype = _GLOBAL.unpack(header)
        if magic != _MAGIC or linktype != LINKTYPE_RAW:
            raise ValueError(f"{path}: not a LINKTYPE_RAW pcap written by tcpkit.pcap")
        while True:
            rec = f.read(_RECORD.size)
            if len(rec) < _RECORD.size:
                return out
            _, _, incl, _ = _RECORD.unpack(rec)
            out.append(f.read(incl))
