//! Stack behaviour end to end over an in-memory link: handshake, data,
//! close, handle lifetime, RST for closed ports, tun2socks mode.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{ConnHandle, Error, EventKind, ListenAddr, ListenerHandle, PacketError, State};
use tcpkit::Duration;
use util::*;

fn connect_pair(p: &mut Pair, server: &str, port: u16) -> (ConnHandle, ConnHandle, ListenerHandle) {
    let l = p.b.listen(ListenAddr::Any, port, 16).expect("listen");
    let c = p.a.connect(p.now, sa(server, port), 0).expect("connect");
    p.settle();
    let ea = drain(&mut p.a);
    assert!(
        has(&ea, EventKind::Connected, c.raw()),
        "client gets CONNECTED: {ea:?}"
    );
    let eb = drain(&mut p.b);
    assert!(
        has(&eb, EventKind::Acceptable, l.raw()),
        "listener gets ACCEPTABLE: {eb:?}"
    );
    let s = p.b.accept(l).expect("accept");
    assert_eq!(p.b.accept(l), Err(Error::WouldBlock));
    (c, s, l)
}

fn transfer_both_ways(server: &str) {
    let mut p = Pair::new();
    let (c, s, _) = connect_pair(&mut p, server, 80);
    assert_eq!(p.a.state(c), Ok(State::Established));
    assert_eq!(p.b.state(s), Ok(State::Established));
    assert_eq!(p.a.remote_endpoint(c), Ok(sa(server, 80)));
    assert_eq!(p.b.local_endpoint(s), Ok(sa(server, 80)));
    assert_eq!(p.b.remote_endpoint(s), p.a.local_endpoint(c));

    let up = pattern(300_000, 1);
    let down = pattern(123_457, 2);
    let (mut up_sent, mut down_sent) = (0, 0);
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let done = p.run_until(Duration::from_secs(60), |p| {
        while up_sent < up.len() {
            match p.a.send(c, &up[up_sent..]) {
                Ok(n) => up_sent += n,
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("send: {e:?}"),
            }
        }
        while down_sent < down.len() {
            match p.b.send(s, &down[down_sent..]) {
                Ok(n) => down_sent += n,
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("send: {e:?}"),
            }
        }
        read_all(&mut p.b, s, &mut got_up);
        read_all(&mut p.a, c, &mut got_down);
        got_up.len() == up.len() && got_down.len() == down.len()
    });
    assert!(
        done,
        "transfer finished: up {} down {}",
        got_up.len(),
        got_down.len()
    );
    assert_eq!(got_up, up);
    assert_eq!(got_down, down);

    // Orderly close from the client; the server sees end of stream.
    p.a.shutdown(c).expect("shutdown");
    assert_eq!(p.a.send(c, b"x"), Err(Error::Closed));
    p.settle();
    let mut rest = Vec::new();
    assert!(read_all(&mut p.b, s, &mut rest), "end of stream after FIN");
    assert!(has(&drain(&mut p.b), EventKind::PeerClosed, s.raw()));
    p.b.close(s).expect("close");
    assert_eq!(
        p.b.state(s),
        Err(Error::InvalidHandle),
        "closed handle is invalid"
    );
    p.settle();
    let ea = drain(&mut p.a);
    assert!(has(&ea, EventKind::Closed, c.raw()), "{ea:?}");
    let reason = ea
        .iter()
        .find(|e| e.kind == EventKind::Closed)
        .and_then(|e| e.reason);
    assert_eq!(reason, None, "orderly close has no reason");
    // Handle stays valid after CLOSED until close(): in TIME-WAIT here.
    assert_eq!(p.a.state(c), Ok(State::TimeWait));
    p.a.close(c).expect("close after end is OK");
    assert_eq!(p.a.state(c), Err(Error::InvalidHandle));
    // TIME-WAIT is reaped on time (2*MSL = 60 s by default).
    assert_eq!(p.a.counters().connections_active, 1);
    p.run_until(Duration::from_secs(61), |p| {
        p.a.counters().connections_active == 0
    });
    assert_eq!(p.a.counters().connections_active, 0, "TIME-WAIT reaped");
    assert_eq!(p.b.counters().connections_active, 0, "server side reaped");
    assert_eq!(p.a.poll_timeout(), None, "no timers left");
}

