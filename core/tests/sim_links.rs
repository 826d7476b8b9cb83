//! Each link fault behaves as specified, and a seed fixes the whole trace.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/smoltcp_peer.rs"]
mod smoltcp_peer;

use tcpkit::sim::link::{corrupt_burst, serialization_delay, MAX_CORRUPT_BURST_BITS};
use tcpkit::sim::{GilbertElliott, Link, LinkConfig, RunLimits, SimRng};
use tcpkit::{Duration, Instant};

fn quiet() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(10),
        ..LinkConfig::default()
    }
}

/// A packet whose first 8 bytes carry its index, the rest filled from it.
fn packet(i: u64, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    tcpkit::sim::pattern_fill(i, 0, &mut p);
    p[..8].copy_from_slice(&i.to_be_bytes());
    p
}

fn index(p: &[u8]) -> u64 {
    u64::from_be_bytes(p[..8].try_into().unwrap())
}

/// Drains everything, returning (arrival time, packet) in delivery order.
fn drain(link: &mut Link) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(t) = link.next_arrival() {
        while let Some(p) = link.pop_due(t) {
            out.push((t, p));
        }
    }
    out
}

fn send_many(link: &mut Link, n: u64, len: usize, gap: Duration) {
    for i in 0..n {
        link.send(Instant::ZERO + gap.saturating_mul(i), &packet(i, len));
    }
}

#[test]
fn latency_delays_every_packet_exactly() {
    let mut link = Link::new(quiet(), 1);
    link.send(Instant::from_millis(5), &packet(0, 100));
    let got = drain(&mut link);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, Instant::from_millis(15));
    assert_eq!(got[0].1, packet(0, 100));
}

#[test]
fn jitter_spreads_arrivals_within_bound_without_reordering() {
    let cfg = LinkConfig {
        jitter: Duration::from_millis(4),
        ..quiet()
    };
    let mut link = Link::new(cfg, 2);
    send_many(&mut link, 1000, 100, Duration::from_micros(100));
    let got = drain(&mut link);
    assert_eq!(got.len(), 1000);
    let mut delays = Vec::new();
    for (k, (t, p)) in got.iter().enumerate() {
        assert_eq!(index(p), k as u64, "jitter alone must keep order");
        let sent = Instant::from_micros(100 * k as u64);
        let d = *t - sent;
        // In-order delivery may hold a packet behind its predecessor, never past
        // the predecessor's own bound.
        assert!(
            d >= Duration::from_millis(10) && d <= Duration::from_millis(14),
            "{d:?}"
        );
        delays.push(d);
    }
    assert!(
        delays.iter().any(|d| *d > Duration::from_millis(11)),
        "no jitter seen"
    );
}

#[test]
fn bandwidth_serializes_back_to_back_packets() {
    let cfg = LinkConfig {
        bandwidth_bps: 8_000_000, // 1 byte per µs
        ..quiet()
    };
    let mut link = Link::new(cfg, 3);
    send_many(&mut link, 5, 1000, Duration::ZERO);
    let got = drain(&mut link);
    for (k, (t, _)) in got.iter().enumerate() {
        assert_eq!(*t, Instant::from_micros(1000 * (k as u64 + 1) + 10_000));
    }
    assert_eq!(
        serialization_delay(1500, 1_000_000_000),
        Duration::from_micros(12)
    );
    assert_eq!(serialization_delay(1, 3), Duration::from_micros(2_666_667));
}

#[test]
fn full_queue_tail_drops() {
    let cfg = LinkConfig {
        bandwidth_bps: 8_000_000,
        queue_limit_bytes: 3000,
        ..quiet()
    };
    let mut link = Link::new(cfg, 4);
    send_many(&mut link, 10, 1000, Duration::ZERO);
    assert_eq!(link.stats().dropped_queue, 7);
    // Once the serializer has drained the queue, packets are admitted again.
    link.send(Instant::from_millis(3), &packet(10, 1000));
    let got = drain(&mut link);
    let idx: Vec<u64> = got.iter().map(|(_, p)| index(p)).collect();
    assert_eq!(idx, vec![0, 1, 2, 10]);
    assert_eq!(link.stats().max_queue_bytes, 3000);
}

