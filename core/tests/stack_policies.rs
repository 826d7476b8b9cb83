//! Stack policies at their limits: a full accept queue (Linux's
//! tcp_abort_on_overflow = 0), ICMP hard and soft errors during the handshake
//! (RFC 1122 §4.2.3.9, RFC 5461), and the fragment reassembly caps.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{Config, ConnHandle, Error, EventKind, ListenAddr, State};
use tcpkit::{Duration, Instant};
use util::*;

// ----------------------------------------------------------------------
// full accept queue
// ----------------------------------------------------------------------

/// Backlog 1, two clients complete their handshakes at once and nobody
/// accepts: the second completing ACK (and the data behind it) is dropped,
/// not reset; after `accept` both connections complete and carry data.
#[test]
fn full_accept_queue_keeps_the_handshake_until_accept() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 1).expect("listen");
    let c1 = p.a.connect(p.now, sa(B4, 80), 0).expect("connect 1");
    let c2 = p.a.connect(p.now, sa(B6, 80), 0).expect("connect 2");
    p.settle();
    // Both clients saw the SYN-ACK, so from their side the handshake is done.
    assert_eq!(p.a.state(c1), Ok(State::Established));
    assert_eq!(p.a.state(c2), Ok(State::Established));
    assert!(p.b.counters().listen_overflows >= 1, "no overflow counted");
    // The clients send before anyone accepts; time passes (SYN-ACK retransmissions).
    let (d1, d2) = (pattern(3000, 1), pattern(5000, 2));
    assert_eq!(p.a.send(c1, &d1), Ok(d1.len()));
    assert_eq!(p.a.send(c2, &d2), Ok(d2.len()));
    p.run_until(Duration::from_secs(4), |_| false);
    let events = drain(&mut p.a);
    assert!(
        !events.iter().any(|e| e.kind == EventKind::Closed),
        "a client was closed: {events:?}"
    );
    assert_eq!(p.b.counters().rst_sent, 0, "the server sent a RST");
    assert_eq!(p.a.state(c2), Ok(State::Established));
    // Accept one; the other completes on the client's next segment.
    let s1 = p.b.accept(l).expect("first queued connection");
    assert_eq!(p.b.accept(l), Err(Error::WouldBlock), "queue held only one");
    let mut s2 = None;
    let done = p.run_until(Duration::from_secs(30), |p| {
        if s2.is_none() {
            s2 = p.b.accept(l).ok();
        }
        s2.is_some()
    });
    assert!(done, "second connection never completed after accept");
    let s2 = s2.expect("accepted");
    assert_eq!(p.b.counters().rst_sent, 0);
    for (c, s, data) in [(c1, s1, d1), (c2, s2, d2)] {
        echo_both_ways(&mut p, c, s, &data);
    }
}

/// The server reads `data` from `s`, sends it back, and the client reads it.
fn echo_both_ways(p: &mut Pair, c: ConnHandle, s: ConnHandle, data: &[u8]) {
    let mut got = Vec::new();
    p.run_until(Duration::from_secs(30), |p| {
        read_all(&mut p.b, s, &mut got);
        got.len() >= data.len()
    });
    assert_eq!(got, data, "server received the client's bytes");
    assert_eq!(p.b.send(s, &got), Ok(got.len()));
    let mut back = Vec::new();
    p.run_until(Duration::from_secs(30), |p| {
        read_all(&mut p.a, c, &mut back);
        back.len() >= data.len()
    });
    assert_eq!(back, data, "client received the echo");
}

// ----------------------------------------------------------------------
// ICMP errors during SYN-SENT
// ----------------------------------------------------------------------

/// A client stack's SYN toward `dst`, taken off the wire (never delivered).
fn syn_toward(dst: &str) -> (tcpkit::stack::Stack, ConnHandle, Vec<u8>) {
    let mut a = stack_with(config(3), &[A4, A6]);
    let c = a.connect(Instant::ZERO, sa(dst, 80), 0).expect("connect");
    let mut buf = vec![0u8; 2000];
    let n = a.poll_transmit(Instant::ZERO, &mut buf).expect("SYN");
    buf.truncate(n);
    (a, c, buf)
}

/// An ICMPv4 error from a router (198.51.100.1) to A4 quoting `quoted`'s IP header + 8 bytes.
fn icmp4_error(ty: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
    icmp4_error_to(A4, ty, code, quoted)
}

fn icmp4_error_to(dst: &str, ty: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
    let mut icmp = vec![ty, code, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&quoted[..28]);
    let ck = csum(&icmp, 0);
    icmp[2..4].copy_from_slice(&ck.to_be_bytes());
    ipv4_packet("198.51.100.1", dst, 1, &icmp, None)
}

