//! Per-connection memory and the cost of one request/response exchange with
//! 10 .. 100,000 concurrent connections, two stacks in one process.
//!
//! `cargo run --release -p tcpkit --example stack_scale [max_connections]`
//!
//! Memory is measured with a counting global allocator: heap bytes live
//! after the connections are idle and established, divided by the number of
//! connection ends (each connection has one end in each stack), everything
//! counted (connection, slab slot, demux entry, timer entries, amortised
//! table growth).

#[path = "../tests/stack_util.rs"]
mod util;

use std::sync::atomic::Ordering;
use std::time::Instant as WallClock;

use tcpkit::stack::{ConnHandle, ListenAddr, Stack};
use tcpkit::Duration;
use util::*;

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::LIVE;

/// Client addresses: 16384 ephemeral ports each.
fn client_addrs(n: usize) -> Vec<String> {
    (0..n / 16000 + 1)
        .map(|i| format!("10.1.{}.{}", i / 250, i % 250 + 1))
        .collect()
}

fn setup(n: usize) -> (Pair, Vec<(ConnHandle, ConnHandle)>) {
    let mut p = Pair::new();
    let addrs = client_addrs(n);
    for a in &addrs {
        p.a.add_address(ip(a)).expect("address");
    }
    let l = p.b.listen(ListenAddr::Any, 80, 65535).expect("listen");
    let mut conns = Vec::with_capacity(n);
    let mut pending = Vec::new();
    for i in 0..n {
        let local = sa(&addrs[i / 16000], 0);
        let c = p.a.connect_from(p.now, local, sa(B4, 80)).expect("connect");
        pending.push(c);
        if pending.len() == 1000 || i + 1 == n {
            p.settle();
            // Accept order need not be connect order: pair the ends by address.
            let mut by_peer = std::collections::HashMap::new();
            while let Ok(s) = p.b.accept(l) {
                by_peer.insert(p.b.remote_endpoint(s).expect("remote"), s);
            }
            for c in pending.drain(..) {
                let local = p.a.local_endpoint(c).expect("local");
                conns.push((c, by_peer.remove(&local).expect("accepted")));
            }
        }
    }
    drain(&mut p.a);
    drain(&mut p.b);
    (p, conns)
}

/// One 64-byte request and 256-byte response on connection `k`, all packets delivered.
fn exchange(p: &mut Pair, conns: &[(ConnHandle, ConnHandle)], k: usize, buf: &mut [u8]) {
    let (c, s) = conns[k];
    p.a.send(c, &[7u8; 64]).expect("request");
    p.settle();
    let n = p.b.recv(s, buf).expect("request arrives");
    assert_eq!(n, 64);
    p.b.send(s, &[9u8; 256]).expect("response");
    p.settle();
    let n = p.a.recv(c, buf).expect("response arrives");
    assert_eq!(n, 256);
    // Let delayed ACKs go out so every exchange ends in the same state.
    let t = p.now + Duration::from_millis(50);
    p.now = t;
    p.a.handle_timeout(t);
    p.b.handle_timeout(t);
    p.settle();
    drain(&mut p.a);
    drain(&mut p.b);
}

fn work(s: &Stack) -> (u64, u64, u64) {
    let c = s.counters();
    (c.work_conn_visits, c.work_timer_ops, c.work_hash_lookups)
}

fn main() {
    let max: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    println!(
        "size_of::<tcp::Connection>() = {} bytes",
        std::mem::size_of::<tcpkit::tcp::connection::Connection>()
    );
    println!(
        "{:>8} {:>14} {:>12} {:>22}",
        "conns", "heap B/conn", "ns/exchange", "work/exchange (v,t,h)"
    );
    for n in [10usize, 1_000, 10_000, 100_000]
        .into_iter()
        .filter(|n| *n <= max)
    {
        let before = LIVE.load(Ordering::Relaxed);
        let (mut p, conns) = setup(n);
        let after = LIVE.load(Ordering::Relaxed);
        let per_end = (after - before) as f64 / (2 * n) as f64;
        let mut buf = vec![0u8; 4096];
        // Warm up, then time a fixed number of exchanges spread over the connections.
        for k in 0..conns.len().min(100) {
            exchange(&mut p, &conns, k, &mut buf);
        }
        let rounds = 2000;
        let w0 = (work(&p.a), work(&p.b));
        let t0 = WallClock::now();
        for r in 0..rounds {
            let k = (r * 7919) % conns.len();
            exchange(&mut p, &conns, k, &mut buf);
        }
        let ns = t0.elapsed().as_nanos() as f64 / rounds as f64;
        let w1 = (work(&p.a), work(&p.b));
        let per = |a: u64, b: u64| (b - a) as f64 / rounds as f64;
        println!(
            "{:>8} {:>14.0} {:>12.0} {:>8.1},{:.1},{:.1}",
            n,
            per_end,
            ns,
            per(w0.0 .0 + w0.1 .0, w1.0 .0 + w1.1 .0),
            per(w0.0 .1 + w0.1 .1, w1.0 .1 + w1.1 .1),
            per(w0.0 .2 + w0.1 .2, w1.0 .2 + w1.1 .2),
        );
    }
}
