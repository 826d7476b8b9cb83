"""tcpkit: an embeddable, sans-I/O TCP/IP stack.

The host program owns packet I/O and the clock: it feeds each received IP
packet to a :class:`Stack` (:meth:`Stack.feed`), and pulls from it the packets
to send (:meth:`Stack.transmit`), the events that happened
(:meth:`Stack.events`) and the next deadline (:meth:`Stack.next_timeout`).

Times are float seconds of a monotonic clock; when omitted, ``now`` is
``time.monotonic()``. Inside, the stack counts integer microseconds: a time
``t`` is ``floor(t * 1e6 + 0.5)`` microseconds (:func:`to_micros`).

Errors map from the C ABI's result codes like this (see ``README.md``):
malformed packet or bad checksum -> :class:`PacketError`; not for us ->
``feed`` returns False; would-block -> ``None`` from ``poll_*``/``recv``/
``accept``/``recv_from``, ``BlockingIOError`` from ``send``; refused, reset,
timed out -> ``ConnectionRefusedError``, ``ConnectionResetError``,
``TimeoutError``; invalid argument -> ``ValueError``; anything else (stale or
closed handle, invalid state, closed, address in use, no ports, limit, address
not available) -> :class:`Error`, whose ``code`` is the C result code.
"""

from __future__ import annotations

import ipaddress
import math
import os
import time
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple, Union

from . import _native
from ._errors import RESULT_NAMES, Error, PacketError
from ._types import Address, Congestion, ConnInfo, Event, EventKind, Option, State

__version__: str = _native.__version__

__all__ = [
    "__version__",
    "Stack",
    "Connection",
    "Listener",
    "Udp",
    "Event",
    "EventKind",
    "State",
    "Congestion",
    "Option",
    "ConnInfo",
    "Error",
    "PacketError",
    "RESULT_NAMES",
    "CONFIG_DEFAULTS",
    "to_micros",
    "from_micros",
]

#: Bytes-like objects accepted wherever a packet or data is passed.
Buffer = Union[bytes, bytearray, memoryview]

#: The ``tcpkit_config`` fields and their defaults; ``Stack(**config)`` takes these keys.
CONFIG_DEFAULTS: Dict[str, Any] = _native.config_default()

_monotonic = time.monotonic

_REASONS = {
    111: ConnectionRefusedError,
    112: ConnectionResetError,
    113: TimeoutError,
}


def to_micros(now: Optional[float]) -> int:
    """Convert float seconds (None: ``time.monotonic()``) to the stack's integer microseconds.

    Rounds to the nearest microsecond (halves up), as the native layer does
    with every ``now``. Raises ValueError for a negative, infinite or NaN time.
    """
    if now is None:
        now = _monotonic()
    try:
        us = math.floor(now * 1_000_000 + 0.5)
    except (OverflowError, ValueError):
        raise ValueError(f"time must be a finite number of seconds, got {now!r}") from None
    if not 0 <= us < 1 << 64:
        raise ValueError(f"time must be non-negative and below 2**64 microseconds, got {now!r}")
    return us


def from_micros(us: int) -> float:
    """Convert integer microseconds to float seconds, rounding up.

    The result ``t`` satisfies ``to_micros(t) >= us``, so a deadline converted
    to seconds and back is never early by a microsecond.
    """
    t = us / 1_000_000
    while to_micros(t) < us:
        t = math.nextafter(t, math.inf)
    return t


def _host(address: str) -> str:
    """Validate and normalise an IP address literal (ValueError when it is not one)."""
    if not isinstance(address, str):
        raise TypeError(f"address must be a str, got {type(address).__name__}")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        raise ValueError(f"not an IP address literal: {address!r}") from None


def _endpoint(addr: Any) -> Tuple[str, int]:
    """Validate a ``(host, port)`` tuple (IPv6 4-tuples are accepted, flow info ignored)."""
    try:
        host, port = addr[0], addr[1]
    except (TypeError, IndexError, KeyError):
        raise ValueError(f"expected a (host, port) tuple, got {addr!r}") from None
    if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise ValueError(f"port must be an int in 0..65535, got {port!r}")
    return _host(host), port