#[test]
fn oversize_packets_are_dropped_at_the_mtu() {
    let mut link = Link::new(quiet(), 5);
    link.send(Instant::ZERO, &packet(0, 1500));
    link.send(Instant::ZERO, &packet(1, 1501));
    let got = drain(&mut link);
    assert_eq!(got.len(), 1);
    assert_eq!(index(&got[0].1), 0);
    assert_eq!(link.stats().dropped_mtu, 1);
}

#[test]
fn random_loss_drops_the_configured_share() {
    let cfg = LinkConfig {
        loss: 0.1,
        ..quiet()
    };
    let mut link = Link::new(cfg, 6);
    send_many(&mut link, 20_000, 64, Duration::from_micros(10));
    let got = drain(&mut link);
    let lost = link.stats().dropped_loss;
    assert_eq!(got.len() as u64 + lost, 20_000);
    assert!((1800..2200).contains(&lost), "lost {lost}");
}

/// Mean length of runs of consecutive lost packets.
fn mean_loss_run(link: &mut Link, n: u64) -> (f64, u64) {
    send_many(link, n, 64, Duration::from_micros(10));
    let got = drain(link);
    let mut delivered = vec![false; n as usize];
    for (_, p) in &got {
        delivered[index(p) as usize] = true;
    }
    let (mut runs, mut lost, mut in_run) = (0u64, 0u64, false);
    for d in delivered {
        if !d {
            lost += 1;
            if !in_run {
                runs += 1;
            }
        }
        in_run = !d;
    }
    (lost as f64 / runs.max(1) as f64, lost)
}

#[test]
fn gilbert_elliott_loss_comes_in_bursts() {
    let ge = GilbertElliott {
        p_good_to_bad: 0.01,
        p_bad_to_good: 0.2,
        loss_in_good: 0.0,
        loss_in_bad: 0.8,
    };
    let mean = ge.mean_loss();
    let n = 50_000;
    let mut bursty = Link::new(
        LinkConfig {
            burst_loss: Some(ge),
            ..quiet()
        },
        7,
    );
    let (run_b, lost_b) = mean_loss_run(&mut bursty, n);
    let mut random = Link::new(
        LinkConfig {
            loss: mean,
            ..quiet()
        },
        7,
    );
    let (run_r, _) = mean_loss_run(&mut random, n);
    let rate = lost_b as f64 / n as f64;
    assert!(
        (rate - mean).abs() < mean * 0.3,
        "rate {rate} vs mean {mean}"
    );
    assert!(
        run_b > 2.0 * run_r,
        "bursty runs {run_b} vs random runs {run_r}"
    );
}

#[test]
fn duplication_delivers_identical_copies() {
    let cfg = LinkConfig {
        duplicate: 0.1,
        ..quiet()
    };
    let mut link = Link::new(cfg, 8);
    send_many(&mut link, 5000, 200, Duration::from_micros(10));
    let got = drain(&mut link);
    let dups = link.stats().duplicated;
    assert_eq!(got.len() as u64, 5000 + dups);
    assert!((400..600).contains(&dups), "dups {dups}");
    for (_, p) in &got {
        assert_eq!(
            *p,
            packet(index(p), 200),
            "a copy differs from the original"
        );
    }
}

#[test]
fn reordering_lets_later_packets_overtake() {
    let cfg = LinkConfig {
        reorder: 0.05,
        reorder_delay: Duration::from_millis(2),
        ..quiet()
    };
    let mut link = Link::new(cfg, 9);
    send_many(&mut link, 2000, 100, Duration::from_micros(100));
    let got = drain(&mut link);
    assert_eq!(got.len(), 2000);
    let overtaken = got
        .windows(2)
        .filter(|w| index(&w[0].1) > index(&w[1].1))
        .count();
    assert!(overtaken > 50, "only {overtaken} inversions");
    assert!(link.stats().reordered > 50);

    let mut plain = Link::new(quiet(), 9);
    send_many(&mut plain, 2000, 100, Duration::from_micros(100));
    let got = drain(&mut plain);
    assert!(got.windows(2).all(|w| index(&w[0].1) < index(&w[1].1)));
}

/// RFC 1071 ones'-complement sum, folded (the test's own, independent of tcpkit::wire).
fn internet_sum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

