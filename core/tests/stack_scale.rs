//! Many connections: 10,000 concurrent connections all exchanging data, and
//! per-exchange work counters that stay flat from 10 to 100,000 connections
//! (debug build; the 100,000-connection figures come from
//! `cargo run --release -p tcpkit --example stack_scale`).

#[path = "stack_util.rs"]
mod util;

use std::collections::HashMap;

use tcpkit::stack::{ConnHandle, Error, ListenAddr, Stack};
use tcpkit::Duration;
use util::*;

/// `n` established connections, client ends on A paired with server ends on B.
fn establish(p: &mut Pair, n: usize) -> Vec<(ConnHandle, ConnHandle)> {
    let addrs: Vec<String> = (0..n / 16000 + 1)
        .map(|i| format!("10.1.0.{}", i + 1))
        .collect();
    for a in &addrs {
        p.a.add_address(ip(a)).expect("address");
    }
    let l = p.b.listen(ListenAddr::Any, 80, 65535).expect("listen");
    let mut out = Vec::with_capacity(n);
    let mut pending = Vec::new();
    for i in 0..n {
        let c =
            p.a.connect_from(p.now, sa(&addrs[i / 16000], 0), sa(B4, 80))
                .expect("connect");
        pending.push(c);
        if pending.len() == 2000 || i + 1 == n {
            p.settle();
            let mut by_peer = HashMap::new();
            while let Ok(s) = p.b.accept(l) {
                by_peer.insert(p.b.remote_endpoint(s).expect("remote"), s);
            }
            for c in pending.drain(..) {
                let local = p.a.local_endpoint(c).expect("local");
                out.push((
                    c,
                    by_peer.remove(&local).expect("every connection accepted"),
                ));
            }
        }
    }
    // Let handshake timers that are no longer needed expire once (each costs
    // one visit per connection, once), so measurements see the steady state.
    let t = p.now + Duration::from_secs(5);
    p.now = t;
    p.a.handle_timeout(t);
    p.b.handle_timeout(t);
    p.settle();
    assert_eq!(
        p.a.poll_timeout(),
        None,
        "idle established connections hold no timer"
    );
    assert_eq!(
        p.b.poll_timeout(),
        None,
        "idle established connections hold no timer"
    );
    drain(&mut p.a);
    drain(&mut p.b);
    out
}

#[test]
fn ten_thousand_concurrent_connections_all_exchange_data() {
    let mut p = Pair::new();
    let n = 10_000;
    let conns = establish(&mut p, n);
    assert_eq!(p.b.counters().connections_active, n as u64);
    // Every client sends a distinct 1000-byte request at once; every server echoes it.
    for (k, (c, _)) in conns.iter().enumerate() {
        assert_eq!(p.a.send(*c, &pattern(1000, k as u32)), Ok(1000));
    }
    let mut echoed = vec![0usize; n];
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); n];
    let mut buf = vec![0u8; 4096];
    let done = p.run_until(Duration::from_secs(30), |p| {
        for (k, (c, s)) in conns.iter().enumerate() {
            loop {
                match p.b.recv(*s, &mut buf) {
                    Ok(m) if m > 0 => {
                        p.b.send(*s, &buf[..m]).expect("echo fits the send buffer");
                        echoed[k] += m;
                    }
                    _ => break,
                }
            }
            read_all(&mut p.a, *c, &mut got[k]);
        }
        got.iter().all(|g| g.len() == 1000)
    });
    assert!(done, "all echoes back");
    for (k, g) in got.iter().enumerate() {
        assert_eq!(g, &pattern(1000, k as u32), "connection {k}");
    }
    // Close everything; the stacks reap all of it after TIME-WAIT.
    for (c, s) in &conns {
        p.a.close(*c).expect("close");
        p.b.close(*s).expect("close");
    }
    p.run_until(Duration::from_secs(200), |p| {
        p.a.counters().connections_active == 0 && p.b.counters().connections_active == 0
    });
    for s in [&p.a, &p.b] {
        let c = s.counters();
        assert_eq!(c.connections_active, 0);
        assert_eq!(c.orphans_active, 0, "every orphan finished");
        assert_eq!(c.orphans_reaped, n as u64);
        assert_eq!(c.connections_closed, n as u64);
    }
    assert_eq!(p.a.poll_timeout(), None);
}

fn work(s: &Stack) -> [u64; 3] {
    let c = s.counters();
    [c.work_conn_visits, c.work_timer_ops, c.work_hash_lookups]
}

/// Work counters (both stacks) for 20 request/response exchanges on connections spread over the set.
fn work_per_exchange(n: usize) -> [u64; 3] {
    let mut p = Pair::new();
    let conns = establish(&mut p, n);
    let mut buf = [0u8; 512];
    let mut once = |p: &mut Pair, k: usize| {
        let (c, s) = conns[k];
        p.a.send(c, &[1u8; 64]).expect("send");
        p.settle();
        assert_eq!(p.b.recv(s, &mut buf), Ok(64));
        p.b.send(s, &[2u8; 200]).expect("send");
        p.settle();
        assert_eq!(p.a.recv(c, &mut buf), Ok(200));
        assert_eq!(p.a.recv(c, &mut buf), Err(Error::WouldBlock));
        let t = p.now + Duration::from_millis(100);
        p.now = t;
        p.a.handle_timeout(t);
        p.b.handle_timeout(t);
        p.settle();
        drain(&mut p.a);
        drain(&mut p.b);
    };
    once(&mut p, 0);
    let before = [work(&p.a), work(&p.b)];
    for r in 0..20 {
        once(&mut p, (r * 7919) % n);
    }
    let after = [work(&p.a), work(&p.b)];
    core::array::from_fn(|i| after[0][i] - before[0][i] + after[1][i] - before[1][i])
}

/// The range, 10 to 100,000 connections, in CI (about 2 s);
/// `TCPKIT_STACK_WORK_CONNS` changes the large size.
#[test]
fn work_per_exchange_is_flat_from_10_to_100000_connections() {
    let n = std::env::var("TCPKIT_STACK_WORK_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000usize);
    let small = work_per_exchange(10);
    let large = work_per_exchange(n);
    assert!(
        small.iter().all(|w| *w > 0),
        "counters count something: {small:?}"
    );
    // The same work within 10% (which connection is picked changes delayed-ACK
    // timing a little); a scan of all connections would multiply it by 2000.
    for i in 0..3 {
        let (a, b) = (small[i], large[i]);
        assert!(
            b <= a + a / 10 && a <= b + b / 10,
            "work {i}: 10 conns {a}, {n} conns {b}"
        );
        assert!(
            b <= 20 * 20,
            "at most 20 units of work {i} per exchange, got {b} for 20"
        );
    }
}
