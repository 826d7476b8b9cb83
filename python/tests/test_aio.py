"""tcpkit.aio: asyncio streams over two stacks joined by a lossy in-memory pair."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

import tcpkit
from tcpkit import aio
from netsim import A_ADDR, B_ADDR


async def _echo_session(loss: float, seed: int, size: int) -> tuple[bytes, bytes, int]:
    pair = aio.MemoryPair(loss=loss, seed=seed, delay=0.001)
    fast = dict(initial_rto_us=200_000, min_rto_us=20_000, delayed_ack_us=5_000)
    async with aio.Driver(tcpkit.Stack([A_ADDR], **fast), pair.a) as sdrv, aio.Driver(
        tcpkit.Stack([B_ADDR], **fast), pair.b
    ) as cdrv:

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                writer.write(chunk)
                await writer.drain()
            writer.close()

        server = await aio.start_server(handle, A_ADDR, 7, driver=sdrv)
        reader, writer = await aio.open_connection(A_ADDR, 7, driver=cdrv)
        assert writer.get_extra_info("peername") == (A_ADDR, 7)
        data = bytes((i * 7 + 3) % 251 for i in range(size))

        async def send() -> None:
            for i in range(0, len(data), 10_000):
                writer.write(data[i : i + 10_000])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.ensure_future(send())
        got = await reader.read(-1)  # until EOF
        await sender
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return data, got, pair.dropped


def test_echo_over_memory_pair_without_loss() -> None:
    data, got, _ = asyncio.run(asyncio.wait_for(_echo_session(0.0, 1, 200_000), 60))
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("seed", [1, 2])
def test_echo_over_memory_pair_with_loss(seed: int) -> None:
    data, got, dropped = asyncio.run(asyncio.wait_for(_echo_session(0.03, seed, 100_000), 120))
    assert got == data
    assert dropped > 0  # the loss really happened


def test_connect_refused_raises() -> None:
    async def main() -> None:
        pair = aio.MemoryPair()
        async with aio.Driver(tcpkit.Stack([A_ADDR]), pair.a), aio.Driver(tcpkit.Stack([B_ADDR]), pair.b) as c:
            with pytest.raises(ConnectionRefusedError):
                await aio.open_connection(A_ADDR, 9, driver=c)

    asyncio.run(asyncio.wait_for(main(), 30))


def test_default_driver_is_the_latest() -> None:
    async def main() -> None:
        pair = aio.MemoryPair()
        async with aio.Driver(tcpkit.Stack([A_ADDR]), pair.a) as d:
            assert aio.current_driver() is d
        with pytest.raises(RuntimeError):
            aio.current_driver()

    asyncio.run(main())


def test_memory_pair_loss_is_seeded() -> None:
    def dropped(seed: int) -> list[int]:
        pair = aio.MemoryPair(loss=0.5, seed=seed)
        return [i for i in range(100) if pair.rng.random() < pair.loss]

    assert dropped(3) == dropped(3)
    assert dropped(3) != dropped(4)
    with pytest.raises(ValueError):
        aio.MemoryPair(loss=1.5)


FAST = dict(initial_rto_us=200_000, min_rto_us=20_000, delayed_ack_us=5_000)


def test_flow_control_big_write_slow_reader_many_clients() -> None:
    """A 1 MB write fills every buffer: pause_writing/drain, WRITABLE, and a
    reader that pauses (window closes) still get every byte through, for
    three clients at once."""

    async def main() -> list[bytes]:
        pair = aio.MemoryPair(loss=0.0, seed=5, delay=0.001)
        small = dict(FAST, send_buffer=32 * 1024, recv_buffer=32 * 1024)
        async with aio.Driver(tcpkit.Stack([A_ADDR], **small), pair.a) as sdrv, aio.Driver(
            tcpkit.Stack([B_ADDR], **small), pair.b
        ) as cdrv:
            received: list[bytes] = []

            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                buf = bytearray()
                while True:
                    chunk = await reader.read(4096)
                    if not chunk:
                        break
                    buf += chunk
                    await asyncio.sleep(0)  # a slow reader
                received.append(bytes(buf))
                writer.write(hashlib.sha256(buf).digest())
                await writer.drain()
                writer.close()

            server = await aio.start_server(handle, None, 9000, driver=sdrv, limit=8192)

            async def client(i: int) -> bytes:
                reader, writer = await aio.open_connection(A_ADDR, 9000, driver=cdrv)
                data = bytes([i]) * 1_000_000
                writer.write(data)
                assert writer.transport.get_write_buffer_size() > 0
                await writer.drain()
                writer.write_eof()
                digest = await reader.read(-1)
                writer.close()
                await writer.wait_closed()
                assert digest == hashlib.sha256(data).digest()
                return digest

            digests = await asyncio.gather(*(client(i) for i in range(3)))
            server.close()
            await server.wait_closed()
            assert len(set(digests)) == 3
            return received

    received = asyncio.run(asyncio.wait_for(main(), 120))
    assert sorted(received) == sorted(bytes([i]) * 1_000_000 for i in range(3))


def test_open_connection_to_a_black_hole_times_out() -> None:
    async def main() -> None:
        pair = aio.MemoryPair(loss=0.999999, seed=1)
        cfg = dict(initial_rto_us=50_000, min_rto_us=20_000, max_rto_us=100_000, max_retries=2)
        async with aio.Driver(tcpkit.Stack([A_ADDR], **cfg), pair.a), aio.Driver(
            tcpkit.Stack([B_ADDR], **cfg), pair.b
        ) as c:
            with pytest.raises(TimeoutError):
                await aio.open_connection(A_ADDR, 80, driver=c)

    asyncio.run(asyncio.wait_for(main(), 30))


def test_driver_close_ends_open_streams() -> None:
    async def main() -> None:
        pair = aio.MemoryPair()
        async with aio.Driver(tcpkit.Stack([A_ADDR]), pair.a) as s:
            await aio.start_server(lambda r, w: w.close(), A_ADDR, 80, driver=s)
            async with aio.Driver(tcpkit.Stack([B_ADDR]), pair.b) as c:
                reader, writer = await aio.open_connection(A_ADDR, 80, driver=c)
            assert writer.is_closing()
            await writer.wait_closed()
            assert reader.at_eof()  # connection_lost fed EOF

    asyncio.run(asyncio.wait_for(main(), 30))
