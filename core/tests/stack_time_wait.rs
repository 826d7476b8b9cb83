//! TIME-WAIT costs little and ends on time: heap bytes per TIME-WAIT
//! connection, counted with the counting allocator (on the test's own thread, so the harness's
//! threads do not count), and reaping at 2×MSL.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{ListenAddr, State};
use tcpkit::Duration;
use util::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::thread_live_bytes;

/// Heap bytes a TIME-WAIT connection may cost, everything counted (its
/// record, slab slot, demux entry, timer entry), against ~490 for an idle
/// live one.
const TIME_WAIT_BUDGET: f64 = 160.0;

#[test]
fn time_wait_connections_are_small_and_reaped_at_2msl() {
    // A SYN backlog above the batch, so no SYN cookie is used: with cookies
    // the SYN-ACK's TSval carries options in its low bits and can run ahead
    // of the connection's later TSvals, which PAWS then drops for up to 63 ms
    // (stack/syncookie.rs `encode_tsval`, reported), stalling the close here.
    let cb = tcpkit::stack::Config {
        syn_backlog: 4096,
        ..config(2)
    };
    let mut p = Pair::with(config(1), cb);
    let l = p.b.listen(ListenAddr::Any, 80, 65535).expect("listen");
    let batch = 1024usize;
    let rounds = 6usize;
    let mut per_round = Vec::new();
    let mut last_entry = p.now;
    for round in 0..rounds {
        // Each round: connect, then the client closes first (so
        // its side ends in TIME-WAIT as an orphan), then the server.
        let conns: Vec<_> = (0..batch)
            .map(|_| p.a.connect(p.now, sa(B4, 80), 0).expect("connect"))
            .collect();
        p.settle();
        let mut servers = Vec::with_capacity(batch);
        while let Ok(s) = p.b.accept(l) {
            servers.push(s);
        }
        assert_eq!(servers.len(), batch);
        for &c in &conns {
            assert_eq!(p.a.state(c), Ok(State::Established));
            p.a.close(c).expect("close");
        }
        p.settle();
        for s in servers {
            p.b.close(s).expect("close");
        }
        p.settle();
        drain(&mut p.a);
        drain(&mut p.b);
        last_entry = p.now;
        let c = p.a.counters();
        assert_eq!(c.time_wait_active, ((round + 1) * batch) as u64);
        assert_eq!(c.connections_active, c.time_wait_active);
        assert_eq!(p.b.counters().connections_active, 0);
        p.now += Duration::from_millis(10);
        if round == 1 || round == rounds - 1 {
            // Let the timers of the closing exchange run (stale heap entries,
            // buffer releases), well within 2×MSL, then measure.
            p.run_until(Duration::from_secs(5), |_| false);
            drain(&mut p.a);
            drain(&mut p.b);
            per_round.push(thread_live_bytes());
        }
    }
    // Slots freed by compaction are reused by the next round, so from round
    // 2 on the heap grows by what the TIME-WAIT records themselves cost.
    let grown = per_round[1] - per_round[0];
    let per_tw = grown as f64 / ((rounds - 2) * batch) as f64;
    println!("heap bytes per TIME-WAIT connection: {per_tw:.0}");
    assert!(
        per_tw <= TIME_WAIT_BUDGET,
        "{per_tw:.0} bytes per TIME-WAIT connection"
    );
    assert!(per_tw > 0.0);
    // Reaped 2×MSL (60 s) after they entered TIME-WAIT: none before, all after.
    let since = p.now - last_entry;
    p.run_until(Duration::from_secs(59).saturating_sub(since), |_| false);
    assert_eq!(p.now - last_entry, Duration::from_secs(59));
    assert!(p.a.counters().time_wait_active >= batch as u64);
    let gone = p.run_until(Duration::from_secs(5), |p| {
        p.a.counters().time_wait_active == 0
    });
    assert!(gone, "{} left", p.a.counters().time_wait_active);
    let c = p.a.counters();
    assert_eq!((c.connections_active, c.orphans_active), (0, 0));
    assert_eq!(c.orphans_reaped, (rounds * batch) as u64);
}