#[test]
fn ipv4_transfer_both_ways_and_orderly_close() {
    transfer_both_ways(B4);
}

#[test]
fn ipv6_transfer_both_ways_and_orderly_close() {
    transfer_both_ways(B6);
}

#[test]
fn syn_to_closed_port_gets_rst_and_connect_is_refused() {
    let mut p = Pair::new();
    let c = p.a.connect(p.now, sa(B4, 81), 0).expect("connect");
    p.settle();
    assert_eq!(p.b.counters().rst_sent, 1);
    assert_eq!(p.b.counters().dropped_no_listener, 1);
    let ea = drain(&mut p.a);
    let closed = ea
        .iter()
        .find(|e| e.kind == EventKind::Closed && e.handle == c.raw());
    assert_eq!(
        closed.and_then(|e| e.reason),
        Some(Error::Refused),
        "{ea:?}"
    );
    assert_eq!(p.a.send(c, b"x"), Err(Error::Refused));
    p.a.close(c).expect("close");
    p.settle();
    assert_eq!(p.a.counters().connections_active, 0);
}

#[test]
fn stray_ack_gets_rst_with_its_ack_as_seq() {
    let mut s = stack_with(config(3), &[B4]);
    let seg = tcp4(A4, 5555, B4, 80, 1000, 777_777, 0x10, b"");
    let pkt = ipv4_packet(A4, B4, 6, &seg, None);
    s.feed(tcpkit::Instant::ZERO, &pkt)
        .expect("well-formed packet is OK");
    let mut buf = [0u8; 100];
    let n = s
        .poll_transmit(tcpkit::Instant::ZERO, &mut buf)
        .expect("a RST");
    assert_eq!(n, 40);
    assert_eq!(
        &buf[12..16],
        &[192, 0, 2, 2],
        "from the address it was sent to"
    );
    assert_eq!(buf[6] & 0x40, 0x40, "DF set");
    let tcp = &buf[20..40];
    assert_eq!(
        u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        777_777,
        "SEQ = SEG.ACK"
    );
    assert_eq!(tcp[13], 0x04, "RST only");
    assert_eq!(csum(tcp, pseudo4(B4, A4, 6, 20)), 0, "valid checksum");
    assert_eq!(
        s.poll_transmit(tcpkit::Instant::ZERO, &mut buf),
        Err(Error::WouldBlock)
    );
    // An incoming RST matching nothing gets nothing.
    let rst = ipv4_packet(A4, B4, 6, &tcp4(A4, 5555, B4, 80, 1, 0, 0x04, b""), None);
    s.feed(tcpkit::Instant::ZERO, &rst).expect("ok");
    assert_eq!(
        s.poll_transmit(tcpkit::Instant::ZERO, &mut buf),
        Err(Error::WouldBlock)
    );
}

#[test]
fn bad_packets_are_counted_and_change_nothing() {
    let mut s = stack_with(config(3), &[B4]);
    let t = tcpkit::Instant::ZERO;
    assert_eq!(s.feed(t, &[]), Err(PacketError::Malformed));
    assert_eq!(s.feed(t, &[0x45, 0, 0]), Err(PacketError::Malformed));
    let seg = tcp4(A4, 5555, B4, 80, 1000, 0, 0x02, b"");
    let mut pkt = ipv4_packet(A4, B4, 6, &seg, None);
    let last = pkt.len() - 1;
    pkt[last] ^= 0xff; // corrupt the TCP checksum field's neighbour (urgent pointer)
    assert_eq!(s.feed(t, &pkt), Err(PacketError::Checksum));
    let other = ipv4_packet(
        A4,
        "192.0.2.99",
        6,
        &tcp4(A4, 5555, "192.0.2.99", 80, 1, 0, 2, b""),
        None,
    );
    assert_eq!(s.feed(t, &other), Err(PacketError::NotForUs));
    let c = s.counters();
    assert_eq!(
        (
            c.dropped_malformed,
            c.dropped_checksum,
            c.dropped_not_for_us
        ),
        (2, 1, 1)
    );
    let mut buf = [0u8; 100];
    assert_eq!(
        s.poll_transmit(t, &mut buf),
        Err(Error::WouldBlock),
        "no RST for bad packets"
    );
    // Random garbage never panics.
    for seed in 0..2000u32 {
        let mut g = pattern((seed % 90) as usize, seed);
        if let Some(b) = g.first_mut() {
            *b = if seed % 2 == 0 { 0x45 } else { 0x60 };
        }
        let _ = s.feed(t, &g);
    }
}

