//! HyStart++ (RFC 9406) end to end: a bulk transfer through a bottleneck
//! with a finite drop-tail queue, the same seed with HyStart++ on and off.
//! Plain slow start doubles cwnd until the queue overflows and loses about a
//! window; HyStart++ sees the queueing delay first and slows down, so fewer
//! segments are retransmitted. Figures print with `--nocapture`.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tcpkit::sim::stack_ep::{sim_config, Role};
use tcpkit::sim::{EndpointStats, LinkConfig, Network, RunLimits, TcpkitEndpoint, Transfer};
use tcpkit::{Duration, Instant};

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const PORT: u16 = 5001;

struct Run {
    client: EndpointStats,
    server: EndpointStats,
    queue_drops: u64,
    max_queue: usize,
}

/// Client -> server bulk transfer over `bottleneck` (ACKs return on a plain link).
fn transfer(seed: u64, hystart: bool, bytes: u64, bottleneck: &LinkConfig) -> Run {
    let t = Transfer {
        tx_bytes: bytes,
        tx_seed: seed,
        rx_bytes: 0,
        rx_seed: seed + 1,
    };
    let cfg = |s: u64| {
        let mut c = sim_config(s, 1500);
        c.hystart = hystart;
        // Large buffers so the receive window does not cap slow start first.
        c.send_buffer = 4 << 20;
        c.recv_buffer = 4 << 20;
        c
    };
    let mut net = Network::new();
    let client = TcpkitEndpoint::new(
        cfg(seed ^ 0xC),
        CLIENT,
        Role::Client {
            remote: SocketAddr::new(SERVER, PORT),
        },
        t,
    )
    .unwrap();
    let server = TcpkitEndpoint::new(
        cfg(seed ^ 0x5),
        SERVER,
        Role::Server { port: PORT },
        t.mirrored(),
    )
    .unwrap();
    let c = net.add_endpoint(Box::new(client), &[CLIENT]);
    let s = net.add_endpoint(Box::new(server), &[SERVER]);
    let back = LinkConfig {
        latency: bottleneck.latency,
        ..LinkConfig::default()
    };
    net.connect(c, s, bottleneck.clone(), back, seed);
    let out = net.run(RunLimits {
        deadline: Instant::from_millis(120_000),
        ..RunLimits::default()
    });
    assert!(out.is_success(), "hystart={hystart}: {out:?}");
    let client = net.endpoint(c).unwrap().stats();
    let server = net.endpoint(s).unwrap().stats();
    assert_eq!(server.bytes_received, bytes);
    assert_eq!(server.rx_hash, client.tx_hash, "bytes differ");
    let link = net.link(c, s).unwrap().stats();
    Run {
        client,
        server,
        queue_drops: link.dropped_queue,
        max_queue: link.max_queue_bytes,
    }
}

#[test]
fn hystart_retransmits_less_than_plain_slow_start_at_a_bottleneck() {
    // 20 Mbit/s, 40 ms RTT: BDP 100 kB; the drop-tail queue holds 3 BDP.
    // An unpaced sender's min RTT per round only rises once cwnd exceeds the
    // BDP by the 5 ms threshold at a round's start, so HyStart++ enters CSS
    // one round before plain slow start would overflow this queue; with a
    // 1-BDP queue both overflow in the same round and the runs are identical.
    // 1 ms of jitter makes the seeds differ.
    let bottleneck = LinkConfig {
        latency: Duration::from_millis(20),
        bandwidth_bps: 20_000_000,
        queue_limit_bytes: 300_000,
        jitter: Duration::from_millis(1),
        ..LinkConfig::default()
    };
    let bytes = 3 << 20;
    for seed in [1u64, 2, 3] {
        let on = transfer(seed, true, bytes, &bottleneck);
        let off = transfer(seed, false, bytes, &bottleneck);
        for (name, r) in [("hystart on ", &on), ("hystart off", &off)] {
            let secs = r.server.rx_complete_at.unwrap().as_micros() as f64 / 1e6;
            println!(
                "seed {seed} {name}: {} bytes in {secs:.3} s, retransmissions {}, RTOs {}, queue drops {}, max queue {} B",
                bytes, r.client.retransmissions, r.client.rto_count, r.queue_drops, r.max_queue
            );
        }
        // Plain slow start must overflow the queue here, or the comparison says nothing.
        assert!(
            off.queue_drops > 0,
            "seed {seed}: no overshoot without HyStart++"
        );
        assert!(
            on.client.retransmissions < off.client.retransmissions,
            "seed {seed}: {} retransmissions with HyStart++, {} without",
            on.client.retransmissions,
            off.client.retransmissions
        );
        assert!(on.queue_drops < off.queue_drops);
    }
}
