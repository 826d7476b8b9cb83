//! A connect + 1 KB + close cycle reuses the in-flight boxes of earlier
//! connections and the buffer memory they keep (the stack's bounded box
//! pool): once warm, a cycle allocates nothing. Counted with the
//! counting allocator (on the test's own thread, so the harness's
//! threads do not count).

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{ListenAddr, Stack};
use tcpkit::Duration;
use util::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::thread_allocs;

fn drain_quietly(s: &mut Stack) {
    while s.poll_event().is_some() {}
}

/// One cycle, the data checked without allocating (fixed buffers).
fn cycle(p: &mut Pair, l: tcpkit::stack::ListenerHandle, data: &[u8], rbuf: &mut [u8]) {
    let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    let s = p.b.accept(l).expect("accepted");
    assert_eq!(p.a.send(c, data), Ok(data.len()));
    p.a.shutdown(c).expect("shutdown");
    p.settle();
    let mut got = 0;
    loop {
        match p.b.recv(s, &mut rbuf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("recv: {e:?}"),
        }
    }
    assert_eq!(&rbuf[..got], data, "data intact");
    p.b.close(s).expect("close server");
    p.settle();
    p.a.close(c).expect("close client");
    // TIME-WAIT runs out.
    assert!(p.run_until(Duration::from_secs(130), |p| {
        p.a.counters().connections_active == 0 && p.b.counters().connections_active == 0
    }));
    drain_quietly(&mut p.a);
    drain_quietly(&mut p.b);
}

#[test]
fn warm_cycles_allocate_nothing() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let data = pattern(1024, 7);
    let mut rbuf = vec![0u8; 4096];
    // Warm up: queues, timer heap, slabs and the box pool reach steady size.
    for _ in 0..20 {
        cycle(&mut p, l, &data, &mut rbuf);
    }
    let before = thread_allocs();
    let cycles = 200usize;
    for _ in 0..cycles {
        cycle(&mut p, l, &data, &mut rbuf);
    }
    let allocs = thread_allocs() - before;
    println!("{allocs} allocations in {cycles} cycles");
    // Each of the two connections builds an in-flight box three times or
    // more (SYN, data after the handshake released it, the last ACK), and
    // uses the client's send ring, the server's receive ring and RACK's
    // per-flight log on each end that sends: 6 allocations per cycle before
    // the pool kept buffer memory, 7 before it kept boxes. A box of a
    // connection that is over now goes to the pool with that memory, so a
    // warm cycle allocates nothing; a little slack for a stack table that
    // still grows now and then.
    let bound = cycles / 20;
    assert!(
        allocs <= bound,
        "{allocs} allocations in {cycles} cycles (> {bound}): in-flight boxes or their buffers not reused"
    );
}