#[test]
fn corruption_flips_a_short_burst_that_the_internet_checksum_catches() {
    let mut rng = SimRng::new(10);
    for i in 0..20_000u64 {
        let len = 1 + rng.below(1500) as usize;
        let orig = packet(i, len.max(8));
        let mut p = orig.clone();
        assert!(corrupt_burst(&mut rng, &mut p));
        let flipped: Vec<u64> = (0..p.len() as u64 * 8)
            .filter(|b| (orig[(b / 8) as usize] ^ p[(b / 8) as usize]) & (0x80 >> (b % 8)) != 0)
            .collect();
        assert!(!flipped.is_empty());
        let span = flipped[flipped.len() - 1] - flipped[0] + 1;
        assert!(
            span <= u64::from(MAX_CORRUPT_BURST_BITS),
            "burst of {span} bits"
        );
        assert_ne!(
            internet_sum(&orig),
            internet_sum(&p),
            "checksum missed a {span}-bit burst"
        );
    }
    let cfg = LinkConfig {
        corrupt: 0.2,
        ..quiet()
    };
    let mut link = Link::new(cfg, 11);
    send_many(&mut link, 2000, 300, Duration::from_micros(10));
    let got = drain(&mut link);
    let bad = got
        .iter()
        .filter(|(_, p)| *p != packet(index(p), 300) || index(p) >= 2000)
        .count();
    assert_eq!(got.len(), 2000);
    assert!(bad as u64 <= link.stats().corrupted && link.stats().corrupted > 300);
    assert!(bad > 300, "only {bad} corrupted packets seen");
}

fn faulty() -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(7),
        jitter: Duration::from_millis(3),
        bandwidth_bps: 20_000_000,
        queue_limit_bytes: 50_000,
        loss: 0.05,
        burst_loss: Some(GilbertElliott {
            p_good_to_bad: 0.01,
            p_bad_to_good: 0.3,
            loss_in_good: 0.0,
            loss_in_bad: 0.5,
        }),
        duplicate: 0.02,
        reorder: 0.03,
        corrupt: 0.01,
        ..LinkConfig::default()
    }
}

#[test]
fn same_seed_gives_the_same_link_trace_and_another_seed_does_not() {
    let run = |seed| {
        let mut link = Link::new(faulty(), seed);
        send_many(&mut link, 3000, 700, Duration::from_micros(50));
        let got = drain(&mut link);
        (*link.stats(), got)
    };
    let (a, ga) = run(42);
    let (b, gb) = run(42);
    let (c, _) = run(43);
    assert_eq!(a, b);
    assert_eq!(ga, gb);
    assert_ne!(a.trace_hash, c.trace_hash);
}

#[test]
fn same_seed_gives_the_same_network_run() {
    use smoltcp_peer::*;
    let run = |seed| {
        // smoltcp 0.12 as a sender stalls after a lost or reordered segment
        // (see support/smoltcp_peer.rs), so this run has jitter, bandwidth and
        // duplication only.
        let link = LinkConfig {
            loss: 0.0,
            queue_limit_bytes: 0,
            corrupt: 0.0,
            reorder: 0.0,
            burst_loss: None,
            ..faulty()
        };
        let t = Transfer {
            tx_bytes: 200_000,
            tx_seed: 1,
            rx_bytes: 1000,
            rx_seed: 2,
        };
        let mut net = smol_smol_network(seed, &link, 64 * 1024, t);
        let out = net.run(RunLimits::default());
        assert!(out.is_success(), "{out:?}");
        let l01 = *net.link(0, 1).unwrap().stats();
        let l10 = *net.link(1, 0).unwrap().stats();
        (out, l01, l10)
    };
    let a = run(5);
    assert_eq!(a, run(5));
    assert_ne!(a.1.trace_hash, run(6).1.trace_hash);
}

/// A scripted host: sends `pings` IPv4 packets to `peer` one at a time, each
/// after the previous reply; echoes what it receives if `echo`.
struct Pinger {
    me: [u8; 4],
    peer: [u8; 4],
    pings: u32,
    echo: bool,
    outbox: Vec<Vec<u8>>,
    arrivals: Vec<Instant>,
    timer: Option<Instant>,
    started: bool,
    total: u32,
}

