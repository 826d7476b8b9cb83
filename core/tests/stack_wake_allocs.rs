//! A request/response on a connection whose buffers were released while it
//! sat idle reuses memory the stack's in-flight pool kept from other idle
//! connections, instead of allocating both rings and RACK's log at each end;
//! once every connection is idle the pool gives that memory back. Counted
//! with the counting allocator (on the test's own thread, so the harness's
//! threads do not count).

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{ConnHandle, ListenAddr};
use tcpkit::Duration;
use util::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{thread_allocs, thread_live_bytes};

/// One 100-byte request and response on `(c, s)`, then 50 ms pass with
/// every timer run (delayed ACKs, idle releases of other connections).
fn exchange(p: &mut Pair, (c, s): (ConnHandle, ConnHandle), msg: &[u8], buf: &mut [u8]) {
    assert_eq!(p.a.send(c, msg), Ok(msg.len()));
    p.settle();
    assert_eq!(p.b.recv(s, buf), Ok(msg.len()), "request arrives");
    assert_eq!(p.b.send(s, msg), Ok(msg.len()));
    p.settle();
    assert_eq!(p.a.recv(c, buf), Ok(msg.len()), "response arrives");
    p.run_until(Duration::from_millis(50), |_| false);
    // Popped one by one (`drain` collects them into a Vec).
    while p.a.poll_event().is_some() || p.b.poll_event().is_some() {}
}

#[test]
fn exchanges_on_idle_released_connections_reuse_pooled_memory() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 128).expect("listen");
    // 64 connections in turn, one exchange every 50 ms: each is 3.2 s idle
    // between its exchanges, so its buffers were released (1-2 s) every
    // time, and 20 connections per stack release theirs per 1 s tick.
    let n = 64usize;
    let conns: Vec<_> = (0..n).map(|_| open_pair(&mut p, l)).collect();
    drain(&mut p.a);
    drain(&mut p.b);
    p.run_until(Duration::from_secs(5), |_| false);
    let idle_before = thread_live_bytes();
    let msg = pattern(100, 3);
    let mut buf = vec![0u8; 2048];
    // Warm up: the pool, queues and the timer heap reach their steady size.
    for k in 0..3 * n {
        exchange(&mut p, conns[k % n], &msg, &mut buf);
    }
    let before = thread_allocs();
    let rounds = 2 * n;
    for k in 0..rounds {
        exchange(&mut p, conns[k % n], &msg, &mut buf);
    }
    let allocs = thread_allocs() - before;
    println!("{allocs} allocations in {rounds} exchanges on idle-released connections");
    // Without the pool's idle memory: both rings and RACK's log at each
    // end, about 6 allocations per exchange.
    assert!(allocs <= 4, "{allocs} allocations in {rounds} exchanges");
    // All idle again: what the pool kept is given back.
    p.run_until(Duration::from_secs(5), |_| false);
    drain(&mut p.a);
    drain(&mut p.b);
    let idle_after = thread_live_bytes();
    println!("idle heap {idle_before} -> {idle_after} bytes");
    // Pooled boxes without buffers and queue capacity may stay (a few KiB
    // per stack); the pool's buffer memory (up to 64 KiB per stack) may not.
    let slack = 16 * 1024;
    assert!(
        idle_after <= idle_before + slack,
        "idle memory grew: {idle_before} -> {idle_after}"
    );
}
