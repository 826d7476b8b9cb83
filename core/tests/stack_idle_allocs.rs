//! Segments to an idle connection (here keep-alive probes and their ACKs)
//! rebuild its in-flight part at most once per idle release tick, not once
//! per segment. Counted with the counting allocator (on the test's own thread, so the harness's
//! threads do not count).

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{ConnOption, ListenAddr};
use tcpkit::Duration;
use util::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::thread_allocs;

#[test]
fn keepalive_traffic_to_idle_connections_does_not_allocate_per_segment() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 64).expect("listen");
    let n = 16usize;
    let conns: Vec<_> = (0..n)
        .map(|_| p.a.connect(p.now, sa(B4, 80), 0).expect("connect"))
        .collect();
    p.settle();
    let mut servers = Vec::new();
    while let Ok(s) = p.b.accept(l) {
        servers.push(s);
    }
    assert_eq!(servers.len(), n);
    for &c in &conns {
        p.a.set_option(c, ConnOption::KeepAliveIdleUs, 100_000)
            .expect("idle");
        p.a.set_option(c, ConnOption::KeepAliveIntervalUs, 100_000)
            .expect("interval");
        p.a.set_option(c, ConnOption::KeepAliveCount, 5)
            .expect("count");
    }
    // Warm up: queues and the timer heap reach their steady capacity.
    p.run_until(Duration::from_secs(3), |_| false);
    drain(&mut p.a);
    drain(&mut p.b);
    let before = thread_allocs();
    let packets_before = p.a.counters().packets_out + p.b.counters().packets_out;
    let secs = 10u64;
    p.run_until(Duration::from_secs(secs), |_| false);
    let allocs = thread_allocs() - before;
    let packets = p.a.counters().packets_out + p.b.counters().packets_out - packets_before;
    // Every probe is answered: the connections stay up.
    for &c in &conns {
        assert_eq!(p.a.state(c), Ok(tcpkit::stack::State::Established));
    }
    println!("{packets} keep-alive segments, {allocs} allocations in {secs} s");
    // A probe every 100 ms and its ACK: ~10 segments per connection end per
    // second; the box is rebuilt at most once per 1 s release tick per end.
    assert!(packets as usize >= n * 2 * 9 * secs as usize, "{packets}");
    let bound = n * 2 * (secs as usize + 2);
    assert!(allocs <= bound, "{allocs} allocations > {bound}");
}
