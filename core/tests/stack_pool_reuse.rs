//! The stack's in-flight box pool hands the buffer memory of ended
//! connections (send/receive rings, out-of-order ranges, SACK scoreboard,
//! RACK log) to new ones. No byte and no range of an old connection may
//! reach a new connection's peer or application, however the old one ended
//! (abort with data buffered, RST from the peer, close with unread data,
//! TIME-WAIT record revived by a new SYN) and whatever buffer limits the new
//! one uses. Connection 1 moves a marker pattern and ends holding it in its
//! rings (or having read it, so the ring memory still holds it); connection 2
//! then takes the pooled box, and neither its packets nor its received bytes
//! may contain the marker, and its streams must arrive intact.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{Config, ConnHandle, ConnOption, ListenAddr, ListenerHandle, State};
use tcpkit::Duration;
use util::*;

/// What connection 1 writes: recognisable anywhere in a packet or stream.
const MARK: &[u8] = b"#STALE-CONN-1#";

fn marker(len: usize) -> Vec<u8> {
    marker_of(MARK, len)
}

/// Whether `hay` holds a piece of the marker long enough not to be chance.
fn has_marker(hay: &[u8]) -> bool {
    holds_marker(MARK, hay)
}

/// The TCP payload and sequence number of a packet the stack emitted
/// (IPv4, or IPv6 without extension headers).
fn tcp_payload(pkt: &[u8]) -> (u32, &[u8]) {
    let (start, end) = if pkt[0] >> 4 == 6 {
        (40, 40 + usize::from(u16::from_be_bytes([pkt[4], pkt[5]])))
    } else {
        let ihl = usize::from(pkt[0] & 0x0f) * 4;
        (ihl, usize::from(u16::from_be_bytes([pkt[2], pkt[3]])))
    };
    let tcp = &pkt[start..end];
    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    let doff = usize::from(tcp[12] >> 4) * 4;
    (seq, &tcp[doff..])
}

/// A lossless link that records every packet, except that it can lose one
/// a->b data segment and every retransmission of it (a lasting hole).
struct Link {
    wire: Vec<Vec<u8>>,
    make_hole: bool,
    hole: Option<u32>,
}

impl Link {
    fn new() -> Link {
        Link {
            wire: Vec::new(),
            make_hole: false,
            hole: None,
        }
    }
}

impl HandLink for Link {
    /// Moves what each side has ready once; returns how many packets moved.
    fn step(&mut self, p: &mut Pair) -> usize {
        let mut buf = vec![0u8; 65536];
        let mut n = 0;
        while let Ok(len) = p.a.poll_transmit(p.now, &mut buf) {
            n += 1;
            let pkt = buf[..len].to_vec();
            let (seq, data) = tcp_payload(&pkt);
            if self.make_hole && !data.is_empty() && *self.hole.get_or_insert(seq) == seq {
                continue;
            }
            assert_eq!(p.b.feed(p.now, &pkt), Ok(()), "b takes a's packet");
            self.wire.push(pkt);
        }
        while let Ok(len) = p.b.poll_transmit(p.now, &mut buf) {
            n += 1;
            let pkt = buf[..len].to_vec();
            assert_eq!(p.a.feed(p.now, &pkt), Ok(()), "a takes b's packet");
            self.wire.push(pkt);
        }
        n
    }
}

/// How connection 1 ends.
#[derive(Clone, Copy, Debug)]
enum End {
    /// The client aborts (RST) with data buffered both ways.
    ClientAborts,
    /// The server aborts: the client's connection is reset by its peer.
    ServerAborts,
    /// The server closes with unread data (RFC 2525 §2.17: RST).
    ServerClosesUnread,
    /// Everything is read, the server closes first and its orphan becomes a
    /// TIME-WAIT record; connection 2 reuses the 4-tuple, so its SYN
    /// rebuilds the record first (the rebuilt connection takes a pooled box).
    OrderlyThroughTimeWait,
}

/// Buffer limits of connection 2, set with `set_option` on both ends.
#[derive(Clone, Copy, Debug)]
enum Limits {
    AsConfigured,
    Smaller,
    Larger,
}

fn open(
    p: &mut Pair,
    link: &mut Link,
    l: ListenerHandle,
    port: u16,
    to: &str,
) -> (ConnHandle, ConnHandle) {
    let c = p.a.connect(p.now, sa(to, 80), port).expect("connect");
    let mut s = None;
    let ok = link.run(p, Duration::from_secs(130), |p| {
        s = s.or_else(|| p.b.accept(l).ok());
        s.is_some() && p.a.state(c) == Ok(State::Established)
    });
    assert!(ok, "handshake completes");
    (c, s.expect("accepted"))
}