#[test]
fn handles_are_kind_tagged_and_stale_after_close() {
    let mut p = Pair::new();
    let (c, s, l) = connect_pair(&mut p, B4, 80);
    assert_eq!(
        p.b.state(ConnHandle::from_raw(l.raw())),
        Err(Error::InvalidHandle),
        "listener as conn"
    );
    assert_eq!(
        p.b.accept(ListenerHandle::from_raw(s.raw())),
        Err(Error::InvalidHandle),
        "conn as listener"
    );
    assert_eq!(
        p.b.state(ConnHandle::from_raw(0)),
        Err(Error::InvalidHandle)
    );
    let u = p.b.udp_bind(sa(B4, 53)).expect("bind");
    assert_eq!(
        p.b.send(ConnHandle::from_raw(u.raw()), b"x"),
        Err(Error::InvalidHandle),
        "udp as conn"
    );
    p.b.abort(s).expect("abort");
    assert_eq!(p.b.send(s, b"x"), Err(Error::InvalidHandle));
    assert_eq!(p.b.close(s), Err(Error::InvalidHandle), "second close");
    p.settle();
    let ea = drain(&mut p.a);
    let closed = ea.iter().find(|e| e.kind == EventKind::Closed);
    assert_eq!(
        closed.and_then(|e| e.reason),
        Some(Error::Reset),
        "peer sees the abort: {ea:?}"
    );
    // After a reset, calls return the reason until close.
    assert_eq!(p.a.send(c, b"x"), Err(Error::Reset));
    let mut buf = [0u8; 8];
    assert_eq!(p.a.recv(c, &mut buf), Err(Error::Reset));
    assert_eq!(p.a.recv(c, &mut []), Err(Error::InvalidArgument));
    // A new connection reusing the server's slot does not answer to the old handle.
    let c2 = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    let s2 = p.b.accept(l).expect("accept");
    assert_ne!(s2, s);
    assert_eq!(p.b.state(s), Err(Error::InvalidHandle));
    assert_eq!(p.b.state(s2), Ok(State::Established));
    assert_eq!(p.a.state(c2), Ok(State::Established));
    // Closing the listener refuses what waits in its queue.
    let c3 = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    p.b.listener_close(l).expect("listener_close");
    assert_eq!(p.b.accept(l), Err(Error::InvalidHandle));
    p.settle();
    assert_eq!(
        p.a.state(c3),
        Ok(State::Closed),
        "queued connection was reset"
    );
}