fn ipv4_packet(src: [u8; 4], dst: [u8; 4], len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p
}

impl tcpkit::sim::Endpoint for Pinger {
    fn feed(&mut self, now: Instant, packet: &[u8]) {
        self.arrivals.push(now);
        if self.echo {
            self.outbox
                .push(ipv4_packet(self.me, self.peer, packet.len()));
        } else if self.pings > 0 {
            self.pings -= 1;
            self.outbox.push(ipv4_packet(self.me, self.peer, 100));
        }
    }
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let p = self.outbox.pop()?;
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }
    fn poll_timeout(&mut self, _now: Instant) -> Option<Instant> {
        self.timer
    }
    fn handle_timeout(&mut self, now: Instant) {
        // A periodic timer that does nothing: keeps the run alive.
        self.timer = Some(now + Duration::from_secs(1));
    }
    fn on_app(&mut self, _now: Instant) {
        if !self.echo
            && !self.started
            && self.arrivals.is_empty()
            && self.outbox.is_empty()
            && self.pings > 0
        {
            self.started = true;
            self.pings -= 1;
            self.outbox.push(ipv4_packet(self.me, self.peer, 100));
        }
    }
    fn status(&self) -> tcpkit::sim::Status {
        // The echoing host has no work of its own.
        if self.echo || self.arrivals.len() == self.total as usize {
            tcpkit::sim::Status::Done
        } else {
            tcpkit::sim::Status::Running
        }
    }
    fn stats(&self) -> tcpkit::sim::EndpointStats {
        tcpkit::sim::EndpointStats::default()
    }
    fn heap_bytes(&self) -> usize {
        0
    }
}

fn pinger(me: u8, peer: u8, pings: u32, echo: bool, timer: Option<Instant>) -> Pinger {
    Pinger {
        me: [10, 9, 0, me],
        peer: [10, 9, 0, peer],
        pings,
        echo,
        outbox: Vec::new(),
        arrivals: Vec::new(),
        timer,
        started: false,
        total: pings,
    }
}

fn ping_network(a: Pinger, b: Pinger, cfg: LinkConfig) -> tcpkit::sim::Network {
    use std::net::{IpAddr, Ipv4Addr};
    let mut net = tcpkit::sim::Network::new();
    let ia = net.add_endpoint(Box::new(a), &[IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1))]);
    let ib = net.add_endpoint(Box::new(b), &[IpAddr::V4(Ipv4Addr::new(10, 9, 0, 2))]);
    net.connect(ia, ib, cfg.clone(), cfg, 1);
    net
}

#[test]
fn virtual_clock_jumps_from_event_to_event() {
    // Five round trips over a 10 ms link: the run ends at exactly 100 ms,
    // in a handful of steps (no ticking through the idle time).
    let mut net = ping_network(
        pinger(1, 2, 5, false, None),
        pinger(2, 1, 0, true, None),
        quiet(),
    );
    let out = net.run(RunLimits::default());
    assert_eq!(
        out,
        tcpkit::sim::Outcome::AllDone {
            at: Instant::from_millis(100)
        }
    );
    assert!(net.stats().steps < 40, "{} steps", net.stats().steps);
    assert_eq!(net.link(0, 1).unwrap().stats().delivered, 5);
}

#[test]
fn driver_reports_stalls_and_the_time_bound() {
    use tcpkit::sim::Outcome;
    // The only ping is lost and nothing else is scheduled: a stall.
    let lossy = LinkConfig {
        loss: 1.0,
        ..quiet()
    };
    let mut net = ping_network(
        pinger(1, 2, 1, false, None),
        pinger(2, 1, 0, true, None),
        lossy.clone(),
    );
    assert_eq!(
        net.run(RunLimits::default()),
        Outcome::Stalled { at: Instant::ZERO }
    );
    // With a periodic timer the host keeps waiting until the deadline.
    let mut net = ping_network(
        pinger(1, 2, 1, false, Some(Instant::from_millis(1))),
        pinger(2, 1, 0, true, None),
        lossy,
    );
    let limits = RunLimits {
        deadline: Instant::from_millis(5_500),
        ..RunLimits::default()
    };
    assert_eq!(
        net.run(limits),
        Outcome::TimedOut {
            at: Instant::from_millis(5_001)
        }
    );
}
