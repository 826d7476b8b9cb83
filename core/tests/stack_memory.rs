//! Heap bytes per idle established connection (≤ 512), everything counted,
//! with a counting global allocator (on the test's own thread, so the harness's
//! threads do not count).

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::ListenAddr;
use tcpkit::tcp::connection::Connection;
use tcpkit::Duration;
use util::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::thread_live_bytes;

#[test]
fn idle_established_connection_costs_at_most_512_heap_bytes() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 65535).expect("listen");
    let n = 8192usize;
    let base = thread_live_bytes();
    let mut conns = Vec::with_capacity(n);
    let mut servers = Vec::with_capacity(n);
    for _ in 0..n / 1024 {
        for _ in 0..1024 {
            conns.push(p.a.connect(p.now, sa(B4, 80), 0).expect("connect"));
        }
        p.settle();
        while let Ok(s) = p.b.accept(l) {
            servers.push(s);
        }
    }
    assert_eq!(servers.len(), n);
    // Right after the handshakes, before any time passes: the in-flight part
    // that served the handshake is already gone.
    drain(&mut p.a);
    drain(&mut p.b);
    let fresh = thread_live_bytes() - base - (conns.capacity() + servers.capacity()) as isize * 8;
    let fresh_per_end = fresh as f64 / (2 * n) as f64;
    println!("heap bytes per connection end right after the handshake: {fresh_per_end:.0}");
    assert!(
        fresh_per_end <= 512.0,
        "{fresh_per_end:.0} bytes per fresh connection end"
    );
    // Send and read one byte each way so buffers have been used, then go idle.
    let mut buf = [0u8; 8];
    for c in &conns {
        p.a.send(*c, b"x").expect("send");
    }
    p.advance(Duration::from_millis(100));
    for s in &servers {
        while p.b.recv(*s, &mut buf).is_ok() {}
    }
    // 5 s of idle time with every timer run (empty buffers are freed after 1-2 s).
    p.run_until(Duration::from_secs(5), |_| false);
    drain(&mut p.a);
    drain(&mut p.b);
    let used = thread_live_bytes() - base - (conns.capacity() + servers.capacity()) as isize * 8;
    let per_end = used as f64 / (2 * n) as f64;
    let conn = std::mem::size_of::<Connection>() as f64;
    println!("heap bytes per idle established connection end: {per_end:.0} (tcp::Connection is {conn} bytes)");
    // Issue 4's target: everything counted (connection state, slab slot,
    // demux entry, timer entry, what is left of queue capacity after the
    // handshake burst), an idle established connection costs at most 512
    // heap bytes: buffers and the in-flight part are released when idle.
    assert!(
        per_end <= 512.0,
        "{per_end:.0} bytes per idle connection end"
    );
    assert!(
        per_end >= conn,
        "the connection itself is counted: {per_end:.0}"
    );
}