/// An ICMPv6 error from a router (2001:db8:1::1) quoting `quoted`'s first 48 bytes.
fn icmp6_error(ty: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
    let mut icmp = vec![ty, code, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&quoted[..48]);
    ipv6_packet("2001:db8:1::1", A6, 58, &icmp, Some(2))
}

fn closed_reason(s: &mut tcpkit::stack::Stack, c: ConnHandle) -> Option<Option<Error>> {
    drain(s)
        .into_iter()
        .find(|e| e.kind == EventKind::Closed && e.handle == c.raw())
        .map(|e| e.reason)
}

/// Hard errors (port / protocol unreachable, administratively prohibited,
/// their IPv6 equivalents) abort a connection in SYN-SENT with REFUSED.
#[test]
fn icmp_hard_error_in_syn_sent_refuses_the_connection() {
    let cases: [(&str, u8, u8); 8] = [
        (B4, 3, 3),  // port unreachable
        (B4, 3, 2),  // protocol unreachable
        (B4, 3, 13), // communication administratively prohibited
        (B4, 3, 10), // host administratively prohibited
        (B6, 1, 4),  // port unreachable
        (B6, 1, 1),  // administratively prohibited
        (B6, 1, 6),  // reject route to destination
        (B6, 4, 1),  // parameter problem: unrecognized next header
    ];
    for (dst, ty, code) in cases {
        let (mut a, c, syn) = syn_toward(dst);
        let err = if dst == B4 {
            icmp4_error(ty, code, &syn)
        } else {
            icmp6_error(ty, code, &syn)
        };
        a.feed(Instant::from_millis(5), &err).expect("ICMP for us");
        assert_eq!(a.counters().icmp_errors_delivered, 1, "{dst} {ty}/{code}");
        assert_eq!(
            closed_reason(&mut a, c),
            Some(Some(Error::Refused)),
            "{dst} type {ty} code {code}"
        );
        assert_eq!(a.state(c), Ok(State::Closed));
        assert_eq!(
            a.send(c, b"x"),
            Err(Error::Refused),
            "calls return the reason"
        );
        // No SYN retransmission follows.
        let mut buf = vec![0u8; 2000];
        for _ in 0..10 {
            let Some(t) = a.poll_timeout() else { break };
            a.handle_timeout(t);
            assert!(a.poll_transmit(t, &mut buf).is_err(), "sent after abort");
        }
    }
}

/// Soft errors (net / host unreachable) change nothing at once; the
/// connection keeps retrying and, if it then times out, reports REFUSED
/// (the remembered error) rather than TIMED_OUT. Without an ICMP error the
/// same timeout is TIMED_OUT.
#[test]
fn icmp_soft_error_in_syn_sent_is_reported_only_at_timeout() {
    let cfg = Config {
        max_retries: 2,
        ..config(3)
    };
    for (dst, ty, code, soft) in [
        (B4, 3, 1, true), // host unreachable
        (B4, 3, 0, true), // net unreachable
        (B6, 1, 3, true), // address unreachable
        (B6, 1, 0, true), // no route to destination
        (B4, 0, 0, false),
        (B6, 0, 0, false),
    ] {
        let mut a = stack_with(cfg.clone(), &[A4, A6]);
        let c = a.connect(Instant::ZERO, sa(dst, 80), 0).expect("connect");
        let mut buf = vec![0u8; 2000];
        let n = a.poll_transmit(Instant::ZERO, &mut buf).expect("SYN");
        if soft {
            let err = if dst == B4 {
                icmp4_error(ty, code, &buf[..n])
            } else {
                icmp6_error(ty, code, &buf[..n])
            };
            a.feed(Instant::from_millis(5), &err).expect("ICMP for us");
            assert_eq!(a.counters().icmp_errors_delivered, 1);
            assert_eq!(closed_reason(&mut a, c), None, "soft error closed it");
            assert_eq!(a.state(c), Ok(State::SynSent));
        }
        // Run the SYN retransmissions out.
        let mut syns = 0;
        for _ in 0..20 {
            let Some(t) = a.poll_timeout() else { break };
            a.handle_timeout(t);
            while a.poll_transmit(t, &mut buf).is_ok() {
                syns += 1;
            }
        }
        assert_eq!(syns, 2, "the SYN was retransmitted max_retries times");
        let want = if soft {
            Error::Refused
        } else {
            Error::TimedOut
        };
        assert_eq!(
            closed_reason(&mut a, c),
            Some(Some(want)),
            "{dst} {ty}/{code}"
        );
    }
}

