//! smoltcp as a peer on the simulated links: checked transfers, clean and lossy.

#[path = "support/smoltcp_peer.rs"]
mod smoltcp_peer;

use smoltcp_peer::*;
use tcpkit::sim::{LinkConfig, Outcome, RunLimits};
use tcpkit::{Duration, Instant};

fn lossy(loss: f64) -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(10),
        jitter: Duration::from_millis(2),
        bandwidth_bps: 100_000_000,
        queue_limit_bytes: 1 << 20,
        loss,
        reorder: if loss > 0.0 { 0.02 } else { 0.0 },
        reorder_delay: Duration::from_millis(3),
        ..LinkConfig::default()
    }
}

fn run_smol_smol(seed: u64, link: LinkConfig, bytes: u64) -> (Outcome, tcpkit::sim::Network) {
    let transfer = Transfer {
        tx_bytes: bytes,
        tx_seed: seed ^ 0x1111,
        rx_bytes: bytes / 4,
        rx_seed: seed ^ 0x2222,
    };
    let mut net = smol_smol_network(seed, &link, 256 * 1024, transfer);
    let out = net.run(RunLimits {
        deadline: Instant::from_millis(900_000),
        ..RunLimits::default()
    });
    (out, net)
}

#[test]
fn smoltcp_to_smoltcp_clean_link_transfers_every_byte() {
    let (out, net) = run_smol_smol(1, lossy(0.0), 2 << 20);
    assert!(out.is_success(), "{out:?}");
    let c = net.endpoint(0).map(|e| e.stats()).unwrap_or_default();
    let s = net.endpoint(1).map(|e| e.stats()).unwrap_or_default();
    assert_eq!(c.bytes_sent, 2 << 20);
    assert_eq!(s.bytes_received, 2 << 20);
    assert_eq!(c.tx_hash, s.rx_hash);
    assert_eq!(s.tx_hash, c.rx_hash);
    println!("clean: done at {} ms", out.at().as_millis());
}

#[test]
fn smoltcp_to_smoltcp_survives_jitter_duplication_and_a_narrow_link() {
    let link = LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
        bandwidth_bps: 10_000_000,
        duplicate: 0.05,
        ..LinkConfig::default()
    };
    let (out, net) = run_smol_smol(3, link, 1 << 20);
    assert!(out.is_success(), "{out:?}");
    let s = net.endpoint(1).map(|e| e.stats()).unwrap_or_default();
    assert_eq!(s.bytes_received, 1 << 20);
    let l = net.link(0, 1).map(|l| *l.stats()).unwrap_or_default();
    assert!(l.duplicated > 0);
    // 1 MiB at 10 Mbit/s takes at least 0.84 s of serialization.
    let done = s.rx_complete_at.unwrap_or(Instant::MAX);
    assert!(done >= Instant::from_millis(838), "{done:?}");
}
