//! Connection churn through one stack pair: what the per-connection fast
//! paths (slot reuse, demux hash memo, remembered port offset, recv without
//! bookkeeping) must keep true.

#[path = "stack_util.rs"]
mod util;

use std::collections::HashSet;

use tcpkit::stack::{ConnHandle, Error, EventKind, ListenAddr, State};
use tcpkit::Duration;
use util::*;

/// Connect, 1 KB, shutdown, close both ends, TIME-WAIT runs out: every cycle
/// ends with nothing left, on a fresh port, the data
/// intact, and the handles of earlier cycles stale even though their slots
/// are reused.
#[test]
fn connect_transfer_close_cycles_leave_nothing_behind() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let mut ports = HashSet::new();
    let mut old: Vec<(ConnHandle, ConnHandle)> = Vec::new();
    for cycle in 0..200u32 {
        let data = pattern(1024, cycle);
        let (c, s) = open_pair(&mut p, l);
        let port = p.a.local_endpoint(c).expect("local").port();
        assert!(ports.insert(port), "cycle {cycle}: port {port} reused");
        assert_eq!(
            p.b.remote_endpoint(s).expect("remote").port(),
            port,
            "the server's end names the client's port"
        );
        assert_eq!(p.a.send(c, &data), Ok(data.len()));
        p.a.shutdown(c).expect("shutdown");
        let mut got = Vec::new();
        assert!(
            p.run_until(Duration::from_secs(5), |p| read_all(&mut p.b, s, &mut got)),
            "cycle {cycle}: end of stream"
        );
        assert_eq!(got, data, "cycle {cycle}: data intact");
        p.b.close(s).expect("close server");
        p.settle();
        p.a.close(c).expect("close client");
        assert!(
            p.run_until(Duration::from_secs(130), |p| {
                p.a.counters().connections_active == 0 && p.b.counters().connections_active == 0
            }),
            "cycle {cycle}: TIME-WAIT runs out and both ends are reaped"
        );
        drain(&mut p.a);
        drain(&mut p.b);
        for &(oc, os) in &old {
            assert_eq!(p.a.state(oc), Err(Error::InvalidHandle));
            assert_eq!(p.b.state(os), Err(Error::InvalidHandle));
        }
        old.push((c, s));
    }
    assert_eq!(p.a.counters().connections_closed, 200);
    assert_eq!(p.b.counters().connections_closed, 200);
}

/// Two flows between the same hosts, their segments interleaved on the
/// link: each byte reaches its own connection (the demux remembers only the
/// last key it hashed).
#[test]
fn interleaved_flows_each_get_their_own_data() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let (c1, s1) = open_pair(&mut p, l);
    let (c2, s2) = open_pair(&mut p, l);
    let (d1, d2) = (pattern(20_000, 1), pattern(20_000, 2));
    let (mut o1, mut o2) = (0, 0);
    let (mut g1, mut g2) = (Vec::new(), Vec::new());
    for _ in 0..10_000 {
        let before = (o1, o2, g1.len(), g2.len());
        if o1 < d1.len() {
            o1 += p.a.send(c1, &d1[o1..(o1 + 700).min(d1.len())]).unwrap_or(0);
        }
        if o2 < d2.len() {
            o2 += p.a.send(c2, &d2[o2..(o2 + 900).min(d2.len())]).unwrap_or(0);
        }
        p.exchange();
        read_all(&mut p.b, s1, &mut g1);
        read_all(&mut p.b, s2, &mut g2);
        if g1.len() == d1.len() && g2.len() == d2.len() {
            break;
        }
        if before == (o1, o2, g1.len(), g2.len()) {
            // Nagle or a delayed ACK holds the rest: let time pass.
            p.advance(Duration::from_secs(1));
        }
    }
    assert_eq!(
        (g1.len(), g2.len()),
        (d1.len(), d2.len()),
        "everything arrives"
    );
    assert_eq!(g1, d1);
    assert_eq!(g2, d2);
}

/// A recv that finds nothing changes nothing: the next data still raises
/// READABLE and is read, and end of stream still reads as 0.
#[test]
fn empty_reads_keep_readable_and_end_of_stream() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let (c, s) = open_pair(&mut p, l);
    drain(&mut p.b);
    let mut buf = [0u8; 64];
    for _ in 0..3 {
        assert_eq!(p.b.recv(s, &mut buf), Err(Error::WouldBlock));
    }
    assert_eq!(p.a.send(c, b"hello"), Ok(5));
    p.settle();
    let ev = drain(&mut p.b);
    assert!(has(&ev, EventKind::Readable, s.raw()), "READABLE: {ev:?}");
    assert_eq!(p.b.recv(s, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(p.b.recv(s, &mut buf), Err(Error::WouldBlock));
    p.a.shutdown(c).expect("shutdown");
    p.settle();
    assert_eq!(p.b.recv(s, &mut buf), Ok(0));
    assert_eq!(p.b.recv(s, &mut buf), Ok(0), "end of stream stays");
    assert_eq!(p.b.state(s), Ok(State::CloseWait));
    p.b.close(s).expect("close");
    p.settle();
    assert_eq!(p.a.recv(c, &mut buf), Ok(0));
}