#[test]
fn exact_listener_wins_over_wildcard_and_addr_rules() {
    let mut p = Pair::new();
    let any = p.b.listen(ListenAddr::Any, 80, 8).expect("any");
    let exact = p.b.listen(ListenAddr::Exact(ip(B4)), 80, 8).expect("exact");
    assert_eq!(
        p.b.listen(ListenAddr::Exact(ip(B4)), 80, 8),
        Err(Error::AddrInUse)
    );
    assert_eq!(
        p.b.listen(ListenAddr::Exact(ip("192.0.2.77")), 80, 8),
        Err(Error::AddrNotAvailable)
    );
    let c4 = p.a.connect(p.now, sa(B4, 80), 0).expect("v4");
    let c6 = p.a.connect(p.now, sa(B6, 80), 0).expect("v6");
    p.settle();
    assert!(p.b.accept(exact).is_ok(), "v4 went to the exact listener");
    assert_eq!(p.b.accept(exact), Err(Error::WouldBlock));
    assert!(p.b.accept(any).is_ok(), "v6 went to the wildcard");
    assert_eq!(p.a.state(c4), Ok(State::Established));
    assert_eq!(p.a.state(c6), Ok(State::Established));
    // connect needs a local address of the remote's family.
    let mut lone = stack_with(config(9), &[A4]);
    assert_eq!(
        lone.connect(p.now, sa(B6, 80), 0),
        Err(Error::AddrNotAvailable)
    );
    // An identical 4-tuple is ADDR_IN_USE.
    let local = p.a.local_endpoint(c4).expect("local");
    assert_eq!(
        p.a.connect_from(p.now, local, sa(B4, 80)),
        Err(Error::AddrInUse)
    );
}

/// A SYN looks up only the listener kinds that exist (`listen_kinds`):
/// precedence exact > any IPv4 > any still holds as listeners of each kind
/// come and go.
#[test]
fn listener_precedence_follows_listen_and_close() {
    let mut p = Pair::new();
    let any = p.b.listen(ListenAddr::Any, 80, 8).expect("any");
    let any4 = p.b.listen(ListenAddr::AnyV4, 80, 8).expect("any v4");
    let exact = p.b.listen(ListenAddr::Exact(ip(B4)), 80, 8).expect("exact");
    let open_to = |p: &mut Pair, want: Option<ListenerHandle>, others: &[ListenerHandle]| {
        let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
        p.settle();
        match want {
            Some(l) => {
                assert!(p.b.accept(l).is_ok(), "went to {l:?}");
                assert_eq!(p.a.state(c), Ok(State::Established));
            }
            None => assert_eq!(p.a.state(c), Ok(State::Closed), "refused"),
        }
        for &o in others {
            assert!(p.b.accept(o).is_err(), "not to {o:?}");
        }
    };
    open_to(&mut p, Some(exact), &[any4, any]);
    p.b.listener_close(exact).expect("close exact");
    open_to(&mut p, Some(any4), &[any]);
    p.b.listener_close(any4).expect("close any v4");
    open_to(&mut p, Some(any), &[]);
    p.b.listener_close(any).expect("close any");
    open_to(&mut p, None, &[]);
    let again =
        p.b.listen(ListenAddr::Exact(ip(B4)), 80, 8)
            .expect("exact again");
    open_to(&mut p, Some(again), &[]);
}

#[test]
fn tun2socks_mode_accepts_any_destination() {
    let cb = tcpkit::stack::Config {
        accept_any_destination: true,
        ..config(2)
    };
    let mut p = Pair::with(config(1), cb);
    let l =
        p.b.listen(ListenAddr::Any, 0, 64)
            .expect("port 0 listener in tun2socks mode");
    let dst = sa("198.51.100.7", 443);
    let c = p.a.connect(p.now, dst, 0).expect("connect");
    p.settle();
    let s =
        p.b.accept(l)
            .expect("accepted a connection to a foreign address");
    assert_eq!(
        p.b.local_endpoint(s),
        Ok(dst),
        "local end is the original destination"
    );
    assert_eq!(p.b.info(s).map(|i| i.local), Ok(dst));
    p.a.send(c, b"hello").expect("send");
    p.settle();
    let mut got = Vec::new();
    read_all(&mut p.b, s, &mut got);
    assert_eq!(got, b"hello");
    // Without the mode, the same packet is not for us.
    let mut plain = stack_with(config(5), &[B4]);
    let syn = ipv4_packet(
        A4,
        "198.51.100.7",
        6,
        &tcp4(A4, 4000, "198.51.100.7", 443, 1, 0, 2, b""),
        None,
    );
    assert_eq!(plain.feed(p.now, &syn), Err(PacketError::NotForUs));
}

