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
fn smoltcp_to_smoltcp_survives_loss_and_reordering() {
    for (i, loss) in [0.01, 0.05, 0.2].into_iter().enumerate() {
        let (out, net) = run_smol_smol(10 + i as u64, lossy(loss), 256 << 10);
        assert!(out.is_success(), "loss {loss}: {out:?}");
        let s = net.endpoint(1).map(|e| e.stats()).unwrap_or_default();
        assert_eq!(s.bytes_received, 256 << 10);
        let l = net.link(0, 1).map(|l| *l.stats()).unwrap_or_default();
        assert!(l.dropped_loss > 0, "loss {loss} dropped nothing");
        println!(
            "loss {loss}: done at {} ms, link {l:?}",
            out.at().as_millis()
        );
    }
}
