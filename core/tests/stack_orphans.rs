//! The orphan bound (`Config::max_orphans`): connections closed by the
//! application that the stack still finishes. At the cap, `close` aborts.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{ConnHandle, Error, EventKind, ListenAddr, ListenerHandle, State};
use tcpkit::Duration;
use util::*;

const CAP: u32 = 4;

/// `n` established connections a -> b; returns (client, server) handles.
fn connections(p: &mut Pair, l: ListenerHandle, n: usize) -> Vec<(ConnHandle, ConnHandle)> {
    let clients: Vec<_> = (0..n)
        .map(|_| p.a.connect(p.now, sa(B4, 80), 0).expect("connect"))
        .collect();
    p.settle();
    let mut pairs = Vec::new();
    for c in clients {
        let s = p.b.accept(l).expect("accepted");
        assert_eq!(p.a.state(c), Ok(State::Established));
        pairs.push((c, s));
    }
    drain(&mut p.a);
    drain(&mut p.b);
    pairs
}

#[test]
fn closes_beyond_max_orphans_abort_and_the_bound_frees_up_after_time_wait() {
    let ca = tcpkit::stack::Config {
        max_orphans: CAP,
        ..config(1)
    };
    let mut p = Pair::with(ca, config(2));
    let l = p.b.listen(ListenAddr::Any, 80, 1024).expect("listen");
    let n = 10;
    let pairs = connections(&mut p, l, n);
    for &(c, _) in &pairs {
        assert_eq!(p.a.close(c), Ok(()));
        assert_eq!(p.a.state(c), Err(Error::InvalidHandle));
    }
    let c = p.a.counters();
    assert_eq!(c.orphans_aborted, (n as u64) - u64::from(CAP));
    p.settle();
    // Once their RSTs are out, the aborted ones are freed: CAP orphans remain.
    assert_eq!(p.a.counters().orphans_active, u64::from(CAP));
    // The peer sees FINs from the first CAP closes and RSTs from the rest.
    let eb = drain(&mut p.b);
    let peer_closed = pairs
        .iter()
        .filter(|(_, s)| has(&eb, EventKind::PeerClosed, s.raw()))
        .count();
    let reset = pairs
        .iter()
        .filter(|(_, s)| p.b.recv(*s, &mut [0u8; 8]) == Err(Error::Reset))
        .count();
    assert_eq!(peer_closed, CAP as usize);
    assert_eq!(reset, n - CAP as usize);
    // The server closes its side: the CAP client orphans go through TIME-WAIT.
    for &(_, s) in &pairs {
        p.b.close(s).expect("close");
    }
    p.settle();
    assert_eq!(p.a.counters().orphans_active, u64::from(CAP));
    // After 2×MSL (60 s by default) the orphans are reaped and closes are
    // orderly again.
    let start = p.now;
    let reaped = p.run_until(Duration::from_secs(120), |p| {
        p.a.counters().orphans_active == 0
    });
    assert!(reaped);
    assert!(
        p.now - start >= Duration::from_secs(59),
        "{:?}",
        p.now - start
    );
    let more = connections(&mut p, l, 2);
    let aborted_before = p.a.counters().orphans_aborted;
    for &(c, _) in &more {
        p.a.close(c).expect("close");
    }
    assert_eq!(p.a.counters().orphans_aborted, aborted_before);
    assert_eq!(p.a.counters().orphans_active, 2);
}

#[test]
fn max_orphans_zero_makes_every_live_close_an_abort() {
    let ca = tcpkit::stack::Config {
        max_orphans: 0,
        ..config(1)
    };
    let mut p = Pair::with(ca, config(2));
    let l = p.b.listen(ListenAddr::Any, 80, 1024).expect("listen");
    let pairs = connections(&mut p, l, 3);
    for &(c, _) in &pairs {
        p.a.close(c).expect("close");
    }
    assert_eq!(p.a.counters().orphans_aborted, 3);
    p.settle();
    for &(_, s) in &pairs {
        assert_eq!(p.b.recv(s, &mut [0u8; 8]), Err(Error::Reset));
    }
    // Nothing is left to finish: every slot is free.
    assert_eq!(p.a.counters().connections_active, 0);
}

#[test]
fn compact_time_wait_re_acks_a_retransmitted_fin_and_is_reaped_at_2msl() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let (c, s) = connections(&mut p, l, 1)[0];
    // The client closes first, so it ends in TIME-WAIT, as an orphan.
    p.a.close(c).expect("close");
    p.settle();
    p.b.close(s).expect("close");
    let mut fin = [0u8; 2048];
    let n =
        p.b.poll_transmit(p.now, &mut fin)
            .expect("the server's FIN");
    let fin = &fin[..n];
    p.a.feed(p.now, fin).expect("FIN in");
    p.settle();
    assert_eq!(p.a.counters().time_wait_active, 1);
    assert_eq!(p.a.counters().orphans_active, 1);
    assert_eq!(p.b.counters().connections_active, 0);
    // 30 s later the FIN comes again (our ACK was lost): it is ACKed, the
    // record stays, and 2×MSL restarts (RFC 9293 §3.10.7.4).
    p.now += Duration::from_secs(30);
    let refed = p.now;
    p.a.feed(p.now, fin).expect("retransmitted FIN");
    let mut ack = [0u8; 2048];
    let n =
        p.a.poll_transmit(p.now, &mut ack)
            .expect("an ACK answers it");
    let tcp = &ack[20..n];
    let flags = tcp[13];
    assert_eq!(flags & 0x10, 0x10, "ACK flag");
    assert_eq!(flags & 0x07, 0, "no SYN, RST or FIN");
    assert_eq!(p.a.poll_transmit(p.now, &mut ack), Err(Error::WouldBlock));
    assert_eq!(p.a.counters().time_wait_active, 1, "compacted again");
    assert_eq!(p.a.counters().orphans_active, 1);
    // Reaped 2×MSL (60 s) after the retransmitted FIN, not before.
    let gone = p.run_until(Duration::from_secs(120), |p| {
        p.a.counters().time_wait_active == 0
    });
    assert!(gone);
    assert!(
        p.now - refed >= Duration::from_secs(60),
        "{:?}",
        p.now - refed
    );
    assert!(
        p.now - refed <= Duration::from_secs(62),
        "{:?}",
        p.now - refed
    );
    let c = p.a.counters();
    assert_eq!((c.orphans_active, c.connections_active), (0, 0));
}