/// An ICMP error that does not quote the SYN's sequence number (RFC 5927)
/// leaves the handshake alone.
#[test]
fn icmp_hard_error_quoting_another_sequence_is_ignored() {
    let (mut a, c, mut syn) = syn_toward(B4);
    let seq = u32::from_be_bytes([syn[24], syn[25], syn[26], syn[27]]);
    syn[24..28].copy_from_slice(&seq.wrapping_add(100_000).to_be_bytes());
    a.feed(Instant::from_millis(5), &icmp4_error(3, 3, &syn))
        .expect("ICMP for us");
    assert_eq!(a.counters().icmp_errors_ignored, 1);
    assert_eq!(closed_reason(&mut a, c), None);
    assert_eq!(a.state(c), Ok(State::SynSent));
}

/// A hard error quoting a listener's SYN-ACK drops the half-open
/// connection silently: nothing to accept, nothing left, no RST.
#[test]
fn icmp_hard_error_in_syn_received_drops_the_half_open_connection() {
    let mut b = stack_with(config(4), &[B4]);
    let l = b.listen(ListenAddr::Any, 80, 8).expect("listen");
    let syn = tcp4(A4, 4000, B4, 80, 1000, 0, 0x02, &[]);
    b.feed(Instant::ZERO, &ipv4_packet(A4, B4, 6, &syn, None))
        .expect("SYN");
    let mut buf = vec![0u8; 2000];
    let n = b.poll_transmit(Instant::ZERO, &mut buf).expect("SYN-ACK");
    assert_eq!(buf[33], 0x12, "SYN-ACK");
    assert_eq!(b.counters().connections_active, 1);
    b.feed(
        Instant::from_millis(5),
        &icmp4_error_to(B4, 3, 3, &buf[..n]),
    )
    .expect("ICMP");
    assert_eq!(b.counters().icmp_errors_delivered, 1);
    assert_eq!(b.counters().connections_active, 0, "half-open entry kept");
    assert_eq!(b.accept(l), Err(Error::WouldBlock));
    assert!(b.poll_transmit(Instant::from_millis(5), &mut buf).is_err());
}

/// After the handshake, hard errors are treated as soft (RFC 5461 §4): an
/// established connection keeps working.
#[test]
fn icmp_hard_error_on_an_established_connection_is_ignored() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 8).expect("listen");
    let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    let s = p.b.accept(l).expect("accept");
    let data = pattern(20_000, 9);
    p.a.send(c, &data).expect("send");
    let mut buf = vec![0u8; 2000];
    let n = p.a.poll_transmit(p.now, &mut buf).expect("data segment");
    p.b.feed(p.now, &buf[..n]).expect("deliver");
    p.a.feed(p.now, &icmp4_error(3, 3, &buf[..n]))
        .expect("ICMP");
    assert_eq!(p.a.counters().icmp_errors_delivered, 1);
    assert_eq!(p.a.state(c), Ok(State::Established));
    let mut got = Vec::new();
    p.run_until(Duration::from_secs(10), |p| {
        read_all(&mut p.b, s, &mut got);
        got.len() >= data.len()
    });
    assert_eq!(got, data);
}

// ----------------------------------------------------------------------
// fragment reassembly caps
// ----------------------------------------------------------------------

/// First fragment (8 bytes at offset 0) of UDP datagram `id`.
fn first_fragment(id: u16, dgram: &[u8]) -> Vec<u8> {
    ipv4_packet(A4, B4, 17, &dgram[..8], Some((id, 0, true)))
}

/// The 64-datagram cap evicts the oldest reassembly, counted; the others still complete.
#[test]
fn fragment_datagram_cap_evicts_the_oldest_and_counts_it() {
    let mut s = stack_with(config(1), &[B4]);
    let u = s.udp_bind(sa(B4, 5000)).expect("bind");
    let data = pattern(64, 4);
    let dgram = udp4(A4, 1234, B4, 5000, &data);
    let t = Instant::ZERO;
    for id in 1..=65u16 {
        s.feed(t, &first_fragment(id, &dgram)).expect("fragment");
    }
    assert_eq!(s.counters().fragments_evicted, 1, "the 65th evicts one");
    let rest = |id: u16| ipv4_packet(A4, B4, 17, &dgram[8..], Some((id, 8, false)));
    // The oldest (id 1) is gone: its last fragment alone completes nothing.
    s.feed(t, &rest(1)).expect("fragment");
    let mut buf = vec![0u8; 4000];
    assert_eq!(s.udp_recv_from(u, &mut buf), Err(Error::WouldBlock));
    // The newest (id 65) completes.
    s.feed(t, &rest(65)).expect("fragment");
    let (n, _) = s.udp_recv_from(u, &mut buf).expect("datagram 65");
    assert_eq!(&buf[..n], &data[..]);
}