/// Writes as much of `data` as `s` takes.
fn push_all(s: &mut tcpkit::stack::Stack, c: ConnHandle, data: &[u8]) -> usize {
    let mut sent = 0;
    while sent < data.len() {
        match s.send(c, &data[sent..]) {
            Ok(n) if n > 0 => sent += n,
            _ => break,
        }
    }
    sent
}

/// Connection 1: fills both directions with the marker and ends as `end` says.
/// Returns the client's local port.
fn first_connection(p: &mut Pair, link: &mut Link, l: ListenerHandle, end: End) -> u16 {
    let (c, s) = open(p, link, l, 0, B4);
    let port = p.a.local_endpoint(c).expect("local").port();
    let data = marker(40_000);
    match end {
        End::OrderlyThroughTimeWait => {
            // Everything delivered and read: the rings' memory still holds it.
            let (mut at_a, mut at_b, mut got_a, mut got_b) = (0, 0, Vec::new(), Vec::new());
            let ok = link.run(p, Duration::from_secs(60), |p| {
                at_a += push_all(&mut p.a, c, &data[at_a..]);
                at_b += push_all(&mut p.b, s, &data[at_b..]);
                read_all(&mut p.a, c, &mut got_a);
                read_all(&mut p.b, s, &mut got_b);
                got_a.len() == data.len() && got_b.len() == data.len()
            });
            assert!(ok, "connection 1 delivers");
            assert!(got_a == data && got_b == data, "connection 1 intact");
            p.b.close(s).expect("server closes first");
            link.settle(p);
            p.a.close(c).expect("client closes");
            let ok = link.run(p, Duration::from_secs(10), |p| {
                p.a.counters().connections_active == 0
                    && p.b.counters().time_wait_active == 1
                    && p.b.counters().connections_active == 1
            });
            assert!(ok, "the server's end is a TIME-WAIT record");
        }
        _ => {
            // A lasting hole a->b: b holds out-of-order marker ranges, a a
            // SACK scoreboard, a RACK log and a full send ring; b->a fills
            // a's receive ring (nothing is read).
            link.make_hole = true;
            for _ in 0..20 {
                push_all(&mut p.a, c, &data);
                push_all(&mut p.b, s, &data);
                link.settle(p);
            }
            assert_eq!(p.a.state(c), Ok(State::Established), "connection 1 open");
            assert_eq!(p.b.state(s), Ok(State::Established), "connection 1 open");
            match end {
                End::ClientAborts => p.a.abort(c).expect("abort"),
                End::ServerAborts => p.b.abort(s).expect("abort"),
                _ => p.b.close(s).expect("close with unread data"),
            }
            link.make_hole = false;
            link.settle(p);
            // Whichever handles are still held are closed now.
            let _ = p.a.close(c);
            let _ = p.b.close(s);
            let ok = link.run(p, Duration::from_secs(10), |p| {
                p.a.counters().connections_active == 0 && p.b.counters().connections_active == 0
            });
            assert!(ok, "{end:?}: both ends reaped");
        }
    }
    drain(&mut p.a);
    drain(&mut p.b);
    port
}

