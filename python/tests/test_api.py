"""The Python contract (CONTRACT.md, "Python"): names, values, rules."""

from __future__ import annotations

import enum
import math

import pytest

import tcpkit
from netsim import A_ADDR, ACK, B_ADDR, FIN, RST, SYN, Net, ipv4_tcp, parse_ipv4_tcp

# ---------------------------------------------------------------- no TCP needed


def test_version_is_the_crate_version() -> None:
    assert isinstance(tcpkit.__version__, str)
    assert tcpkit.__version__.count(".") == 2


def test_event_kind_values_are_the_c_values() -> None:
    expected = {"CONNECTED": 1, "ACCEPTABLE": 2, "READABLE": 3, "WRITABLE": 4, "PEER_CLOSED": 5, "CLOSED": 6}
    assert {m.name: m.value for m in tcpkit.EventKind} == expected
    assert issubclass(tcpkit.EventKind, enum.IntEnum)
    assert tcpkit.EventKind.READABLE == 3 and hash(tcpkit.EventKind.READABLE) == hash(3)


def test_state_values_are_the_c_values() -> None:
    names = [
        "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
        "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
    ]  # fmt: skip
    assert [m.name for m in tcpkit.State] == names
    assert [m.value for m in tcpkit.State] == list(range(11))
    assert issubclass(tcpkit.State, enum.IntEnum)


def test_exception_hierarchy() -> None:
    assert issubclass(tcpkit.Error, Exception)
    assert issubclass(tcpkit.PacketError, tcpkit.Error)
    assert issubclass(tcpkit.PacketError, ValueError)


def test_config_keys_are_the_tcpkit_config_fields() -> None:
    fields = {
        "mtu", "isn_secret", "send_buffer", "recv_buffer", "max_connections", "syn_backlog",
        "time_wait_us", "fin_wait2_timeout_us", "initial_rto_us", "min_rto_us", "max_rto_us",
        "max_retries", "delayed_ack_us", "initial_cwnd_segments", "congestion", "enable_sack",
        "enable_timestamps", "enable_window_scale", "accept_any_destination",
    }  # fmt: skip
    assert set(tcpkit.CONFIG_DEFAULTS) == fields
    assert tcpkit.CONFIG_DEFAULTS["mtu"] == 1500
    assert tcpkit.CONFIG_DEFAULTS["delayed_ack_us"] == 40000
    assert tcpkit.CONFIG_DEFAULTS["initial_cwnd_segments"] == 10
    assert tcpkit.CONFIG_DEFAULTS["congestion"] == tcpkit.Congestion.CUBIC
    assert tcpkit.CONFIG_DEFAULTS["max_connections"] == 1048576


def test_stack_accepts_every_config_key() -> None:
    cfg = dict(tcpkit.CONFIG_DEFAULTS)
    cfg.update(mtu=9000, congestion=tcpkit.Congestion.NEWRENO, enable_sack=False, isn_secret=bytes(range(32)))
    tcpkit.Stack([A_ADDR, "2001:db8::1"], **cfg)


def test_stack_rejects_unknown_config_key() -> None:
    with pytest.raises(TypeError, match="bogus"):
        tcpkit.Stack([A_ADDR], bogus=1)


@pytest.mark.parametrize(
    "key,value",
    [("mtu", -1), ("mtu", 1 << 40), ("congestion", 7), ("isn_secret", b"short"), ("enable_sack", 2)],
)
def test_stack_rejects_bad_config_values(key: str, value: object) -> None:
    with pytest.raises(ValueError):
        tcpkit.Stack([A_ADDR], **{key: value})


def test_bad_address_is_value_error() -> None:
    with pytest.raises(ValueError):
        tcpkit.Stack(["not-an-ip"])
    s = tcpkit.Stack([A_ADDR])
    with pytest.raises(ValueError):
        s.add_address("300.1.1.1")


def test_time_conversion_never_early() -> None:
    # next_timeout() rounds up: converting back gives at least the deadline.
    for us in [0, 1, 999_999, 1_000_001, 123_456_789_012, 2**52 + 1, 10**15 + 7]:
        t = tcpkit.from_micros(us)
        assert tcpkit.to_micros(t) >= us
        assert tcpkit.to_micros(t) - us <= 1
    assert tcpkit.to_micros(1.5) == 1_500_000
    with pytest.raises(ValueError):
        tcpkit.to_micros(-1.0)
    with pytest.raises(ValueError):
        tcpkit.to_micros(math.nan)
    with pytest.raises(ValueError):
        tcpkit.to_micros(math.inf)