def _option_code(name: Union[str, int]) -> int:
    """An option name (``"nodelay"``), :class:`Option` member or int -> its C value."""
    if isinstance(name, str):
        try:
            return int(Option[name.upper()])
        except KeyError:
            raise ValueError(f"unknown option {name!r}") from None
    return int(Option(name))


class Stack:
    """A TCP/IP stack with no I/O of its own.

    ``addresses`` are the IP addresses the stack answers for (IPv4 and/or
    IPv6 literals; the first of each family is the source for ``connect``).
    Keyword arguments set ``tcpkit_config`` fields (see
    :data:`CONFIG_DEFAULTS`); an absent or all-zero ``isn_secret`` is filled
    from ``os.urandom(32)``. Unknown keys raise TypeError, bad values
    ValueError.

    The loop: call :meth:`feed` for each received packet,
    :meth:`handle_timeout` when :meth:`next_timeout` has come, commands
    whenever; after any of them drain :meth:`transmit` and :meth:`events`.
    A stack is used by one thread at a time.
    """

    __slots__ = ("_native", "_udps", "__weakref__")

    def __init__(self, addresses: Iterable[str] = (), **config: Any) -> None:
        if isinstance(addresses, str):
            addresses = [addresses]
        unknown = set(config) - set(CONFIG_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown config keys: {', '.join(sorted(unknown))}")
        secret = config.get("isn_secret")
        if secret is None or (isinstance(secret, (bytes, bytearray, memoryview)) and not any(bytes(secret))):
            config["isn_secret"] = os.urandom(32)
        self._native = _native.Stack([_host(a) for a in addresses], config)
        self._udps: Set[int] = set()

    def add_address(self, address: str) -> None:
        """Add an IP address the stack answers for."""
        self._native.add_address(_host(address))

    # -- input ------------------------------------------------------------
    def feed(self, packet: Buffer, now: Optional[float] = None) -> bool:
        """Feed one received IP packet.

        Returns True when it was for this stack (whatever TCP did with it),
        False when it was addressed elsewhere (counted, dropped). Raises
        :class:`PacketError` for a malformed packet or a bad checksum.
        """
        return self._native.feed(packet, _monotonic() if now is None else now)

    def feed_many(self, packets: Iterable[Buffer], now: Optional[float] = None) -> int:
        """Feed several packets at one time; returns how many were for us.

        Packets that are malformed or have a bad checksum are counted and
        dropped without raising (see :attr:`counters`), so one bad packet
        does not lose the rest of the batch.
        """
        return self._native.feed_many(packets, _monotonic() if now is None else now)

    def handle_timeout(self, now: Optional[float] = None) -> None:
        """Run the timers due at ``now``; safe to call early or spuriously."""
        self._native.handle_timeout(_monotonic() if now is None else now)

    # -- output -----------------------------------------------------------
    def poll_transmit(self, now: Optional[float] = None) -> Optional[bytes]:
        """The next IP packet to send, or None when there is nothing to send."""
        return self._native.poll_transmit(_monotonic() if now is None else now)

    def transmit(self, now: Optional[float] = None) -> List[bytes]:
        """Every IP packet there is to send now (drains :meth:`poll_transmit`)."""
        return self._native.transmit(_monotonic() if now is None else now)

    def poll_event(self) -> Optional[Event]:
        """The next :class:`Event`, or None when there is none."""
        raw = self._native.poll_event()
        if raw is None:
            return None
        return self._event(raw)

    def events(self) -> List[Event]:
        """Every pending event (drains :meth:`poll_event`)."""
        return [self._event(raw) for raw in self._native.events()]

    def _event(self, raw: Tuple[int, int, int, int]) -> Event:
        kind, handle, reason, user_data = raw
        exc_type = _REASONS.get(reason)
        exc = exc_type(RESULT_NAMES.get(reason, str(reason))) if exc_type else None
        k = EventKind(kind)
        if k is EventKind.ACCEPTABLE:
            return Event(k, listener=Listener(self, handle), user_data=user_data)
        if handle in self._udps:
            return Event(k, udp=Udp(self, handle), reason=exc, user_data=user_data)
        return Event(k, conn=Connection(self, handle), reason=exc, user_data=user_data)

    def next_timeout(self) -> Optional[float]:
        """The absolute time (caller's clock, seconds) at which to call
        :meth:`handle_timeout`, or None when no timer is armed. Rounded up:
        ``handle_timeout(next_timeout())`` always runs the due timer."""
        us = self._native.next_timeout_us()
        return None if us is None else from_micros(us)

    @property
    def counters(self) -> Dict[str, int]:
        """Stack-wide counters (``tcpkit_counters`` fields), a fresh dict."""
        return self._native.counters()

    # -- commands ---------------------------------------------------------
    def listen(self, port: int, address: Optional[str] = None, backlog: int = 128) -> "Listener":
        """Listen on ``port``. ``address`` None: every IPv4 and IPv6 address;
        ``"0.0.0.0"``: every IPv4 address; else that address only. A backlog
        above the stack's maximum is clamped."""
        if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise ValueError(f"port must be an int in 0..65535, got {port!r}")
        if not isinstance(backlog, int) or backlog < 0:
            raise ValueError(f"backlog must be a non-negative int, got {backlog!r}")
        host = None if address is None else _host(address)
        return Listener(self, self._native.listen(host, port, min(backlog, 0xFFFFFFFF)))

    def connect(
        self,
        address: Tuple[str, int],
        local_address: Optional[str] = None,
        local_port: int = 0,
        now: Optional[float] = None,
    ) -> "Connection":
        """Open a connection to ``(host, port)``; returns at once (SYN-SENT).

        The source is the first-added address of the remote's family unless
        ``local_address`` names one; ``local_port`` 0 picks an ephemeral port.
        Data sent before the handshake completes is queued. CONNECTED or
        CLOSED (with a reason) tells how it went.
        """
        host, port = _endpoint(address)
        if not isinstance(local_port, int) or not 0 <= local_port <= 0xFFFF:
            raise ValueError(f"local_port must be an int in 0..65535, got {local_port!r}")
        now_s = _monotonic() if now is None else now
        if local_address is None:
            handle = self._native.connect(now_s, host, port, local_port)
        else:
            handle = self._native.connect_from(now_s, _host(local_address), local_port, host, port)
        return Connection(self, handle)

    def udp_bind(self, address: Tuple[str, int]) -> "Udp":
        """Bind a UDP socket to ``(host, port)`` (host ``"0.0.0.0"``/``"::"``: any)."""
        host, port = _endpoint(address)
        handle = self._native.udp_bind(host, port)
        self._udps.add(handle)
        return Udp(self, handle)

    def __repr__(self) -> str:
        return f"<tcpkit.Stack at {id(self):#x}>"


class _Handle:
    """Common part of Connection, Listener and Udp: a handle of one stack."""

    __slots__ = ("_stack", "_handle")

    def __init__(self, stack: Stack, handle: int) -> None:
        self._stack = stack
        self._handle = handle

    @property
    def stack(self) -> Stack:
        """The stack this handle belongs to."""
        return self._stack

    @property
    def handle(self) -> int:
        """The raw 64-bit handle (the C ABI's value)."""
        return self._handle

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Handle) or type(other) is not type(self):
            return NotImplemented
        return self._stack is other._stack and self._handle == other._handle

    def __hash__(self) -> int:
        return hash((type(self).__name__, id(self._stack), self._handle))

    def __repr__(self) -> str:
        return f"<tcpkit.{type(self).__name__} {self._handle:#x}>"


