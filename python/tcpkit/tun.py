"""A Linux TUN device in pure Python (``/dev/net/tun``, IFF_TUN | IFF_NO_PI).

Each read returns one whole IP packet, each write sends one: exactly what
:meth:`tcpkit.Stack.feed` takes and :meth:`tcpkit.Stack.transmit` gives.

>>> tun = Tun("tk0")            # needs CAP_NET_ADMIN (or a device owned by you)
>>> pkt = tun.read()            # None when nothing is waiting (non-blocking)
>>> tun.write(packet)

Configure the kernel side (address, ``up``) with ``ip``; to keep the root
namespace untouched, do it inside a network namespace.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from types import TracebackType
from typing import List, Optional, Type, Union

__all__ = ["Tun", "TUNSETIFF", "IFF_TUN", "IFF_NO_PI"]

#: ioctl request that attaches the fd to an interface (linux/if_tun.h).
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
_IFNAMSIZ = 16


class Tun:
    """An open TUN device: non-blocking, one IP packet per read/write.

    ``name`` is the interface name (``"tk%d"`` lets the kernel number it;
    the actual name is in :attr:`name`). The device exists while this object
    is open, unless it was created persistent beforehand (``ip tuntap add``).
    """

    def __init__(self, name: str = "tk%d", mtu_hint: int = 65535, path: str = "/dev/net/tun") -> None:
        encoded = name.encode()
        if len(encoded) >= _IFNAMSIZ:
            raise ValueError(f"interface name too long: {name!r}")
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            ifr = struct.pack("16sH22x", encoded, IFF_TUN | IFF_NO_PI)
            res = fcntl.ioctl(fd, TUNSETIFF, ifr)
        except BaseException:
            os.close(fd)
            raise
        self._fd: int = fd
        self.name: str = res[:_IFNAMSIZ].rstrip(b"\0").decode()
        self._bufsize = max(mtu_hint, 1500)

    def fileno(self) -> int:
        """The file descriptor (for select, selectors, asyncio add_reader)."""
        if self._fd < 0:
            raise ValueError("I/O operation on closed Tun")
        return self._fd

    def read(self) -> Optional[bytes]:
        """One packet, or None when none is waiting."""
        try:
            return os.read(self.fileno(), self._bufsize)
        except BlockingIOError:
            return None

    def read_many(self, limit: int = 64) -> List[bytes]:
        """Up to ``limit`` packets that are waiting now (possibly none)."""
        out: List[bytes] = []
        while len(out) < limit:
            p = self.read()
            if p is None:
                break
            out.append(p)
        return out

    def write(self, packet: Union[bytes, bytearray, memoryview]) -> bool:
        """Send one packet; False when the device queue is full (packet dropped,
        as a router would). Other errors (EINVAL for a bad packet) raise OSError."""
        try:
            os.write(self.fileno(), packet)
            return True
        except BlockingIOError:
            return False
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                return False
            raise

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._fd < 0

    def close(self) -> None:
        """Close the device (idempotent)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> "Tun":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)

    def __repr__(self) -> str:
        return f"<tcpkit.tun.Tun {self.name!r}{' closed' if self.closed else ''}>"