/// The byte cap (1 MiB) evicts the oldest reassemblies when a new fragment
/// needs room; each eviction is counted.
#[test]
fn fragment_byte_cap_evicts_and_counts() {
    let mut s = stack_with(config(1), &[B4]);
    let t = Instant::ZERO;
    // Each datagram holds a fragment at offset 60000: about 60 KB of buffer.
    let piece = [0u8; 8];
    let n = 30u16;
    for id in 1..=n {
        let f = ipv4_packet(A4, B4, 17, &piece, Some((id, 60_000, true)));
        s.feed(t, &f).expect("fragment");
    }
    let c = *s.counters();
    // 1 MiB holds at most 17 such datagrams; the rest were evicted.
    assert!(
        c.fragments_evicted >= u64::from(n) - 17,
        "evicted {}",
        c.fragments_evicted
    );
    assert!(c.fragments_evicted < u64::from(n));
    assert_eq!(c.fragments_in, u64::from(n));
}

// ----------------------------------------------------------------------
// segments for no connection
// ----------------------------------------------------------------------

/// RFC 9293 §3.10.7.2: in LISTEN a segment with neither SYN, ACK nor RST
/// (bare data, a lone FIN) is dropped without a RST; to a closed port
/// (§3.10.7.1) the same segment gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
/// A SYN+FIN to a listener is dropped too.
#[test]
fn listener_drops_segments_without_syn_or_ack() {
    let mut s = stack_with(config(1), &[B4]);
    s.listen(ListenAddr::Any, 80, 8).expect("listen");
    let mut buf = vec![0u8; 2000];
    for (flags, data) in [(0x00u8, &b"hello"[..]), (0x01, &b""[..]), (0x09, &b"x"[..])] {
        let seg = tcp4(A4, 4000, B4, 80, 1000, 0, flags, data);
        s.feed(Instant::ZERO, &ipv4_packet(A4, B4, 6, &seg, None))
            .expect("for us");
        assert!(
            s.poll_transmit(Instant::ZERO, &mut buf).is_err(),
            "listener answered flags {flags:#x}"
        );
        let seg = tcp4(A4, 4000, B4, 81, 1000, 0, flags, data);
        s.feed(Instant::ZERO, &ipv4_packet(A4, B4, 6, &seg, None))
            .expect("for us");
        let n = s.poll_transmit(Instant::ZERO, &mut buf).expect("RST");
        let tcp = &buf[20..n];
        assert_eq!(tcp[13], 0x14, "RST+ACK for flags {flags:#x}");
        let seg_len = data.len() as u32 + u32::from(flags & 1);
        assert_eq!(
            u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
            1000 + seg_len
        );
    }
    assert_eq!(s.counters().rst_sent, 3);
    // SYN+FIN to a listener opens nothing and is not answered (Linux drops it too).
    let seg = tcp4(A4, 4001, B4, 80, 1000, 0, 0x03, &[]);
    s.feed(Instant::ZERO, &ipv4_packet(A4, B4, 6, &seg, None))
        .expect("for us");
    assert!(
        s.poll_transmit(Instant::ZERO, &mut buf).is_err(),
        "SYN+FIN answered"
    );
    assert_eq!(s.counters().connections_active, 0);
}

/// A half-open passive connection whose SYN-ACKs are never answered gives up
/// after SYNACK_RETRIES retransmissions (Linux tcp_synack_retries), not after
/// the 15 RTOs `max_retries` allows an established connection.
#[test]
fn unanswered_syn_ack_gives_up_after_synack_retries() {
    let mut b = stack_with(config(5), &[B4]);
    let l = b.listen(ListenAddr::Any, 80, 8).expect("listen");
    let syn = tcp4(A4, 4001, B4, 80, 7000, 0, 0x02, &[]);
    b.feed(Instant::ZERO, &ipv4_packet(A4, B4, 6, &syn, None))
        .expect("SYN");
    let mut buf = vec![0u8; 2000];
    let mut syn_acks = 0u32;
    let mut now = Instant::ZERO;
    for _ in 0..64 {
        while let Ok(n) = b.poll_transmit(now, &mut buf) {
            assert!(n > 33);
            assert_eq!(buf[33], 0x12, "only SYN-ACKs are sent");
            syn_acks += 1;
        }
        let Some(t) = b.poll_timeout() else { break };
        now = t.max(now);
        b.handle_timeout(now);
    }
    assert_eq!(
        syn_acks,
        1 + tcpkit::tcp::connection::SYNACK_RETRIES,
        "first SYN-ACK plus the retransmissions"
    );
    assert_eq!(
        b.counters().connections_active,
        0,
        "half-open entry dropped"
    );
    assert!(
        now < Instant::ZERO + Duration::from_secs(120),
        "gave up at {now:?}, not after max_retries backed-off RTOs"
    );
    assert_eq!(b.accept(l), Err(Error::WouldBlock));
}