#[test]
fn poll_transmit_keeps_a_packet_that_does_not_fit() {
    let mut p = Pair::new();
    let _l = p.b.listen(ListenAddr::Any, 80, 8).expect("listen");
    let _c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    let mut tiny = [0u8; 10];
    let needed = match p.a.poll_transmit(p.now, &mut tiny) {
        Err(Error::BufferTooSmall { needed }) => needed,
        other => panic!("expected BufferTooSmall, got {other:?}"),
    };
    assert!(needed > 40);
    assert_eq!(
        p.a.poll_transmit(p.now, &mut tiny),
        Err(Error::BufferTooSmall { needed }),
        "kept"
    );
    let mut buf = vec![0u8; needed];
    assert_eq!(p.a.poll_transmit(p.now, &mut buf), Ok(needed));
    p.b.feed(p.now, &buf).expect("the kept SYN is valid");
    p.settle();
    assert!(p.b.counters().connections_active == 1);
}

#[test]
fn events_are_edge_triggered_and_at_most_one_per_kind() {
    let mut p = Pair::new();
    let (c, s, _) = connect_pair(&mut p, B4, 80);
    p.a.set_option(c, tcpkit::stack::ConnOption::NoDelay, 1)
        .expect("nodelay");
    assert_eq!(p.a.get_option(c, tcpkit::stack::ConnOption::NoDelay), Ok(1));
    p.b.set_option(s, tcpkit::stack::ConnOption::UserData, 0xfeed)
        .expect("user data");
    for i in 0..10u8 {
        p.a.send(c, &[i; 100]).expect("send");
        p.settle();
    }
    let eb = drain(&mut p.b);
    let readable: Vec<_> = eb
        .iter()
        .filter(|e| e.kind == EventKind::Readable)
        .collect();
    assert_eq!(readable.len(), 1, "one READABLE for ten segments: {eb:?}");
    assert_eq!(readable[0].user_data, 0xfeed);
    let mut got = Vec::new();
    read_all(&mut p.b, s, &mut got);
    assert_eq!(got.len(), 1000);
    // The application found nothing: the next data raises READABLE again.
    p.a.send(c, b"more").expect("send");
    p.settle();
    assert!(has(&drain(&mut p.b), EventKind::Readable, s.raw()));

    // WRITABLE only after send returned WouldBlock, once room appears.
    let chunk = vec![0u8; 64 * 1024];
    let mut blocked = false;
    for _ in 0..100 {
        match p.a.send(c, &chunk) {
            Ok(_) => {}
            Err(Error::WouldBlock) => {
                blocked = true;
                break;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(blocked, "send buffer fills");
    assert!(!has(&drain(&mut p.a), EventKind::Writable, c.raw()));
    let mut sink = Vec::new();
    p.run_until(Duration::from_secs(10), |p| {
        read_all(&mut p.b, s, &mut sink);
        false
    });
    let ea = drain(&mut p.a);
    let writable = ea.iter().filter(|e| e.kind == EventKind::Writable).count();
    assert_eq!(writable, 1, "{ea:?}");
}

#[test]
fn new_syn_reuses_a_time_wait_tuple_once_the_handle_is_closed() {
    // Without timestamps RFC 6191 decides by sequence number alone (with
    // per-connection TSval offsets a new SYN's TSval may look older).
    let no_ts = |seed| tcpkit::stack::Config {
        enable_timestamps: false,
        ..config(seed)
    };
    let mut p = Pair::with(no_ts(1), no_ts(2));
    let l = p.b.listen(ListenAddr::Any, 80, 8).expect("listen");
    let local = sa(A4, 40_000);
    let c = p.a.connect_from(p.now, local, sa(B4, 80)).expect("connect");
    p.settle();
    let s = p.b.accept(l).expect("accept");
    // The server closes first, so the server side ends in TIME-WAIT.
    p.b.shutdown(s).expect("shutdown");
    p.settle();
    p.a.close(c).expect("close");
    p.settle();
    assert_eq!(p.b.state(s), Ok(State::TimeWait));
    // While the application holds the handle, a new SYN on the tuple is ignored.
    p.now += Duration::from_secs(1);
    let c2 =
        p.a.connect_from(p.now, local, sa(B4, 80))
            .expect("client tuple is free");
    p.settle();
    assert_eq!(p.b.state(s), Ok(State::TimeWait));
    assert_eq!(p.b.accept(l), Err(Error::WouldBlock));
    // Once it is closed, the retransmitted SYN opens a new connection (RFC 6191).
    p.b.close(s).expect("close");
    let ok = p.run_until(Duration::from_secs(5), |p| {
        p.a.state(c2) == Ok(State::Established)
    });
    assert!(ok, "{:?}", p.a.state(c2));
    let s2 = p.b.accept(l).expect("new connection on the old tuple");
    assert_eq!(p.b.remote_endpoint(s2), Ok(local));
}

/// The receive path verifies a data segment's checksum while copying it into
/// the ring (fused): a corrupted in-order segment must still be counted and
/// dropped with nothing changed (no data, no ACK effect, same connection
/// info), and the good copy that follows must deliver the original bytes,
/// not what the bad one left in the ring's free space.
#[test]
fn corrupted_in_order_data_is_dropped_with_nothing_changed() {
    let mut p = Pair::new();
    let (c, s, _) = connect_pair(&mut p, B4, 80);
    // Each small segment goes out at once (no Nagle wait for the delayed ACK).
    p.a.set_option(c, tcpkit::stack::ConnOption::NoDelay, 1)
        .expect("nodelay");
    let mut buf = vec![0u8; 65536];
    // Each round sends one segment that the receiver would take in order; the
    // corrupted byte moves through the payload, and through the ring's wrap.
    let mut got = Vec::new();
    let mut want = Vec::new();
    for round in 0..200usize {
        let data = pattern(700 + round * 37 % 800, round as u32);
        assert_eq!(p.a.send(c, &data), Ok(data.len()));
        want.extend_from_slice(&data);
        let len = p.a.poll_transmit(p.now, &mut buf).expect("a data segment");
        let pkt = buf[..len].to_vec();
        let before = p.b.info(s).expect("info");
        let dropped_before = p.b.counters().dropped_checksum;
        let mut bad = pkt.clone();
        let at = len - 1 - (round * 13) % data.len();
        bad[at] ^= 0x5a;
        assert_eq!(p.b.feed(p.now, &bad), Err(PacketError::Checksum));
        assert_eq!(p.b.counters().dropped_checksum, dropped_before + 1);
        assert_eq!(p.b.info(s).expect("info"), before, "nothing changed");
        assert_eq!(
            p.b.poll_transmit(p.now, &mut buf),
            Err(Error::WouldBlock),
            "no ACK for a bad segment"
        );
        p.b.feed(p.now, &pkt).expect("the good copy is taken");
        p.settle();
        // Read only every third round, so the ring fills, wraps, and
        // corrupted bytes land at odd and even positions.
        if round % 3 == 2 {
            read_all(&mut p.b, s, &mut got);
        }
    }
    read_all(&mut p.b, s, &mut got);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "bytes delivered intact");
}

/// An idle connection's in-flight box was released after the handshake; the
/// stack rebuilds it from its pool of released boxes for the next segment.
/// A corrupted segment must give the box back (the pool, counted in
/// `table_heap_bytes`, is as before), or the idle connection would keep it
/// with no release scheduled; the good copy then takes it.
#[test]
fn corrupted_segment_to_an_idle_connection_keeps_no_box() {
    let mut p = Pair::new();
    let (c, s, _) = connect_pair(&mut p, B4, 80);
    p.settle();
    let mut buf = vec![0u8; 65536];
    let data = pattern(500, 3);
    assert_eq!(p.a.send(c, &data), Ok(data.len()));
    let len = p.a.poll_transmit(p.now, &mut buf).expect("a data segment");
    let pkt = buf[..len].to_vec();
    let pool_before = p.b.table_heap_bytes();
    let mut bad = pkt.clone();
    bad[len - 1] ^= 0x5a;
    assert_eq!(p.b.feed(p.now, &bad), Err(PacketError::Checksum));
    assert_eq!(
        p.b.table_heap_bytes(),
        pool_before,
        "the box went back to the pool"
    );
    p.b.feed(p.now, &pkt).expect("the good copy is taken");
    assert!(
        p.b.table_heap_bytes() < pool_before,
        "the good copy rebuilt the box from the pool"
    );
    p.settle();
    let mut got = Vec::new();
    read_all(&mut p.b, s, &mut got);
    assert_eq!(got, data);
}

/// A compacted TIME-WAIT connection is rebuilt for a segment that matches
/// it, but only once the segment's checksum verified: a corrupted one is
/// counted and changes nothing (the checksum is otherwise verified inside
/// the connection, after the demux).
#[test]
fn corrupted_segment_does_not_revive_a_time_wait_record() {
    let mut p = Pair::new();
    let (c, s, _) = connect_pair(&mut p, B4, 80);
    let client = p.a.local_endpoint(c).expect("local");
    p.a.close(c).expect("close client");
    p.settle();
    p.b.close(s).expect("close server");
    p.settle();
    drain(&mut p.a);
    assert_eq!(
        p.a.counters().time_wait_active,
        1,
        "client in compact TIME-WAIT"
    );
    let seg = tcp4(B4, 80, A4, client.port(), 12345, 0, 0x18, b"late data");
    let good = ipv4_packet(B4, A4, 6, &seg, None);
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    let before = (
        p.a.counters().connections_active,
        p.a.counters().dropped_checksum,
    );
    assert_eq!(p.a.feed(p.now, &bad), Err(PacketError::Checksum));
    let c2 = p.a.counters();
    assert_eq!(c2.time_wait_active, 1, "record not rebuilt");
    assert_eq!(
        (c2.connections_active, c2.dropped_checksum),
        (before.0, before.1 + 1)
    );
    p.a.feed(p.now, &good).expect("an intact segment is taken");
}

/// The stack keeps an unaccepted connection's listener in the word that
/// holds the user data after `accept`: none of it may show as user data.
/// Data that arrived before `accept` is reported with user data 0, a second
/// queued connection still finds its listener, and user data set after
/// `accept` is what later events carry.
#[test]
fn user_data_starts_at_zero_for_accepted_connections() {
    use tcpkit::stack::ConnOption::UserData;
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let c1 = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    let c2 = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    p.a.send(c1, b"early").expect("send");
    p.settle();
    drain(&mut p.a);
    drain(&mut p.b);
    let s1 = p.b.accept(l).expect("accept");
    assert_eq!(p.b.get_option(s1, UserData), Ok(0));
    let eb = drain(&mut p.b);
    let early: Vec<_> = eb.iter().filter(|e| e.handle == s1.raw()).collect();
    assert!(
        early.iter().any(|e| e.kind == EventKind::Readable),
        "deferred READABLE: {eb:?}"
    );
    assert!(early.iter().all(|e| e.user_data == 0), "{eb:?}");
    p.b.set_option(s1, UserData, 0xabc).expect("user data");
    let s2 =
        p.b.accept(l)
            .expect("the second connection kept its listener");
    assert_eq!(p.b.get_option(s2, UserData), Ok(0));
    assert_eq!(p.b.get_option(s1, UserData), Ok(0xabc));
    let mut got = Vec::new();
    read_all(&mut p.b, s1, &mut got);
    assert_eq!(got, b"early");
    p.a.send(c1, b"late").expect("send");
    p.a.send(c2, b"two").expect("send");
    p.settle();
    let eb = drain(&mut p.b);
    let user_data_of = |h: u64| {
        eb.iter()
            .find(|e| e.kind == EventKind::Readable && e.handle == h)
            .map(|e| e.user_data)
    };
    assert_eq!(user_data_of(s1.raw()), Some(0xabc), "{eb:?}");
    assert_eq!(user_data_of(s2.raw()), Some(0), "{eb:?}");
}
