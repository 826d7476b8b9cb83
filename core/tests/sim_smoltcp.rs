//! smoltcp as a peer on the simulated links: tcpkit client + smoltcp server
//! and smoltcp client + tcpkit server, clean and lossy, checked byte by byte
//! and by hash; plus smoltcp-vs-smoltcp runs that validate the links.
//!
//! Transfer size: `TCPKIT_SIM_BYTES`; default 8 MiB in release builds
//! (`cargo test --release -p tcpkit --features sim --test sim_smoltcp`,
//! ~3 s) and 1 MiB in debug builds, where 8 MiB takes ~3 minutes. In the lossy runs tcpkit
//! sends the bulk data and smoltcp receives it, since smoltcp 0.12 as a sender
//! cannot recover from a lost retransmission (see support/smoltcp_peer.rs).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/smoltcp_peer.rs"]
mod smoltcp_peer;

use smoltcp_peer::*;
use tcpkit::sim::{LinkConfig, Network, Outcome, RunLimits};
use tcpkit::{Duration, Instant};

/// Runs `client` -> `server` with tcpkit as the bulk sender; returns the
/// outcome and the goodput in Mbit/s measured at the receiver.
fn transfer(seed: u64, client: Peer, server: Peer, loss: f64) -> (Outcome, f64, Network) {
    let bytes = bulk_bytes();
    // The bulk flows from the tcpkit side; a few bytes flow back.
    let t = if client == Peer::Tcpkit {
        Transfer {
            tx_bytes: bytes,
            tx_seed: seed,
            rx_bytes: 1000,
            rx_seed: seed + 1,
        }
    } else {
        Transfer {
            tx_bytes: 0,
            tx_seed: seed,
            rx_bytes: bytes,
            rx_seed: seed + 1,
        }
    };
    let l = link(loss);
    let mut net = pair_network(seed, client, server, &l, &l, 256 * 1024, t);
    let out = net.run(RunLimits {
        deadline: Instant::from_millis(BULK_TIME_BOUND_MS),
        ..RunLimits::default()
    });
    let receiver = if client == Peer::Tcpkit { 1 } else { 0 };
    let sender = 1 - receiver;
    let rs = net.endpoint(receiver).unwrap().stats();
    let ss = net.endpoint(sender).unwrap().stats();
    assert!(
        out.is_success(),
        "{} -> {} loss {loss}: {out:?}\nreceiver {rs:?}\nsender {ss:?}",
        client.name(),
        server.name()
    );
    assert_eq!(rs.bytes_received, bytes);
    assert_eq!(rs.rx_hash, ss.tx_hash, "hash of received bytes differs");
    let back_r = net.endpoint(sender).unwrap().stats();
    assert_eq!(back_r.rx_hash, rs.tx_hash);
    let secs = rs.rx_complete_at.unwrap().as_micros() as f64 / 1e6;
    let mbps = bytes as f64 * 8.0 / secs / 1e6;
    println!(
        "{:>7} -> {:<7} loss {:>4.0}%: {bytes} bytes in {secs:.2} s simulated = {mbps:.3} Mbit/s, tcpkit retransmissions {}, RTOs {}",
        client.name(),
        server.name(),
        loss * 100.0,
        ss.retransmissions.max(rs.retransmissions),
        ss.rto_count.max(rs.rto_count),
    );
    (out, mbps, net)
}

#[test]
fn tcpkit_client_to_smoltcp_server_clean() {
    let (_, mbps, net) = transfer(100, Peer::Tcpkit, Peer::Smoltcp, 0.0);
    // Nothing was lost, so no retransmission was needed.
    assert_eq!(net.link(0, 1).unwrap().stats().dropped_loss, 0);
    assert!(mbps > 1.0);
}

#[test]
fn tcpkit_client_to_smoltcp_server_1_percent_loss() {
    transfer(101, Peer::Tcpkit, Peer::Smoltcp, 0.01);
}

#[test]
fn tcpkit_client_to_smoltcp_server_5_percent_loss() {
    transfer(102, Peer::Tcpkit, Peer::Smoltcp, 0.05);
}

#[test]
fn tcpkit_client_to_smoltcp_server_20_percent_loss() {
    transfer(103, Peer::Tcpkit, Peer::Smoltcp, 0.2);
}

#[test]
fn smoltcp_client_from_tcpkit_server_clean() {
    transfer(200, Peer::Smoltcp, Peer::Tcpkit, 0.0);
}

#[test]
fn smoltcp_client_from_tcpkit_server_1_percent_loss() {
    transfer(201, Peer::Smoltcp, Peer::Tcpkit, 0.01);
}

#[test]
fn smoltcp_client_from_tcpkit_server_5_percent_loss() {
    transfer(202, Peer::Smoltcp, Peer::Tcpkit, 0.05);
}

#[test]
fn smoltcp_client_from_tcpkit_server_20_percent_loss() {
    transfer(203, Peer::Smoltcp, Peer::Tcpkit, 0.2);
}

#[test]
fn smoltcp_sends_to_tcpkit_on_a_clean_link() {
    // smoltcp as the bulk sender (clean link only, see the module note).
    let bytes = bulk_bytes() / 4;
    let t = Transfer {
        tx_bytes: bytes,
        tx_seed: 7,
        rx_bytes: bytes / 2,
        rx_seed: 8,
    };
    let l = link(0.0);
    let mut net = pair_network(300, Peer::Smoltcp, Peer::Tcpkit, &l, &l, 256 * 1024, t);
    let out = net.run(RunLimits::default());
    assert!(out.is_success(), "{out:?}");
    let c = net.endpoint(0).unwrap().stats();
    let s = net.endpoint(1).unwrap().stats();
    assert_eq!((s.bytes_received, c.bytes_received), (bytes, bytes / 2));
    assert_eq!((s.rx_hash, c.rx_hash), (c.tx_hash, s.tx_hash));
}

fn run_smol_smol(seed: u64, link: LinkConfig, bytes: u64) -> (Outcome, Network) {
    let transfer = Transfer {
        tx_bytes: bytes,
        tx_seed: seed ^ 0x1111,
        rx_bytes: bytes / 4,
        rx_seed: seed ^ 0x2222,
    };
    let mut net = smol_smol_network(seed, &link, 256 * 1024, transfer);
    let out = net.run(RunLimits::default());
    (out, net)
}

#[test]
fn smoltcp_to_smoltcp_clean_link_transfers_every_byte() {
    let (out, net) = run_smol_smol(1, link(0.0), 2 << 20);
    assert!(out.is_success(), "{out:?}");
    let c = net.endpoint(0).unwrap().stats();
    let s = net.endpoint(1).unwrap().stats();
    assert_eq!(c.bytes_sent, 2 << 20);
    assert_eq!(s.bytes_received, 2 << 20);
    assert_eq!(c.tx_hash, s.rx_hash);
    assert_eq!(s.tx_hash, c.rx_hash);
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
    let s = net.endpoint(1).unwrap().stats();
    assert_eq!(s.bytes_received, 1 << 20);
    assert!(net.link(0, 1).unwrap().stats().duplicated > 0);
    // 1 MiB at 10 Mbit/s takes at least 0.84 s of serialization.
    let done = s.rx_complete_at.unwrap_or(Instant::MAX);
    assert!(done >= Instant::from_millis(838), "{done:?}");
}
