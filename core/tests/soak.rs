//! Long seeded fault sweep (`make soak`): `TCPKIT_SOAK_SEEDS` scenarios
//! (default 200), `TCPKIT_SOAK_BYTES` per run (default 64 KiB), drawn like
//! the CI sweep but from seeds the sweep does not use. Prints a table of
//! goodput, retransmissions, RTO count and simulated time per peer pair and
//! loss class; every run must pass the same properties as the sweep.
//! Columns: `failed` = property violations (must be 0); `reason` = runs
//! where a connection failed with a transport reason (timed out, reset)
//! within the bound, delivering only correct bytes: allowed under heavy loss.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/smoltcp_peer.rs"]
mod smoltcp_peer;

use std::collections::BTreeMap;

use smoltcp_peer::*;
use tcpkit::sim::{RunLimits, Scenario};
use tcpkit::Instant;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Soak seeds start here, past the CI sweep's.
const FIRST_SEED: u64 = 1_000_000;

#[derive(Default)]
struct Row {
    runs: u64,
    failures: u64,
    with_reason: u64,
    bytes: u64,
    goodputs: Vec<f64>,
    retransmissions: u64,
    rtos: u64,
    sim_us: u64,
}

fn loss_class(loss: f64) -> &'static str {
    match loss {
        l if l <= 0.0 => "0%",
        l if l <= 0.01 => "<=1%",
        l if l <= 0.05 => "<=5%",
        l if l <= 0.1 => "<=10%",
        l if l <= 0.3 => "<=30%",
        _ => ">30%",
    }
}

#[test]
fn soak() {
    let seeds = env("TCPKIT_SOAK_SEEDS", 200);
    let max_bytes = env("TCPKIT_SOAK_BYTES", 64 * 1024);
    let wall = std::time::Instant::now();
    let mut table: BTreeMap<(&str, &str), Row> = BTreeMap::new();
    let mut failed = Vec::new();
    for seed in FIRST_SEED..FIRST_SEED + seeds {
        let mut sc = Scenario::draw(seed, max_bytes);
        // Bulk from client to server; smoltcp only receives it, and its own
        // direction is lossless (see `lossless_for_smoltcp_sender`).
        let (client, server) = if seed % 2 == 0 {
            (Peer::Tcpkit, Peer::Tcpkit)
        } else {
            sc.transfer.rx_bytes = 0;
            lossless_for_smoltcp_sender(&mut sc.s_to_c);
            (Peer::Tcpkit, Peer::Smoltcp)
        };
        let pair = if server == Peer::Tcpkit {
            "tcpkit-tcpkit"
        } else {
            "tcpkit-smoltcp"
        };
        let mut net = pair_network(
            seed,
            client,
            server,
            &sc.c_to_s,
            &sc.s_to_c,
            256 * 1024,
            sc.transfer,
        );
        let out = net.run(RunLimits {
            deadline: Instant::from_millis(3_600_000),
            max_steps: 50_000_000,
            max_endpoint_heap: 4 << 20,
        });
        let c = net.endpoint(0).unwrap().stats();
        let s = net.endpoint(1).unwrap().stats();
        let intact = c.rx_hash == s.tx_hash
            && s.rx_hash == c.tx_hash
            && s.bytes_received == sc.transfer.tx_bytes
            && c.bytes_received == sc.transfer.rx_bytes;
        let row = table.entry((pair, loss_class(sc.max_loss()))).or_default();
        row.runs += 1;
        let v = verdict(&out, intact);
        if let Verdict::FailedWithReason(_) = v {
            row.with_reason += 1;
            continue;
        }
        if v == Verdict::Violation {
            row.failures += 1;
            if failed.len() < 20 {
                failed.push(format!(
                    "seed {seed} {pair}: {out:?} intact={intact} {sc:?}"
                ));
            }
            continue;
        }
        row.bytes += s.bytes_received + c.bytes_received;
        row.retransmissions += c.retransmissions + s.retransmissions;
        row.rtos += c.rto_count + s.rto_count;
        row.sim_us += out.at().as_micros();
        if let Some(t) = s.rx_complete_at.filter(|_| s.bytes_received > 0) {
            let secs = (t.as_micros().max(1)) as f64 / 1e6;
            row.goodputs
                .push(s.bytes_received as f64 * 8.0 / secs / 1e6);
        }
    }
    println!(
        "\nsoak: {seeds} seeds from {FIRST_SEED}, up to {max_bytes} bytes per run, wall {:.1} s",
        wall.elapsed().as_secs_f64()
    );
    println!(
        "{:<15} {:>6} {:>6} {:>8} {:>8} {:>12} {:>12} {:>10} {:>8} {:>12}",
        "pair",
        "loss",
        "runs",
        "failed",
        "reason",
        "MB",
        "goodput p50",
        "retrans",
        "RTOs",
        "sim time s"
    );
    let (mut total_runs, mut total_failures, mut total_reason) = (0, 0, 0);
    for ((pair, class), row) in &mut table {
        row.goodputs.sort_by(|a, b| a.total_cmp(b));
        let p50 = row
            .goodputs
            .get(row.goodputs.len() / 2)
            .copied()
            .unwrap_or(0.0);
        println!(
            "{:<15} {:>6} {:>6} {:>8} {:>8} {:>12.2} {:>7.3} Mb/s {:>10} {:>8} {:>12.1}",
            pair,
            class,
            row.runs,
            row.failures,
            row.with_reason,
            row.bytes as f64 / 1e6,
            p50,
            row.retransmissions,
            row.rtos,
            row.sim_us as f64 / 1e6
        );
        total_runs += row.runs;
        total_failures += row.failures;
        total_reason += row.with_reason;
    }
    println!(
        "total: runs {total_runs}, failures {total_failures}, failed with a reason (timed out/reset) {total_reason}"
    );
    for f in &failed {
        println!("  {f}");
    }
    assert_eq!(total_failures, 0, "failed runs: {failed:#?}");
}
