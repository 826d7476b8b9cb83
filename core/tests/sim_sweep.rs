//! Seed sweep: tcpkit against tcpkit (half the seeds) and against smoltcp
//! (the other half: smoltcp receives the bulk and its own direction is
//! lossless, as smoltcp 0.12 cannot repair a lost retransmission; see
//! support/smoltcp_peer.rs)
//! over drawn fault mixes (loss up to 30%,
//! bursts, reordering, duplication, 1% corruption, LAN to satellite RTTs).
//! Every run must deliver every byte once, in order, intact, finish within
//! the time bound, and stay within the memory bound.
//!
//! `TCPKIT_SWEEP_SEEDS` (default 500) and `TCPKIT_SWEEP_BYTES` (default 64 KiB
//! per run, client to server; a quarter of that back) set the size.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/smoltcp_peer.rs"]
mod smoltcp_peer;

use smoltcp_peer::*;
use tcpkit::sim::{Outcome, RunLimits, Scenario};
use tcpkit::Instant;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every run must be over within this much simulated time.
const TIME_BOUND_MS: u64 = 3_600_000;
/// Per-endpoint heap bound: the buffers (256 KiB each way) and tables, with room.
const HEAP_BOUND: usize = 4 << 20;

#[test]
fn sweep_seeds_across_fault_mixes() {
    let seeds = env("TCPKIT_SWEEP_SEEDS", 500);
    let max_bytes = env("TCPKIT_SWEEP_BYTES", 64 * 1024);
    let wall = std::time::Instant::now();
    let (mut runs, mut bytes, mut failures, mut sim_us, mut retrans) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut failed = Vec::new();
    let mut with_reason = std::collections::BTreeMap::new();
    for seed in 0..seeds {
        let sc = Scenario::draw(seed, max_bytes);
        let mut net = pair_network(
            seed,
            Peer::Tcpkit,
            Peer::Tcpkit,
            &sc.c_to_s,
            &sc.s_to_c,
            256 * 1024,
            sc.transfer,
        );
        let out = net.run(RunLimits {
            deadline: Instant::from_millis(TIME_BOUND_MS),
            max_steps: 20_000_000,
            max_endpoint_heap: HEAP_BOUND,
        });
        runs += 1;
        let c = net.endpoint(0).unwrap().stats();
        let s = net.endpoint(1).unwrap().stats();
        let intact = c.rx_hash == s.tx_hash
            && s.rx_hash == c.tx_hash
            && s.bytes_received == sc.transfer.tx_bytes
            && c.bytes_received == sc.transfer.rx_bytes;
        let v = verdict(&out, intact);
        if let Verdict::FailedWithReason(reason) = v {
            *with_reason.entry(reason).or_insert(0u64) += 1;
        }
        if v == Verdict::Completed {
            bytes += s.bytes_received + c.bytes_received;
            sim_us += out.at().as_micros();
            retrans += c.retransmissions + s.retransmissions;
        } else if v == Verdict::Violation {
            failures += 1;
            if failed.len() < 10 {
                failed.push(format!(
                    "seed {seed}: {out:?} intact={intact} max_loss={:.3} {:?}",
                    sc.max_loss(),
                    sc
                ));
            }
        }
        assert!(
            !matches!(out, Outcome::MemoryExceeded { .. }),
            "seed {seed}: {out:?}"
        );
    }
    println!(
        "sweep: runs {runs}, bytes delivered {bytes}, failures {failures}, failed with a reason {with_reason:?}, retransmissions {retrans}, simulated {:.1} s, wall {:.1} s",
        sim_us as f64 / 1e6,
        wall.elapsed().as_secs_f64()
    );
    for f in &failed {
        println!("  {f}");
    }
    assert_eq!(failures, 0, "failed runs: {failed:#?}");
    assert!(runs >= seeds);
}
