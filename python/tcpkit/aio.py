"""Run a :class:`tcpkit.Stack` on an asyncio event loop, with asyncio streams.

A :class:`Driver` joins a stack to a packet transport (a :class:`TunTransport`
over a TUN device, or one end of an in-memory :class:`MemoryPair` with
optional seeded loss) and keeps the stack's timers on the loop (the loop's
``time()`` is the stack's clock). :func:`open_connection` and
:func:`start_server` then work like :func:`asyncio.open_connection` and
:func:`asyncio.start_server`, returning :class:`asyncio.StreamReader` /
:class:`asyncio.StreamWriter`::

    async def main():
        pair = MemoryPair(loss=0.01, seed=1)
        server_drv = Driver(tcpkit.Stack(["192.0.2.1"]), pair.a)
        client_drv = Driver(tcpkit.Stack(["192.0.2.2"]), pair.b)
        server = await start_server(handle, "192.0.2.1", 80, driver=server_drv)
        reader, writer = await open_connection("192.0.2.1", 80, driver=client_drv)

``driver=`` may be left out: the most recently created Driver is used.
"""

from __future__ import annotations

import asyncio
import random
from types import TracebackType
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Type, Union

from . import Connection, Event, EventKind, Listener, Stack
from .tun import Tun

__all__ = [
    "Driver",
    "MemoryPair",
    "TunTransport",
    "PacketTransport",
    "Server",
    "open_connection",
    "start_server",
    "current_driver",
]

Deliver = Callable[[List[bytes]], None]
ClientConnectedCb = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Union[None, Awaitable[None]]]

_current: Optional["Driver"] = None


def current_driver() -> "Driver":
    """The most recently created :class:`Driver` that is still open."""
    if _current is None or _current.closed:
        raise RuntimeError("no tcpkit.aio.Driver: create one, or pass driver=")
    return _current


class PacketTransport:
    """Where a :class:`Driver` sends packets and gets them from (the interface).

    ``start(loop, deliver)`` begins delivering received packets by calling
    ``deliver(list_of_packets)`` on the loop; ``send(packets)`` sends;
    ``close()`` stops.
    """

    def start(self, loop: asyncio.AbstractEventLoop, deliver: Deliver) -> None:
        """Begin delivering received packets to ``deliver``."""
        raise NotImplementedError

    def send(self, packets: List[bytes]) -> None:
        """Send packets (best effort, like a network)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop delivering and release resources."""


class TunTransport(PacketTransport):
    """Packets over a :class:`tcpkit.tun.Tun` device, read with ``add_reader``."""

    def __init__(self, tun: Tun) -> None:
        self.tun = tun
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def start(self, loop: asyncio.AbstractEventLoop, deliver: Deliver) -> None:
        """Watch the device's fd and deliver what it reads."""
        self._loop = loop

        def readable() -> None:
            packets = self.tun.read_many()
            if packets:
                deliver(packets)

        loop.add_reader(self.tun.fileno(), readable)

    def send(self, packets: List[bytes]) -> None:
        """Write each packet to the device (dropped if its queue is full)."""
        for p in packets:
            self.tun.write(p)

    def close(self) -> None:
        """Stop reading (the Tun itself stays open; close it yourself)."""
        if self._loop is not None and not self.tun.closed:
            self._loop.remove_reader(self.tun.fileno())
        self._loop = None


class _MemoryEnd(PacketTransport):
    """One end of a :class:`MemoryPair`."""

    def __init__(self, pair: "MemoryPair") -> None:
        self._pair = pair
        self.peer: Optional["_MemoryEnd"] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._deliver: Optional[Deliver] = None
        self.sent = 0
        self.dropped = 0
        self.delivered = 0

    def start(self, loop: asyncio.AbstractEventLoop, deliver: Deliver) -> None:
        """Begin receiving what the other end sends."""
        self._loop = loop
        self._deliver = deliver

    def send(self, packets: List[bytes]) -> None:
        """Pass packets to the other end after the pair's delay, losing a
        seeded share of them."""
        peer = self.peer
        if peer is None or peer._loop is None or peer._deliver is None:
            self.dropped += len(packets)
            return
        kept = []
        for p in packets:
            self.sent += 1
            if self._pair.loss and self._pair.rng.random() < self._pair.loss:
                self.dropped += 1
            else:
                kept.append(p)
        if kept:
            peer._loop.call_later(self._pair.delay, peer._receive, kept)

    def _receive(self, packets: List[bytes]) -> None:
        if self._deliver is not None:
            self.delivered += len(packets)
            self._deliver(packets)

    def close(self) -> None:
        """Stop receiving."""
        self._deliver = None


