//! Two stacks transfer data over a simulated lossy link, deterministically.
//!
//! cargo run --release -p tcpkit --features sim --example sim_transfer -- \
//!     [loss=0.05] [bytes=4194304] [seed=1] [peer=tcpkit|smoltcp] [rtt_ms=20]
//!
//! The client is tcpkit; the server is tcpkit or smoltcp. Prints goodput,
//! retransmissions, RTOs, link statistics and whether every byte arrived intact.

#[cfg(feature = "sim")]
#[path = "../tests/support/smoltcp_peer.rs"]
mod smoltcp_peer;

#[cfg(not(feature = "sim"))]
fn main() {
    eprintln!("sim_transfer needs the `sim` feature: cargo run -p tcpkit --features sim --example sim_transfer");
}

#[cfg(feature = "sim")]
fn main() {
    use smoltcp_peer::{pair_network, Peer};
    use tcpkit::sim::{LinkConfig, RunLimits, Transfer};
    use tcpkit::{Duration, Instant};

    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let loss: f64 = arg(0).and_then(|v| v.parse().ok()).unwrap_or(0.05);
    let bytes: u64 = arg(1).and_then(|v| v.parse().ok()).unwrap_or(4 << 20);
    let seed: u64 = arg(2).and_then(|v| v.parse().ok()).unwrap_or(1);
    let server = if arg(3) == Some("smoltcp") {
        Peer::Smoltcp
    } else {
        Peer::Tcpkit
    };
    let rtt_ms: u64 = arg(4).and_then(|v| v.parse().ok()).unwrap_or(20);

    let link = LinkConfig {
        latency: Duration::from_micros(rtt_ms * 500),
        jitter: Duration::from_millis(1),
        bandwidth_bps: 100_000_000,
        queue_limit_bytes: 1 << 20,
        loss,
        reorder: if loss > 0.0 { 0.01 } else { 0.0 },
        ..LinkConfig::default()
    };
    // smoltcp only receives (its replies cross a lossless link): smoltcp 0.12
    // cannot repair a lost retransmission of its own.
    let back = if server == Peer::Smoltcp {
        LinkConfig {
            loss: 0.0,
            ..link.clone()
        }
    } else {
        link.clone()
    };
    let t = Transfer {
        tx_bytes: bytes,
        tx_seed: seed,
        rx_bytes: 0,
        rx_seed: seed + 1,
    };
    let mut net = pair_network(seed, Peer::Tcpkit, server, &link, &back, 256 * 1024, t);
    let wall = std::time::Instant::now();
    let out = net.run(RunLimits {
        deadline: Instant::from_millis(3_600_000),
        ..RunLimits::default()
    });
    let (c, s) = match (net.endpoint(0), net.endpoint(1)) {
        (Some(c), Some(s)) => (c.stats(), s.stats()),
        _ => return,
    };
    let intact = s.bytes_received == bytes && s.rx_hash == c.tx_hash;
    let secs = s
        .rx_complete_at
        .map_or(f64::NAN, |t| t.as_micros().max(1) as f64 / 1e6);
    println!(
        "tcpkit -> {}: loss {:.1}%, RTT {rtt_ms} ms, seed {seed}",
        server.name(),
        loss * 100.0
    );
    println!("outcome: {out:?}");
    println!(
        "{} of {bytes} bytes, intact: {intact}; {secs:.2} s simulated, goodput {:.3} Mbit/s",
        s.bytes_received,
        s.bytes_received as f64 * 8.0 / secs / 1e6
    );
    println!(
        "tcpkit retransmissions {}, RTOs {}",
        c.retransmissions, c.rto_count
    );
    if let (Some(a), Some(b)) = (net.link(0, 1), net.link(1, 0)) {
        println!("link c->s: {:?}\nlink s->c: {:?}", a.stats(), b.stats());
    }
    println!("wall time {:.2} s", wall.elapsed().as_secs_f64());
    if !(out.is_success() && intact) {
        std::process::exit(1);
    }
}