/// Connection 1 over IPv4, then connection 2 (over IPv6 if `v6`: the pool
/// is per stack, shared by both families).
fn reuse_after(end: End, limits: Limits, v6: bool) {
    let cfg = |seed| Config {
        send_buffer: 16 * 1024,
        recv_buffer: 16 * 1024,
        ..config(seed)
    };
    let mut p = Pair::with(cfg(1), cfg(2));
    let mut link = Link::new();
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let port = first_connection(&mut p, &mut link, l, end);
    let pooled = (p.a.table_heap_bytes(), p.b.table_heap_bytes());

    // Connection 2: same port for the TIME-WAIT case, else a fresh one.
    link.wire.clear();
    let port2 = match end {
        End::OrderlyThroughTimeWait => port,
        _ => 0,
    };
    let (c, s) = open(&mut p, &mut link, l, port2, if v6 { B6 } else { B4 });
    if matches!(end, End::OrderlyThroughTimeWait) {
        assert!(
            p.b.counters().time_wait_active == 0,
            "the record was rebuilt and gave way to the new connection"
        );
    }
    let size = match limits {
        Limits::AsConfigured => None,
        Limits::Smaller => Some(1024),
        Limits::Larger => Some(200_000),
    };
    if let Some(size) = size {
        for (st, h) in [(&mut p.a, c), (&mut p.b, s)] {
            st.set_option(h, ConnOption::SendBuffer, size)
                .expect("send buffer");
            st.set_option(h, ConnOption::RecvBuffer, size)
                .expect("recv buffer");
        }
    }
    let to_b = pattern(50_000, 7);
    let to_a = pattern(30_000, 8);
    let (mut at_a, mut at_b, mut got_a, mut got_b) = (0, 0, Vec::new(), Vec::new());
    let mut min_heap = pooled;
    let ok = link.run(&mut p, Duration::from_secs(120), |p| {
        at_a += push_all(&mut p.a, c, &to_b[at_a..]);
        at_b += push_all(&mut p.b, s, &to_a[at_b..]);
        // Small reads, after the pushes: the rings wrap and hold unread data.
        let mut buf = [0u8; 700];
        while let Ok(n @ 1..) = p.a.recv(c, &mut buf) {
            got_a.extend_from_slice(&buf[..n]);
        }
        while let Ok(n @ 1..) = p.b.recv(s, &mut buf) {
            got_b.extend_from_slice(&buf[..n]);
        }
        min_heap.0 = min_heap.0.min(p.a.table_heap_bytes());
        min_heap.1 = min_heap.1.min(p.b.table_heap_bytes());
        got_a.len() >= to_a.len() && got_b.len() >= to_b.len()
    });
    assert!(ok, "{end:?}/{limits:?}: connection 2 delivers");
    assert!(
        !has_marker(&got_a) && !has_marker(&got_b),
        "{end:?}/{limits:?}: marker read"
    );
    assert!(got_a == to_a, "{end:?}/{limits:?}: a's stream intact");
    assert!(got_b == to_b, "{end:?}/{limits:?}: b's stream intact");
    let leaked = link.wire.iter().filter(|pkt| has_marker(pkt)).count();
    assert_eq!(leaked, 0, "{end:?}/{limits:?}: packets with marker bytes");
    assert_eq!(p.a.state(c), Ok(State::Established));
    assert_eq!(p.b.state(s), Ok(State::Established));
    // Nothing was lost on the link: loss state (scoreboard, RACK log,
    // recovery) left over from connection 1 would show as retransmissions.
    for info in [p.a.info(c).expect("info"), p.b.info(s).expect("info")] {
        assert_eq!(
            (
                info.tcp.segs_retransmitted,
                info.tcp.timeouts,
                info.tcp.sack_recoveries
            ),
            (0, 0, 0),
            "{end:?}/{limits:?}: {info:?}"
        );
    }
    // The test means something only if connection 2 took pooled memory:
    // the pool (in the table bytes) gave up at least one ring's worth.
    let handed = (pooled.0.saturating_sub(min_heap.0)).max(pooled.1.saturating_sub(min_heap.1));
    assert!(
        handed >= 1024,
        "{end:?}/{limits:?}: no buffer memory came from the pool ({pooled:?} -> {min_heap:?})"
    );
}

#[test]
fn client_abort_with_data_buffered_leaks_nothing() {
    for limits in [Limits::AsConfigured, Limits::Smaller, Limits::Larger] {
        reuse_after(End::ClientAborts, limits, false);
    }
}

#[test]
fn reset_by_peer_with_data_buffered_leaks_nothing() {
    for limits in [Limits::AsConfigured, Limits::Smaller, Limits::Larger] {
        reuse_after(End::ServerAborts, limits, false);
    }
}

#[test]
fn close_with_unread_data_leaks_nothing() {
    for limits in [Limits::AsConfigured, Limits::Smaller, Limits::Larger] {
        reuse_after(End::ServerClosesUnread, limits, false);
    }
}

#[test]
fn time_wait_record_rebuilt_by_a_new_syn_leaks_nothing() {
    for limits in [Limits::AsConfigured, Limits::Smaller, Limits::Larger] {
        reuse_after(End::OrderlyThroughTimeWait, limits, false);
    }
}

/// An IPv6 connection takes the box an IPv4 one left.
#[test]
fn an_ipv6_connection_after_an_ipv4_one_leaks_nothing() {
    for end in [End::ClientAborts, End::ServerClosesUnread] {
        for limits in [Limits::AsConfigured, Limits::Smaller] {
            reuse_after(end, limits, true);
        }
    }
}

/// The marker detector finds the marker at any phase, and not in the
/// fresh patterns (so the tests above can fail, and only for stale bytes).
#[test]
fn marker_detection_works() {
    let m = marker(100);
    for start in 0..MARK.len() {
        assert!(has_marker(&m[start..start + 12]), "phase {start}");
    }
    assert!(!has_marker(&pattern(50_000, 7)));
    assert!(!has_marker(&pattern(30_000, 8)));
}
