"""Enumerations and small value objects of the tcpkit Python API."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover
    from . import Connection, Listener, Udp

__all__ = ["EventKind", "State", "Congestion", "Option", "Event", "ConnInfo", "Address"]

#: An endpoint as Python's socket module spells it: ``(host, port)``.
Address = Tuple[str, int]


class EventKind(enum.IntEnum):
    """What an :class:`Event` reports (values = ``TCPKIT_EVENT_*``)."""

    CONNECTED = 1
    ACCEPTABLE = 2
    READABLE = 3
    WRITABLE = 4
    PEER_CLOSED = 5
    CLOSED = 6


class State(enum.IntEnum):
    """TCP connection state, RFC 9293 (values = ``TCPKIT_STATE_*``)."""

    CLOSED = 0
    LISTEN = 1
    SYN_SENT = 2
    SYN_RECEIVED = 3
    ESTABLISHED = 4
    FIN_WAIT_1 = 5
    FIN_WAIT_2 = 6
    CLOSE_WAIT = 7
    CLOSING = 8
    LAST_ACK = 9
    TIME_WAIT = 10


class Congestion(enum.IntEnum):
    """Congestion control algorithm (values = ``TCPKIT_CC_*``)."""

    NEWRENO = 1
    CUBIC = 2


class Option(enum.IntEnum):
    """Per-connection options for :meth:`Connection.set_option` (values = ``TCPKIT_OPT_*``).

    :meth:`Connection.set_option` also accepts the lower-case names
    (``"nodelay"``, ``"keepalive_idle_us"``, ...).
    """

    NODELAY = 1
    KEEPALIVE_IDLE_US = 2
    KEEPALIVE_INTERVAL_US = 3
    KEEPALIVE_COUNT = 4
    USER_TIMEOUT_US = 5
    SEND_BUFFER = 6
    RECV_BUFFER = 7
    CONGESTION = 8
    USER_DATA = 9


@dataclass(frozen=True)
class Event:
    """One event from :meth:`Stack.poll_event` (frozen).

    ``kind`` says what happened; ``conn`` is the connection it concerns (None
    for ACCEPTABLE); ``listener`` the listener with a connection to accept
    (only for ACCEPTABLE); ``reason`` is None, or for a CLOSED connection that
    did not end in order, an exception instance (ConnectionRefusedError,
    ConnectionResetError or TimeoutError); ``user_data`` is the value set with
    ``Option.USER_DATA`` (0 when unset).
    """

    kind: EventKind
    conn: Optional["Connection"] = None
    listener: Optional["Listener"] = None
    reason: Optional[BaseException] = None
    user_data: int = 0
    udp: Optional["Udp"] = None


@dataclass(frozen=True)
class ConnInfo:
    """A snapshot of a connection's state and statistics (``tcpkit_conn_info``).

    Times are in microseconds, windows and byte counts in bytes.
    """

    state: State
    local: Address
    remote: Address
    mss: int
    srtt_us: int
    rttvar_us: int
    rto_us: int
    cwnd: int
    ssthresh: int
    snd_wnd: int
    rcv_wnd: int
    bytes_sent: int
    bytes_acked: int
    bytes_received: int
    bytes_unsent: int
    bytes_unacked: int
    bytes_readable: int
    segs_sent: int
    segs_received: int
    segs_retransmitted: int
    timeouts: int
    sack_recoveries: int


AddressLike = Union[Address, Tuple[str, int, int, int]]