class MemoryPair:
    """Two connected in-memory packet transports, ``a`` and ``b``.

    Each packet is lost with probability ``loss`` (drawn from a
    ``random.Random(seed)``, so a seed replays the same losses for the same
    traffic) and otherwise arrives after ``delay`` seconds.
    """

    def __init__(self, loss: float = 0.0, seed: int = 0, delay: float = 0.0005) -> None:
        if not 0.0 <= loss < 1.0:
            raise ValueError("loss must be in [0, 1)")
        self.loss = loss
        self.delay = delay
        self.rng = random.Random(seed)
        self.a = _MemoryEnd(self)
        self.b = _MemoryEnd(self)
        self.a.peer, self.b.peer = self.b, self.a

    @property
    def dropped(self) -> int:
        """Packets lost so far, both directions."""
        return self.a.dropped + self.b.dropped


class Driver:
    """Runs a stack on the running asyncio loop over a packet transport.

    Create it inside a coroutine (it needs the running loop). It feeds what
    the transport delivers, sends what the stack transmits, runs the stack's
    timers with ``loop.call_at``, and dispatches events to the connections
    made with :meth:`open_connection` / :meth:`start_server`.
    """

    def __init__(self, stack: Stack, transport: PacketTransport) -> None:
        global _current
        self.stack = stack
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        self.closed = False
        self._last_now = 0.0
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_when: Optional[float] = None
        self._pump_scheduled = False
        self._streams: Dict[Connection, "_StreamTransport"] = {}
        self._servers: Dict[Listener, "Server"] = {}
        transport.start(self.loop, self._on_packets)
        _current = self

    # -- the loop ---------------------------------------------------------
    def now(self) -> float:
        """The stack's clock: the loop's time, never going backwards."""
        t = self.loop.time()
        if t > self._last_now:
            self._last_now = t
        return self._last_now

    def _on_packets(self, packets: List[bytes]) -> None:
        if self.closed:
            return
        self.stack.feed_many(packets, self.now())
        self._pump()

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed:
            return
        # call_at may run a hair early (clock resolution): never run the
        # stack's timers before their deadline, so catch up to it.
        when = self._timer_when
        self._timer_when = None
        if when is not None and when > self._last_now:
            self._last_now = when
        self.stack.handle_timeout(self.now())
        self._pump()

    def schedule_pump(self) -> None:
        """Drain the stack soon (after commands made outside event dispatch)."""
        if not self._pump_scheduled and not self.closed:
            self._pump_scheduled = True
            self.loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_scheduled = False
        if self.closed:
            return
        stack = self.stack
        for _ in range(10_000):
            now = self.now()
            packets = stack.transmit(now)
            if packets:
                self.transport.send(packets)
            events = stack.events()
            if not events:
                break
            for ev in events:
                self._dispatch(ev)
        self._arm_timer()

    def _arm_timer(self) -> None:
        when = self.stack.next_timeout()
        if when == self._timer_when:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_when = when
        if when is not None:
            self._timer = self.loop.call_at(when, self._on_timer)

    def _dispatch(self, ev: Event) -> None:
        if ev.kind is EventKind.ACCEPTABLE:
            server = self._servers.get(ev.listener) if ev.listener is not None else None
            if server is not None:
                server._on_acceptable()
            return
        if ev.conn is None:
            return
        st = self._streams.get(ev.conn)
        if st is None:
            return
        if ev.kind is EventKind.CONNECTED:
            st._on_connected()
        elif ev.kind in (EventKind.READABLE, EventKind.PEER_CLOSED):
            st._on_readable()
        elif ev.kind is EventKind.WRITABLE:
            st._flush()
        elif ev.kind is EventKind.CLOSED:
            st._on_closed(ev.reason)

    # -- streams ----------------------------------------------------------
    async def open_connection(
        self,
        host: str,
        port: int,
        *,
        limit: int = 2**16,
        local_address: Optional[str] = None,
        local_port: int = 0,
    ) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to ``(host, port)``; like :func:`asyncio.open_connection`.

        Raises ConnectionRefusedError / TimeoutError / ConnectionResetError
        when the handshake fails.
        """
        reader = asyncio.StreamReader(limit=limit, loop=self.loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=self.loop)
        conn = self.stack.connect((host, port), local_address=local_address, local_port=local_port, now=self.now())
        transport = _StreamTransport(self, conn, protocol)
        transport._connected = self.loop.create_future()
        self._streams[conn] = transport
        self._pump()
        try:
            await transport._connected
        except BaseException:
            transport.abort()
            raise
        writer = asyncio.StreamWriter(transport, protocol, reader, self.loop)
        return reader, writer

    async def start_server(
        self,
        client_connected_cb: ClientConnectedCb,
        host: Optional[str] = None,
        port: int = 0,
        *,
        limit: int = 2**16,
        backlog: int = 128,
    ) -> "Server":
        """Listen on ``(host, port)`` (host None: every address) and call
        ``client_connected_cb(reader, writer)`` for each connection; like
        :func:`asyncio.start_server`."""
        listener = self.stack.listen(port, address=host, backlog=backlog)
        loop = self.loop

        def factory() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(limit=limit, loop=loop)
            return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

        server = Server(self, listener, factory)
        self._servers[listener] = server
        return server

    def close(self) -> None:
        """Stop: abort every open stream, stop the timer and the transport."""
        global _current
        if self.closed:
            return
        for st in list(self._streams.values()):
            st.abort()
        for server in list(self._servers.values()):
            server.close()
        self._pump()
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.transport.close()
        if _current is self:
            _current = None

    async def __aenter__(self) -> "Driver":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class Server:
    """What :func:`start_server` returns; like :class:`asyncio.Server`."""

    def __init__(self, driver: Driver, listener: Listener, factory: Callable[[], asyncio.Protocol]) -> None:
        self.driver = driver
        self.listener = listener
        self._factory = factory
        self._serving = True
        self._closed = driver.loop.create_future()

    @property
    def sockets(self) -> Tuple[()]:
        """No OS sockets here: always empty."""
        return ()

    def _on_acceptable(self) -> None:
        while self._serving:
            conn = self.listener.accept()
            if conn is None:
                return
            protocol = self._factory()
            st = _StreamTransport(self.driver, conn, protocol)
            self.driver._streams[conn] = st
            st._on_connected()

    def is_serving(self) -> bool:
        """True until :meth:`close`."""
        return self._serving

    def close(self) -> None:
        """Stop listening (connections already accepted go on)."""
        if self._serving:
            self._serving = False
            self.driver._servers.pop(self.listener, None)
            if not self.driver.closed:
                self.listener.close()
                self.driver.schedule_pump()
            if not self._closed.done():
                self._closed.set_result(None)

    async def wait_closed(self) -> None:
        """Wait until :meth:`close` was called."""
        await asyncio.shield(self._closed)

    async def serve_forever(self) -> None:
        """Serve until cancelled (or closed)."""
        try:
            await asyncio.shield(self._closed)
        finally:
            self.close()

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()
        await self.wait_closed()


class _StreamTransport(asyncio.Transport):
    """An asyncio transport over one tcpkit connection."""

    def __init__(self, driver: Driver, conn: Connection, protocol: asyncio.BaseProtocol) -> None:
        super().__init__()
        self._driver = driver
        self._conn = conn
        self._protocol: Any = protocol
        self._buf = bytearray()
        self._high = 256 * 1024
        self._low = 64 * 1024
        self._write_paused = False
        self._reading = True
        self._eof_wanted = False
        self._eof_sent = False
        self._closing = False
        self._lost = False
        self._made = False
        self._connected: Optional["asyncio.Future[None]"] = None
        self._extra: Dict[str, Any] = {"tcpkit_connection": conn}

    # -- events -----------------------------------------------------------
    def _on_connected(self) -> None:
        if self._made:
            return
        self._made = True
        self._extra["peername"] = self._conn.remote
        self._extra["sockname"] = self._conn.local
        self._protocol.connection_made(self)
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(None)
        self._flush()
        # Data (or FIN) that arrived before this point raised its READABLE
        # edge before we were registered: read it now.
        self._on_readable()

    def _on_readable(self) -> None:
        if not self._made or self._lost or not self._reading:
            return
        conn = self._conn
        while self._reading and not self._lost:
            try:
                data = conn.recv()
            except OSError:
                return  # a reset: CLOSED follows with its reason
            if data is None:
                return
            if data == b"":
                keep_open = self._protocol.eof_received()
                if not keep_open:
                    self.close()
                return
            self._protocol.data_received(data)

    def _on_closed(self, reason: Optional[BaseException]) -> None:
        if self._connected is not None and not self._connected.done():
            self._connected.set_exception(reason or ConnectionResetError("connection closed"))
        else:
            self._on_readable()  # data received before the end is still delivered
        self._release(reason)

    def _release(self, reason: Optional[BaseException]) -> None:
        """Drop the handle and tell the protocol, once."""
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._driver._streams.pop(self._conn, None)
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - already released by the stack's owner
            pass
        self._driver.schedule_pump()
        if self._made:
            self._driver.loop.call_soon(self._protocol.connection_lost, reason)

    # -- writing ----------------------------------------------------------
    def _flush(self) -> None:
        if self._lost or not self._made:
            return
        conn = self._conn
        try:
            while self._buf:
                try:
                    n = conn.send(self._buf)
                except BlockingIOError:
                    break
                del self._buf[:n]
        except OSError as e:  # reset etc.: CLOSED will report it
            self._buf.clear()
            self._release(e)
            return
        self._driver.schedule_pump()
        if self._write_paused and len(self._buf) <= self._low:
            self._write_paused = False
            self._protocol.resume_writing()
        if not self._buf:
            if self._eof_wanted and not self._eof_sent:
                self._eof_sent = True
                conn.shutdown()
            if self._closing:
                self._release(None)

    def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Queue data; it goes out as the connection's window allows."""
        if self._eof_wanted:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._closing:
            return  # like asyncio's socket transports: dropped after close
        if not data:
            return
        self._buf += data
        self._flush()
        if not self._write_paused and len(self._buf) > self._high:
            self._write_paused = True
            self._protocol.pause_writing()

    def write_eof(self) -> None:
        """Half-close (FIN) once the queued data is sent."""
        if self._eof_wanted:
            return
        self._eof_wanted = True
        self._flush()

    def can_write_eof(self) -> bool:
        """True: TCP half-close is supported."""
        return True

    def get_write_buffer_size(self) -> int:
        """Bytes queued here, not yet taken by the stack."""
        return len(self._buf)

    def get_write_buffer_limits(self) -> Tuple[int, int]:
        """(low, high) water marks."""
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: Optional[int] = None, low: Optional[int] = None) -> None:
        """Set the water marks for pause_writing/resume_writing."""
        if high is None:
            high = 4 * low if low is not None else 256 * 1024
        if low is None:
            low = high // 4
        if not 0 <= low <= high:
            raise ValueError("need 0 <= low <= high")
        self._high, self._low = high, low

    # -- reading ----------------------------------------------------------
    def pause_reading(self) -> None:
        """Stop delivering data to the protocol (the window fills up)."""
        self._reading = False

    def resume_reading(self) -> None:
        """Deliver data again."""
        if not self._reading:
            self._reading = True
            self._driver.loop.call_soon(self._resume_read)

    def _resume_read(self) -> None:
        self._on_readable()
        self._driver.schedule_pump()

    def is_reading(self) -> bool:
        """Whether data is delivered to the protocol."""
        return self._reading and not self._closing

    # -- closing ----------------------------------------------------------
    def close(self) -> None:
        """Close after the queued data is handed to the stack."""
        if self._closing:
            return
        self._closing = True
        if not self._made:
            self._release(None)
        else:
            self._flush()

    def abort(self) -> None:
        """Reset the connection now, dropping queued data."""
        if self._lost:
            return
        self._buf.clear()
        try:
            self._conn.abort()
        except Exception:  # noqa: BLE001 - already ended
            pass
        self._lost = True
        self._closing = True
        self._driver._streams.pop(self._conn, None)
        self._driver.schedule_pump()
        if self._made:
            self._driver.loop.call_soon(self._protocol.connection_lost, None)

    def is_closing(self) -> bool:
        """True once close/abort was called or the connection ended."""
        return self._closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``peername``, ``sockname`` ((host, port)) and ``tcpkit_connection``."""
        return self._extra.get(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        """The protocol."""
        return self._protocol  # type: ignore[no-any-return]

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Replace the protocol."""
        self._protocol = protocol


async def open_connection(
    host: str,
    port: int,
    *,
    driver: Optional[Driver] = None,
    limit: int = 2**16,
    local_address: Optional[str] = None,
    local_port: int = 0,
) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Like :func:`asyncio.open_connection`, over a tcpkit :class:`Driver`
    (default: :func:`current_driver`)."""
    d = driver or current_driver()
    return await d.open_connection(host, port, limit=limit, local_address=local_address, local_port=local_port)


async def start_server(
    client_connected_cb: ClientConnectedCb,
    host: Optional[str] = None,
    port: int = 0,
    *,
    driver: Optional[Driver] = None,
    limit: int = 2**16,
    backlog: int = 128,
) -> Server:
    """Like :func:`asyncio.start_server`, over a tcpkit :class:`Driver`
    (default: :func:`current_driver`)."""
    d = driver or current_driver()
    return await d.start_server(client_connected_cb, host, port, limit=limit, backlog=backlog)