class Connection(_Handle):
    """A TCP connection of a :class:`Stack`.

    Dropping the object never closes the connection: :meth:`close` does.
    Two objects naming the same handle of the same stack are equal.
    """

    __slots__ = ()

    def send(self, data: Buffer) -> int:
        """Queue bytes to send; returns how many were taken (>= 1 for
        non-empty data). Raises BlockingIOError when the send buffer is full
        (WRITABLE tells when there is room), :class:`Error` after
        :meth:`shutdown`, ConnectionResetError etc. when the connection failed."""
        return self._stack._native.send(self._handle, data)

    def recv(self, max_bytes: int = 65536) -> Optional[bytes]:
        """Read up to ``max_bytes`` received bytes: None when nothing is there
        yet, ``b""`` at end of stream (the peer's FIN)."""
        if not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
        return self._stack._native.recv(self._handle, max_bytes)

    def shutdown(self) -> None:
        """Send FIN after the queued data (half-close); reading goes on."""
        self._stack._native.shutdown(self._handle)

    def close(self) -> None:
        """Close and release the handle; the stack finishes the FIN exchange
        on its own. With unread received data it resets (RFC 2525). On a
        connection that has already ended, only releases the handle."""
        self._stack._native.close(self._handle)

    def abort(self) -> None:
        """Reset the connection (RST if synchronized) and release the handle."""
        self._stack._native.abort(self._handle)

    @property
    def state(self) -> State:
        """The TCP state (:class:`State`)."""
        return State(self._stack._native.state(self._handle))

    @property
    def info(self) -> ConnInfo:
        """A :class:`ConnInfo` snapshot."""
        d = self._stack._native.info(self._handle)
        d["state"] = State(d["state"])
        return ConnInfo(**d)

    @property
    def local(self) -> Address:
        """Local ``(host, port)``."""
        return self._stack._native.local(self._handle)

    @property
    def remote(self) -> Address:
        """Remote ``(host, port)``."""
        return self._stack._native.remote(self._handle)

    def set_option(self, name: Union[str, int, Option], value: int) -> None:
        """Set an :class:`Option` (by member, C value, or lower-case name);
        ``True``/``False`` count as 1/0."""
        self._stack._native.set_option(self._handle, _option_code(name), int(value))

    def get_option(self, name: Union[str, int, Option]) -> int:
        """Read an :class:`Option`'s value."""
        return self._stack._native.get_option(self._handle, _option_code(name))

    @property
    def nodelay(self) -> bool:
        """Nagle's algorithm off (True) or on (False)."""
        return bool(self.get_option(Option.NODELAY))

    @nodelay.setter
    def nodelay(self, value: bool) -> None:
        self.set_option(Option.NODELAY, 1 if value else 0)


class Listener(_Handle):
    """A listening socket of a :class:`Stack`; ACCEPTABLE events name it."""

    __slots__ = ()

    def accept(self) -> Optional[Connection]:
        """The next established connection, or None when none is waiting."""
        h = self._stack._native.accept(self._handle)
        return None if h is None else Connection(self._stack, h)

    def close(self) -> None:
        """Stop listening; connections still waiting to be accepted are refused."""
        self._stack._native.listener_close(self._handle)


class Udp(_Handle):
    """A UDP socket of a :class:`Stack`."""

    __slots__ = ()

    def send_to(self, data: Buffer, address: Tuple[str, int], now: Optional[float] = None) -> None:
        """Send one datagram to ``(host, port)``."""
        host, port = _endpoint(address)
        self._stack._native.udp_send_to(_monotonic() if now is None else now, self._handle, data, host, port)

    def recv_from(self, max_bytes: int = 65536) -> Optional[Tuple[bytes, Address]]:
        """The next datagram and its sender, or None when none is waiting."""
        if not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
        return self._stack._native.udp_recv_from(self._handle, max_bytes)

    def close(self) -> None:
        """Close the socket and release the handle."""
        self._stack._native.udp_close(self._handle)
        self._stack._udps.discard(self._handle)