def test_feed_malformed_raises_packet_error_and_counts() -> None:
    s = tcpkit.Stack([B_ADDR])
    with pytest.raises(tcpkit.PacketError) as ei:
        s.feed(b"\x45\x00\x00", now=1.0)
    assert ei.value.code == 103
    assert s.counters["dropped_malformed"] == 1


def test_feed_bad_checksum_raises_packet_error() -> None:
    s = tcpkit.Stack([B_ADDR])
    pkt = bytearray(ipv4_tcp(A_ADDR, B_ADDR, 40000, 80, SYN))
    pkt[36] ^= 0x55  # inside the TCP checksum field
    with pytest.raises(tcpkit.PacketError) as ei:
        s.feed(bytes(pkt), now=1.0)
    assert ei.value.code == 104
    assert s.counters["dropped_checksum"] == 1


def test_feed_not_for_us_returns_false() -> None:
    s = tcpkit.Stack([B_ADDR])
    assert s.feed(ipv4_tcp(A_ADDR, "198.51.100.7", 40000, 80, SYN), now=1.0) is False
    assert s.counters["dropped_not_for_us"] == 1


def test_feed_accepts_bytes_bytearray_memoryview_not_str() -> None:
    s = tcpkit.Stack([B_ADDR])
    pkt = ipv4_tcp(A_ADDR, "198.51.100.7", 40000, 80, SYN)
    for form in (pkt, bytearray(pkt), memoryview(pkt)):
        assert s.feed(form, now=1.0) is False
    with pytest.raises(TypeError):
        s.feed("abc", now=1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.feed(5, now=1.0)  # type: ignore[arg-type]


def test_idle_stack_has_nothing() -> None:
    s = tcpkit.Stack([B_ADDR])
    assert s.poll_transmit(now=1.0) is None
    assert s.transmit(now=1.0) == []
    assert s.poll_event() is None
    assert s.events() == []
    assert s.next_timeout() is None
    s.handle_timeout(now=2.0)
    s.handle_timeout()  # now defaults to time.monotonic()
    assert isinstance(s.counters, dict) and all(isinstance(v, int) for v in s.counters.values())


# ---------------------------------------------------------------- needs TCP


def test_syn_to_closed_port_is_for_us_and_answered_with_rst() -> None:
    s = tcpkit.Stack([B_ADDR])
    assert s.feed(ipv4_tcp(A_ADDR, B_ADDR, 40000, 81, SYN, seq=5000), now=1.0) is True
    out = s.transmit(now=1.0)
    assert len(out) == 1
    rst = parse_ipv4_tcp(out[0])
    assert rst["flags"] & RST and rst["dst"] == A_ADDR and rst["dport"] == 40000
    assert rst["ack"] == 5001


def test_feed_many_counts_packets_for_us() -> None:
    s = tcpkit.Stack([B_ADDR])
    pkts = [
        ipv4_tcp(A_ADDR, B_ADDR, 40000 + i, 81, SYN) for i in range(3)
    ] + [ipv4_tcp(A_ADDR, "198.51.100.9", 40000, 81, SYN), b"\x00\x01", bytearray(ipv4_tcp(A_ADDR, B_ADDR, 41000, 81, SYN))]
    assert s.feed_many(pkts, now=1.0) == 4
    assert len(s.transmit(now=1.0)) == 4


def established(**config: object) -> tuple[Net, tcpkit.Listener, tcpkit.Connection, tcpkit.Connection]:
    net = Net(**config)
    lst = net.b.listen(80)
    client = net.a.connect((B_ADDR, 80), now=net.now)
    assert client.state == tcpkit.State.SYN_SENT
    assert net.run(lambda: tcpkit.EventKind.CONNECTED in net.kinds(net.a) and tcpkit.EventKind.ACCEPTABLE in net.kinds(net.b), limit=10)
    server = lst.accept()
    assert server is not None
    return net, lst, client, server


def test_connect_accept_events_and_handle_equality() -> None:
    net, lst, client, server = established()
    acc = [e for e in net.events[id(net.b)] if e.kind is tcpkit.EventKind.ACCEPTABLE]
    assert acc[0].listener == lst and acc[0].conn is None and acc[0].reason is None
    con = [e for e in net.events[id(net.a)] if e.kind is tcpkit.EventKind.CONNECTED]
    assert con[0].conn == client and hash(con[0].conn) == hash(client)
    assert {client: "x"}[con[0].conn] == "x"
    assert client != server  # different stacks
    assert client.state == tcpkit.State.ESTABLISHED == server.state
    assert client.remote == (B_ADDR, 80) and server.local == (B_ADDR, 80)
    assert server.remote == client.local and client.local[0] == A_ADDR
    assert lst.accept() is None
    with pytest.raises(Exception):
        con[0].kind = tcpkit.EventKind.CLOSED  # type: ignore[misc]


def test_send_recv_and_orderly_close() -> None:
    net, _, client, server = established()
    data = bytes(range(256)) * 400
    sent = 0
    got = bytearray()

    def on_event(s: tcpkit.Stack, ev: tcpkit.Event) -> None:
        if ev.conn == server and ev.kind in (tcpkit.EventKind.READABLE, tcpkit.EventKind.PEER_CLOSED):
            while (chunk := server.recv(5000)) is not None:
                if chunk == b"":
                    break
                got.extend(chunk)

    net.on_event = on_event
    while sent < len(data):
        try:
            n = client.send(memoryview(data)[sent:])
        except BlockingIOError:
            assert net.run(lambda: tcpkit.EventKind.WRITABLE in net.kinds(net.a), limit=10)
            net.events[id(net.a)].clear()
            continue
        assert n >= 1
        sent += n
        net.pump()
    client.shutdown()
    with pytest.raises(tcpkit.Error):
        client.send(b"more")
    assert net.run(lambda: tcpkit.EventKind.PEER_CLOSED in net.kinds(net.b), limit=30)
    assert bytes(got) == data
    assert server.recv() == b""
    assert server.state == tcpkit.State.CLOSE_WAIT
    info = client.info
    assert isinstance(info, tcpkit.ConnInfo)
    assert info.bytes_acked == len(data) or info.bytes_sent >= len(data)
    assert server.info.bytes_received == len(data)
    server.close()
    assert net.run(lambda: tcpkit.EventKind.CLOSED in net.kinds(net.a), limit=30)
    closed = [e for e in net.events[id(net.a)] if e.kind is tcpkit.EventKind.CLOSED]
    assert closed[0].reason is None
    client.close()
    with pytest.raises(tcpkit.Error) as ei:
        client.send(b"x")
    assert ei.value.code == 102
    with pytest.raises(tcpkit.Error):
        server.recv()


def test_connection_refused_event_and_errors() -> None:
    net = Net()
    c = net.a.connect((B_ADDR, 9), now=net.now)
    assert net.run(lambda: tcpkit.EventKind.CLOSED in net.kinds(net.a), limit=10)
    ev = [e for e in net.events[id(net.a)] if e.kind is tcpkit.EventKind.CLOSED][0]
    assert isinstance(ev.reason, ConnectionRefusedError)
    assert ev.conn == c
    with pytest.raises(ConnectionRefusedError):
        c.send(b"x")
    c.close()  # on an ended connection: releases, no error
    with pytest.raises(tcpkit.Error):
        c.state


def test_abort_resets_peer() -> None:
    net, _, client, server = established()
    client.abort()
    assert net.run(lambda: tcpkit.EventKind.CLOSED in net.kinds(net.b), limit=10)
    ev = [e for e in net.events[id(net.b)] if e.kind is tcpkit.EventKind.CLOSED][0]
    assert isinstance(ev.reason, ConnectionResetError)
    with pytest.raises(ConnectionResetError):
        server.recv()
    server.abort()  # ended: no-op


def test_send_blocks_with_blocking_io_error_when_buffer_full() -> None:
    net, _, client, _server = established(send_buffer=4096)
    with pytest.raises(BlockingIOError):
        for _ in range(1000):
            assert client.send(b"x" * 1000) >= 1


def test_connect_timeout_reports_timeout_error() -> None:
    net = Net(initial_rto_us=100_000, min_rto_us=50_000, max_retries=2, max_rto_us=400_000)
    net.loss = 0.999999  # a black hole
    c = net.a.connect((B_ADDR, 80), now=net.now)
    assert net.run(lambda: tcpkit.EventKind.CLOSED in net.kinds(net.a), limit=60)
    ev = [e for e in net.events[id(net.a)] if e.kind is tcpkit.EventKind.CLOSED][0]
    assert isinstance(ev.reason, TimeoutError)
    with pytest.raises(TimeoutError):
        c.recv()


def test_next_timeout_is_absolute_and_runs_the_timer() -> None:
    s = tcpkit.Stack([A_ADDR], initial_rto_us=1_000_000)
    s.connect((B_ADDR, 80), now=100.0)
    syn = s.transmit(now=100.0)
    assert len(syn) == 1
    t = s.next_timeout()
    assert t is not None and 100.0 < t <= 101.0 + 1e-6
    s.handle_timeout(t - 1e-6)  # one microsecond early: nothing yet
    assert s.transmit(now=t - 1e-6) == []
    s.handle_timeout(t)
    again = s.transmit(now=t)
    assert len(again) == 1 and parse_ipv4_tcp(again[0])["flags"] & SYN


def test_options_and_nodelay() -> None:
    net, _, client, _ = established()
    client.nodelay = True
    assert client.nodelay is True
    client.set_option("nodelay", False)
    assert client.get_option(tcpkit.Option.NODELAY) == 0
    client.set_option(tcpkit.Option.USER_DATA, 42)
    assert client.get_option("user_data") == 42
    with pytest.raises(ValueError):
        client.set_option("no_such_option", 1)


def test_bad_arguments_are_value_errors() -> None:
    s = tcpkit.Stack([A_ADDR])
    with pytest.raises(ValueError):
        s.connect(("nope", 80))
    with pytest.raises(ValueError):
        s.connect((B_ADDR, 70000))
    with pytest.raises(ValueError):
        s.listen(-1)
    c = s.connect((B_ADDR, 80), now=1.0)
    with pytest.raises(ValueError):
        c.recv(0)


def test_connect_without_address_of_family() -> None:
    s = tcpkit.Stack([A_ADDR])
    with pytest.raises(tcpkit.Error) as ei:
        s.connect(("2001:db8::1", 80), now=1.0)
    assert ei.value.code == 115


def test_listener_handle_is_not_a_connection() -> None:
    s = tcpkit.Stack([A_ADDR])
    lst = s.listen(80)
    fake = tcpkit.Connection(s, lst.handle)
    with pytest.raises(tcpkit.Error) as ei:
        fake.state
    assert ei.value.code == 102
    lst.close()
    with pytest.raises(tcpkit.Error):
        lst.accept()


def test_dropping_a_connection_object_does_not_close_it() -> None:
    net, _, client, server = established()
    h = client.handle
    del client
    import gc

    gc.collect()
    again = tcpkit.Connection(net.a, h)
    assert again.state == tcpkit.State.ESTABLISHED


def test_udp_round_trip() -> None:
    net = Net()
    ua = net.a.udp_bind((A_ADDR, 5000))
    ub = net.b.udp_bind(("0.0.0.0", 5001))
    ua.send_to(b"ping", (B_ADDR, 5001), now=net.now)
    assert net.run(lambda: tcpkit.EventKind.READABLE in net.kinds(net.b), limit=5)
    ev = [e for e in net.events[id(net.b)] if e.kind is tcpkit.EventKind.READABLE][0]
    assert ev.udp == ub and ev.conn is None
    assert ub.recv_from() == (b"ping", (A_ADDR, 5000))
    assert ub.recv_from() is None
    ua.close()
    ub.close()
    with pytest.raises(tcpkit.Error) as ei:
        ub.recv_from()
    assert ei.value.code == 102
    with pytest.raises(tcpkit.Error):
        ua.send_to(b"late", (B_ADDR, 5001), now=net.now)


def test_result_names_match_the_contract_constants() -> None:
    assert tcpkit.RESULT_NAMES[0] == "TCPKIT_OK"
    assert tcpkit.RESULT_NAMES[111] == "TCPKIT_ERR_REFUSED"
    assert tcpkit.RESULT_NAMES[115] == "TCPKIT_ERR_ADDR_NOT_AVAILABLE"
    assert tcpkit.RESULT_NAMES[199] == "TCPKIT_ERR_PANIC"


def dual_net() -> Net:
    return Net(a=tcpkit.Stack([A_ADDR, "2001:db8::1"]), b=tcpkit.Stack([B_ADDR, "2001:db8::2"]))


def test_ipv6_connect_transfer_and_endpoints() -> None:
    net = dual_net()
    lst = net.b.listen(443, address="2001:db8::2")
    c = net.a.connect(("2001:db8::2", 443), now=net.now)
    assert net.run(lambda: tcpkit.EventKind.ACCEPTABLE in net.kinds(net.b), limit=10)
    s = lst.accept()
    assert s is not None
    assert s.local == ("2001:db8::2", 443) and s.remote == c.local and c.local[0] == "2001:db8::1"
    c.send(b"six")
    assert net.run(lambda: tcpkit.EventKind.READABLE in net.kinds(net.b), limit=10)
    assert s.recv() == b"six"


@pytest.mark.parametrize(
    "address,v4_ok,v6_ok",
    [(None, True, True), ("0.0.0.0", True, False), ("::", True, True), (B_ADDR, True, False)],
)
def test_listen_address_forms(address: str | None, v4_ok: bool, v6_ok: bool) -> None:
    net = dual_net()
    net.b.listen(8080, address=address)
    c4 = net.a.connect((B_ADDR, 8080), now=net.now)
    c6 = net.a.connect(("2001:db8::2", 8080), now=net.now)
    net.run(lambda: False, limit=3)
    connected = {e.conn for e in net.events[id(net.a)] if e.kind is tcpkit.EventKind.CONNECTED}
    assert (c4 in connected) == v4_ok
    assert (c6 in connected) == v6_ok


def test_connect_from_names_the_source() -> None:
    net = dual_net()
    net.a.add_address("192.0.2.11")
    lst = net.b.listen(80)
    c = net.a.connect((B_ADDR, 80), local_address="192.0.2.11", local_port=40001, now=net.now)
    assert c.local == ("192.0.2.11", 40001)
    assert net.run(lambda: tcpkit.EventKind.ACCEPTABLE in net.kinds(net.b), limit=10)
    s = lst.accept()
    assert s is not None and s.remote == ("192.0.2.11", 40001)


def test_stacks_on_two_threads_are_independent() -> None:
    import threading

    results: list[bytes] = []
    errors: list[BaseException] = []

    def one(seed: int) -> None:
        try:
            net = Net(seed=seed, loss=0.01)
            lst = net.b.listen(80)
            c = net.a.connect((B_ADDR, 80), now=net.now)
            assert net.run(lambda: tcpkit.EventKind.ACCEPTABLE in net.kinds(net.b), limit=20)
            s = lst.accept()
            assert s is not None
            payload = bytes([seed]) * 50_000
            sent = 0
            got = bytearray()
            while len(got) < len(payload):
                if sent < len(payload):
                    try:
                        sent += c.send(payload[sent:])
                    except BlockingIOError:
                        pass
                net.step()
                while (chunk := s.recv()) not in (None, b""):
                    got.extend(chunk)  # type: ignore[arg-type]
                assert net.now < 200
            results.append(bytes(got))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(results) == [b"\x01" * 50_000, b"\x02" * 50_000]


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, 2.0**64])
def test_bad_now_is_value_error_everywhere(bad: float) -> None:
    s = tcpkit.Stack([A_ADDR])
    with pytest.raises(ValueError):
        s.handle_timeout(bad)
    with pytest.raises(ValueError):
        s.transmit(bad)
    with pytest.raises(ValueError):
        s.connect((B_ADDR, 80), now=bad)


def test_native_and_python_round_times_alike() -> None:
    # A deadline handed back through next_timeout() and handle_timeout()
    # goes through the native conversion: it must agree with to_micros.
    for start in (0.0000005, 1.0000015, 12345.6789125, 3.5e-7):
        s2 = tcpkit.Stack([A_ADDR], initial_rto_us=1_000_000)
        s2.connect((B_ADDR, 80), now=start)
        assert len(s2.transmit(now=start)) == 1
        t = s2.next_timeout()
        assert t is not None
        assert tcpkit.to_micros(t) == tcpkit.to_micros(start) + 1_000_000
        s2.handle_timeout(t)
        assert len(s2.transmit(now=t)) == 1  # the SYN again: not early
