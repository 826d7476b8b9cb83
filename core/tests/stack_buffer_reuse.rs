//! Buffer lifetime of a connection that moves data: draining the rings keeps
//! their memory (no re-allocation per window), and they are freed once the
//! connection has stayed idle, so an idle connection holds no buffer. Counted
//! with a counting global allocator, on the test's own thread (libtest's
//! main thread allocates at moments of its own while the test runs).

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{ConnHandle, ListenAddr};
use tcpkit::Duration;
use util::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{thread_allocs, thread_live_bytes};

fn live() -> isize {
    thread_live_bytes()
}

/// Sends `data` a -> b in `chunk`-byte writes, reading on b as it arrives.
fn transfer(
    p: &mut Pair,
    c: ConnHandle,
    s: ConnHandle,
    data: &[u8],
    chunk: usize,
    got: &mut Vec<u8>,
) {
    let mut sent = 0;
    let mut buf = vec![0u8; 4096];
    let deadline = p.now + Duration::from_secs(60);
    while got.len() < data.len() {
        if sent < data.len() {
            let end = (sent + chunk).min(data.len());
            if let Ok(n) = p.a.send(c, &data[sent..end]) {
                sent += n;
            }
        }
        p.exchange();
        let before = got.len();
        while let Ok(n) = p.b.recv(s, &mut buf) {
            assert!(n > 0, "no end of stream yet");
            got.extend_from_slice(&buf[..n]);
        }
        if p.exchange() == 0 && got.len() == before {
            // Nagle / delayed ACK: let the next timer run.
            p.advance(Duration::from_millis(500));
        }
        assert!(p.now < deadline, "transfer stalled");
    }
}

/// Lets `secs` seconds of virtual time pass, running every timer.
fn idle_for(p: &mut Pair, secs: u64) -> isize {
    let end = p.now + Duration::from_secs(secs);
    while p.now < end {
        p.advance(end - p.now);
    }
    drain(&mut p.a);
    drain(&mut p.b);
    live()
}

#[test]
fn drained_buffers_are_reused_then_freed_when_idle() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    let s = p.b.accept(l).expect("accept");
    drain(&mut p.a);
    drain(&mut p.b);

    let data = pattern(64 * 1024, 7);
    let mut got = Vec::with_capacity(2 * data.len());
    let mut scratch = Vec::with_capacity(2 * data.len());
    transfer(&mut p, c, s, &data, 2000, &mut scratch);
    p.settle();
    drain(&mut p.a);
    drain(&mut p.b);
    let warm = live();

    // A second transfer on the drained, still allocated rings allocates
    // (almost) nothing: no ring regrowth per drained window.
    let before = thread_allocs();
    transfer(&mut p, c, s, &data, 2000, &mut got);
    let allocs = thread_allocs() - before;
    assert_eq!(got, data);
    assert!(allocs <= 8, "{allocs} allocations for 64 KiB on warm rings");
    p.settle();
    drain(&mut p.a);
    drain(&mut p.b);
    assert!(
        live() <= warm + 1024,
        "rings did not grow: {} -> {}",
        warm,
        live()
    );

    // Idle for a while: both rings (at least 2 KiB each for 2000-byte
    // writes) are freed.
    let idle = idle_for(&mut p, 5);
    assert!(
        warm - idle >= 4096,
        "idle connection keeps its rings: {} bytes freed",
        warm - idle
    );

    // Same again: memory returns to the same idle level (nothing kept or leaked).
    got.clear();
    transfer(&mut p, c, s, &data, 2000, &mut got);
    assert_eq!(got, data);
    let again = idle_for(&mut p, 5);
    assert!(again <= idle, "idle memory grew: {idle} -> {again}");
}
