//! Regression tests for TCP engine bugs (issue 3 follow-up): persist timer
//! liveness, wants_transmit/poll_transmit agreement, SACK option room in
//! segment sizing, the challenge-ACK counter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "stack_util.rs"]
mod util;

use std::collections::VecDeque;
use tcpkit::stack::{Config, ListenAddr};
use tcpkit::tcp::{ConnConfig, Connection, Segment, SeqNum};
use tcpkit::time::Instant;
use tcpkit::wire::{TcpFlags, TcpOptions};
use tcpkit::Duration;
use util::*;

/// Bug 1: the receiver's window-update ACK is lost while the sender sits on a
/// window below its SWS threshold with nothing in flight. The persist timer
/// (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17) must probe and recover the stream.
#[test]
fn lost_window_update_is_recovered_by_persist_timer() {
    let cb = Config {
        recv_buffer: 64 * 1024,
        ..config(2)
    };
    let mut p = Pair::with(config(1), cb);
    let l = p.b.listen(ListenAddr::Any, 80, 8).unwrap();
    let c = p.a.connect(p.now, sa(B4, 80), 0).unwrap();
    p.advance(Duration::from_millis(10));
    let s = p.b.accept(l).unwrap();
    let data = pattern(200_000, 1);
    let mut sent = p.a.send(c, &data).unwrap();
    // B never reads: the window closes as far as SWS lets it.
    for _ in 0..50 {
        p.advance(Duration::from_millis(10));
        if let Ok(n) = p.a.send(c, &data[sent..]) {
            sent += n;
        }
    }
    let before = p.a.info(c).unwrap();
    assert!(
        before.tcp.bytes_unsent > 0,
        "the sender is stalled on the window: {before:?}"
    );
    assert_eq!(before.tcp.bytes_unacked, 0, "nothing in flight: {before:?}");
    let mut got = Vec::new();
    read_all(&mut p.b, s, &mut got);
    // The window update B sends now is lost.
    let mut buf = vec![0u8; 65536];
    let mut lost = 0;
    while p.b.poll_transmit(p.now, &mut buf).is_ok() {
        lost += 1;
    }
    assert!(lost > 0, "B sent a window update after the read");
    assert!(
        p.a.poll_timeout().is_some(),
        "the sender keeps a persist timer while data waits on the window"
    );
    let done = p.run_until(Duration::from_secs(120), |p| {
        if let Ok(n) = p.a.send(c, &data[sent..]) {
            sent += n;
        }
        read_all(&mut p.b, s, &mut got);
        got.len() == data.len()
    });
    assert!(done, "stream stalled: got {} of {}", got.len(), data.len());
    assert_eq!(got, data);
}

/// A segment taken out of one connection, with owned payload.
#[derive(Clone)]
struct Wire {
    seq: SeqNum,
    ack: SeqNum,
    flags: TcpFlags,
    window: u16,
    options: TcpOptions,
    payload: Vec<u8>,
}

/// Polls once, checking `wants_transmit()` predicted the answer (both ways).
fn poll_checked(c: &mut Connection, now: Instant, max: usize, what: &str) -> Option<Wire> {
    let wants = c.wants_transmit();
    let seg = c.poll_transmit(now, max).map(|s| {
        let mut payload = s.payload.0.to_vec();
        payload.extend_from_slice(s.payload.1);
        Wire {
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            window: s.window,
            options: s.options,
            payload,
        }
    });
    assert_eq!(
        wants,
        seg.is_some(),
        "{what}: wants_transmit() = {wants} but poll_transmit() gave {}; state {:?}, info {:?}",
        if seg.is_some() {
            "a segment"
        } else {
            "nothing"
        },
        c.state(),
        c.info()
    );
    seg
}

fn deliver(c: &mut Connection, now: Instant, w: &Wire) {
    let seg = Segment {
        seq: w.seq,
        ack: w.ack,
        flags: w.flags,
        window: w.window,
        options: w.options,
        payload: &w.payload,
    };
    let _ = c.handle_segment(now, &seg);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One random scenario: two connections over a lossy, reordering link with
/// random app sends, reads, small buffers and closes; every poll checks
/// wants_transmit() against poll_transmit().
fn random_scenario(seed: u64) {
    let result = std::panic::catch_unwind(|| random_scenario_inner(seed));
    if let Err(e) = result {
        eprintln!("random scenario seed {seed} failed");
        std::panic::resume_unwind(e);
    }
}

fn random_scenario_inner(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let cfg = |r: &mut Rng| ConnConfig {
        enable_sack: r.below(4) != 0,
        enable_timestamps: r.below(3) != 0,
        enable_window_scale: r.below(2) == 0,
        nodelay: r.below(2) == 0,
        recv_buffer: [4096u32, 16384, 65535, 200_000][r.below(4) as usize],
        send_buffer: [8192u32, 65536][r.below(2) as usize],
        initial_rto: Duration::from_millis(300),
        min_rto: Duration::from_millis(50),
        max_retries: 30,
        ..ConnConfig::default()
    };
    let ca = cfg(&mut rng);
    let cb = cfg(&mut rng);
    let loss = rng.below(20); // percent
    let max_payload = [536usize, 1460, 9000][rng.below(3) as usize];
    let mut now = Instant::from_millis(1000);
    let mut a = Connection::connect(&ca, SeqNum(rng.next() as u32), now);
    let syn = poll_checked(&mut a, now, max_payload, "a SYN").expect("SYN");
    let syn_seg = Segment {
        seq: syn.seq,
        ack: syn.ack,
        flags: syn.flags,
        window: syn.window,
        options: syn.options,
        payload: &[],
    };
    let mut b = Connection::accept(&cb, SeqNum(rng.next() as u32), &syn_seg, now);
    // In-flight segments (arrival time, packet), to a and to b.
    let mut to_a: VecDeque<(Instant, Wire)> = VecDeque::new();
    let mut to_b: VecDeque<(Instant, Wire)> = VecDeque::new();
    let data = pattern(60_000, seed as u32);
    let (mut a_sent, mut b_sent) = (0usize, 0usize);
    let mut rbuf = vec![0u8; 8192];
    for step in 0..4000 {
        // Application actions.
        match rng.below(10) {
            0..=2 => {
                let n = 1 + rng.below(5000) as usize;
                let end = (a_sent + n).min(data.len());
                if let Ok(k) = a.send(&data[a_sent..end]) {
                    a_sent += k;
                }
            }
            3 => {
                let end = (b_sent + 300).min(data.len());
                if let Ok(k) = b.send(&data[b_sent..end]) {
                    b_sent += k;
                }
            }
            4..=6 => {
                let _ = b.recv(&mut rbuf);
            }
            7 => {
                let _ = a.recv(&mut rbuf);
            }
            8 if step > 3000 && rng.below(50) == 0 => {
                let _ = a.shutdown(now);
            }
            _ => {}
        }
        // Transmit from both sides.
        for (conn, q, name) in [(&mut a, &mut to_b, "a"), (&mut b, &mut to_a, "b")] {
            for _ in 0..64 {
                let Some(w) = poll_checked(conn, now, max_payload, name) else {
                    break;
                };
                if rng.below(100) < loss {
                    continue;
                }
                let spread = if rng.below(10) == 0 { 40 } else { 5 };
                let delay = 5 + rng.below(spread);
                q.push_back((now + Duration::from_millis(delay), w));
            }
        }
        // Advance time to the next event (arrival or timer), at most 20 ms.
        let mut next = now + Duration::from_millis(1 + rng.below(20));
        for t in [a.poll_timeout(), b.poll_timeout()].into_iter().flatten() {
            next = next.min(t.max(now));
        }
        now = next;
        a.handle_timeout(now);
        b.handle_timeout(now);
        for (conn, q) in [(&mut a, &mut to_a), (&mut b, &mut to_b)] {
            let mut keep = VecDeque::new();
            while let Some((t, w)) = q.pop_front() {
                if t <= now {
                    deliver(conn, now, &w);
                } else {
                    keep.push_back((t, w));
                }
            }
            *q = keep;
        }
        // Check agreement after timers and input too (no poll in between).
        let _ = poll_checked(&mut a, now, max_payload, "a after input")
            .map(|w| to_b.push_back((now, w)));
        let _ = poll_checked(&mut b, now, max_payload, "b after input")
            .map(|w| to_a.push_back((now, w)));
    }
}

/// Bug 2: `wants_transmit()` and `poll_transmit()` agree in random scenarios.
#[test]
fn wants_transmit_agrees_with_poll_transmit_in_random_scenarios() {
    let seeds: u64 = std::env::var("TCPKIT_REGRESS_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    for seed in 1..=seeds {
        random_scenario(seed);
    }
}

/// Bug 3: a data segment that also carries SACK blocks is shortened by the
/// option bytes beyond timestamps, so it never exceeds the MSS the peer
/// accepts (RFC 6691 §2: the MSS counts data only; options reduce it).
#[test]
fn sack_blocks_shorten_the_payload() {
    let cfg = ConnConfig {
        enable_sack: true,
        enable_timestamps: true,
        enable_window_scale: true,
        nodelay: true,
        ..ConnConfig::default()
    };
    let mut now = Instant::from_millis(1000);
    let mut a = Connection::connect(&cfg, SeqNum(1000), now);
    let syn = poll_checked(&mut a, now, usize::MAX, "a SYN").unwrap();
    let syn_seg = Segment {
        seq: syn.seq,
        ack: syn.ack,
        flags: syn.flags,
        window: syn.window,
        options: syn.options,
        payload: &[],
    };
    let mut b = Connection::accept(&cfg, SeqNum(5000), &syn_seg, now);
    now += Duration::from_millis(1);
    let synack = poll_checked(&mut b, now, usize::MAX, "b SYN-ACK").unwrap();
    deliver(&mut a, now, &synack);
    let ack = poll_checked(&mut a, now, usize::MAX, "a ACK").unwrap();
    deliver(&mut b, now, &ack);
    let mss = a.info().mss as usize;
    assert!(mss > 0);
    // b sends three segments; the first is lost, so a holds out-of-order data
    // and every segment a sends carries SACK blocks.
    let bdata = pattern(3 * 500, 7);
    b.send(&bdata).unwrap();
    let mut segs = Vec::new();
    while let Some(w) = poll_checked(&mut b, now, 500, "b data") {
        segs.push(w);
    }
    assert!(segs.len() >= 3, "b sent {} segments", segs.len());
    now += Duration::from_millis(1);
    deliver(&mut a, now, &segs[1]);
    deliver(&mut a, now, &segs[2]);
    let adata = pattern(20 * mss, 9);
    a.send(&adata).unwrap();
    let mut with_sack = 0;
    while let Some(w) = poll_checked(&mut a, now, usize::MAX, "a data") {
        let opt_beyond_ts = if w.options.sack_block_count > 0 {
            // NOP NOP kind len + 8 per block (RFC 2018 §3).
            4 + 8 * usize::from(w.options.sack_block_count)
        } else {
            0
        };
        if w.options.sack_block_count > 0 && !w.payload.is_empty() {
            with_sack += 1;
            assert!(
                w.payload.len() + opt_beyond_ts <= mss,
                "payload {} + SACK option {} exceeds MSS {}",
                w.payload.len(),
                opt_beyond_ts,
                mss
            );
        }
    }
    assert!(with_sack > 0, "a sent data segments carrying SACK blocks");
}

/// Bug 4: challenge ACKs (RFC 5961 §3.2) are counted in the stack counters
/// and per connection.
#[test]
fn challenge_acks_are_counted() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 8).unwrap();
    let c = p.a.connect(p.now, sa(B4, 80), 0).unwrap();
    p.settle();
    let s = p.b.accept(l).unwrap();
    let _ = p.a.send(c, b"hello");
    p.settle();
    let mut got = Vec::new();
    read_all(&mut p.b, s, &mut got);
    let before = p.b.counters().challenge_acks_sent;
    // Learn a's SND.NXT from one more (intercepted) data segment; b's
    // RCV.NXT is that sequence number, so +100 is in window but not exact.
    p.advance(Duration::from_secs(1));
    let mut buf = vec![0u8; 2048];
    let _ = p.a.send(c, b"x");
    let n = p.a.poll_transmit(p.now, &mut buf).unwrap();
    let pkt = buf[..n].to_vec();
    let seq = u32::from_be_bytes([pkt[24], pkt[25], pkt[26], pkt[27]]);
    let port_a = u16::from_be_bytes([pkt[20], pkt[21]]);
    // In-window RSTs not exactly at RCV.NXT draw challenge ACKs (RFC 5961 §3.2).
    let mut answers = 0;
    for k in 0..3u32 {
        let seg = tcp4(A4, port_a, B4, 80, seq.wrapping_add(100 + k), 0, 0x04, &[]);
        let rst = ipv4_packet(A4, B4, 6, &seg, None);
        p.b.feed(p.now, &rst).unwrap();
        while p.b.poll_transmit(p.now, &mut buf).is_ok() {
            answers += 1;
        }
    }
    assert!(answers > 0, "b answered the in-window RSTs");
    let after = p.b.counters().challenge_acks_sent;
    assert_eq!(after - before, answers, "stack counter matches the wire");
    let per_conn = p.b.info(s).unwrap().tcp.challenge_acks_sent;
    assert_eq!(per_conn, answers, "per-connection count matches the wire");
}

/// Bug 5 (RTT under loss): after RTOs, an ACK echoing the TSval of the
/// original transmission (its first ACK was lost) must not become an RTT
/// sample spanning the whole backoff (RFC 6298 §3 Karn, RFC 7323 §4.2).
#[test]
fn ack_echoing_pre_rto_timestamp_is_no_rtt_sample() {
    let cfg = ConnConfig {
        enable_sack: true,
        enable_timestamps: true,
        nodelay: true,
        ..ConnConfig::default()
    };
    let mut now = Instant::from_millis(1000);
    let mut a = Connection::connect(&cfg, SeqNum(77), now);
    let syn = poll_checked(&mut a, now, usize::MAX, "a SYN").unwrap();
    let syn_seg = Segment {
        seq: syn.seq,
        ack: syn.ack,
        flags: syn.flags,
        window: syn.window,
        options: syn.options,
        payload: &[],
    };
    let mut b = Connection::accept(&cfg, SeqNum(9000), &syn_seg, now);
    now += Duration::from_millis(20);
    let synack = poll_checked(&mut b, now, usize::MAX, "b SYN-ACK").unwrap();
    deliver(&mut a, now, &synack);
    while let Some(w) = poll_checked(&mut a, now, usize::MAX, "a ACK") {
        deliver(&mut b, now, &w);
    }
    a.send(&pattern(1000, 3)).unwrap();
    let original = poll_checked(&mut a, now, usize::MAX, "a data").unwrap();
    let srtt_before = a.info().srtt_us;
    assert!(srtt_before > 0, "handshake gave an RTT sample");
    // Three RTOs; every retransmission is lost.
    while a.info().timeouts < 3 {
        now = a.poll_timeout().expect("retransmission timer");
        a.handle_timeout(now);
        while poll_checked(&mut a, now, usize::MAX, "a rexmit").is_some() {}
    }
    // The original arrives late; b's ACK echoes its (pre-RTO) TSval.
    now += Duration::from_millis(20);
    deliver(&mut b, now, &original);
    let mut acked = false;
    for _ in 0..10 {
        now += Duration::from_millis(200);
        b.handle_timeout(now);
        while let Some(w) = poll_checked(&mut b, now, usize::MAX, "b ACK") {
            deliver(&mut a, now, &w);
            acked = true;
        }
        if acked {
            break;
        }
    }
    assert!(acked, "b acknowledged the data");
    let info = a.info();
    assert_eq!(info.bytes_unacked, 0, "the data is acknowledged: {info:?}");
    assert_eq!(
        info.srtt_us, srtt_before,
        "an ambiguous TSecr left SRTT alone (no sample spanning the backoff)"
    );
}

#[cfg(feature = "sim")]
#[path = "support/smoltcp_peer.rs"]
mod smoltcp_peer;

/// Goodput (Mbit/s) and sender retransmissions of a tcpkit -> tcpkit bulk
/// transfer over a link that reorders `reorder` of the packets (no loss).
#[cfg(feature = "sim")]
fn reorder_transfer(reorder: f64, bytes: u64) -> (f64, u64) {
    use smoltcp_peer::{pair_network, Peer};
    use tcpkit::sim::{LinkConfig, RunLimits, Transfer};
    let link = LinkConfig {
        latency: Duration::from_millis(10),
        jitter: Duration::ZERO,
        bandwidth_bps: 100_000_000,
        queue_limit_bytes: 1 << 20,
        reorder,
        reorder_delay: Duration::from_millis(3),
        ..LinkConfig::default()
    };
    let t = Transfer {
        tx_bytes: bytes,
        tx_seed: 5,
        rx_bytes: 0,
        rx_seed: 6,
    };
    let mut net = pair_network(5, Peer::Tcpkit, Peer::Tcpkit, &link, &link, 256 * 1024, t);
    let out = net.run(RunLimits {
        deadline: Instant::from_millis(600_000),
        ..RunLimits::default()
    });
    assert!(out.is_success(), "reorder {reorder}: {out:?}");
    let rs = net.endpoint(1).unwrap().stats();
    let ss = net.endpoint(0).unwrap().stats();
    assert_eq!(rs.bytes_received, bytes);
    let secs = rs.rx_complete_at.unwrap().as_micros() as f64 / 1e6;
    (bytes as f64 * 8.0 / secs / 1e6, ss.retransmissions)
}

/// Bug 5 (reordering): a fast retransmit caused by reordering alone is undone
/// via timestamps (Eifel, RFC 3522), so 1% reordering costs little goodput
/// compared with an in-order link.
#[cfg(feature = "sim")]
#[test]
fn reordering_alone_does_not_collapse_goodput() {
    let bytes = 2 << 20;
    let (clean, clean_rexmit) = reorder_transfer(0.0, bytes);
    let (reordered, rexmit) = reorder_transfer(0.01, bytes);
    println!("in order {clean:.2} Mbit/s ({clean_rexmit} rexmit), 1% reordered {reordered:.2} Mbit/s ({rexmit} rexmit)");
    assert_eq!(clean_rexmit, 0, "no loss, no reordering: no retransmission");
    assert!(
        reordered >= clean * 0.7,
        "1% reordering cut goodput from {clean:.2} to {reordered:.2} Mbit/s"
    );
}

/// Bug 3 (stack side): without SACK blocks to carry, bulk data segments fill
/// the MTU exactly again (the stack no longer reserves worst-case option room),
/// and no packet exceeds it.
#[test]
fn full_segments_fill_the_mtu() {
    let mut p = Pair::new();
    let mtu = config(1).mtu as usize;
    let l = p.b.listen(ListenAddr::Any, 80, 8).unwrap();
    let c = p.a.connect(p.now, sa(B4, 80), 0).unwrap();
    p.settle();
    let s = p.b.accept(l).unwrap();
    let data = pattern(100_000, 4);
    let mut sent = 0;
    let mut got = Vec::new();
    let mut largest = 0;
    let mut buf = vec![0u8; 65536];
    for _ in 0..10_000 {
        if sent < data.len() {
            if let Ok(n) = p.a.send(c, &data[sent..]) {
                sent += n;
            }
        }
        while let Ok(n) = p.a.poll_transmit(p.now, &mut buf) {
            assert!(n <= mtu, "packet of {n} bytes exceeds the MTU {mtu}");
            largest = largest.max(n);
            p.b.feed(p.now, &buf[..n]).unwrap();
        }
        while let Ok(n) = p.b.poll_transmit(p.now, &mut buf) {
            p.a.feed(p.now, &buf[..n]).unwrap();
        }
        read_all(&mut p.b, s, &mut got);
        if got.len() == data.len() {
            break;
        }
        p.advance(Duration::from_millis(50));
    }
    assert_eq!(got, data);
    assert_eq!(largest, mtu, "full-sized data segments fill the MTU");
}

#[path = "tcp_support/mod.rs"]
mod tcp_support;

/// Bug 5 (RTOs instead of fast retransmit): after a recovery ends with an ACK
/// of exactly its recovery point, a loss of the very next segment is repaired
/// by fast retransmit on three duplicate ACKs, not by the RTO (RFC 6582 §3.2
/// step 2: the ACK covered more than the highest sequence sent at entry).
#[test]
fn loss_right_after_recovery_point_gets_fast_retransmit() {
    use tcp_support::{plain_cfg, Harness, A};
    let mut h = Harness::established_client(&plain_cfg(), 1000, 5000, 65535);
    let mss = h.conn.info().mss;
    h.conn.send(&pattern(40 * mss as usize, 8)).unwrap();
    let first = h.out();
    assert!(
        first.len() >= 4,
        "initial window sent {} segments",
        first.len()
    );
    let recover = first
        .iter()
        .map(|s| s.seq + s.payload.len() as u32)
        .max()
        .unwrap();
    // Segment 1 is lost: three duplicate ACKs, fast retransmit.
    for _ in 0..3 {
        h.feed(A, 1, 1, 65535, &[]);
    }
    let rexmit = h.out();
    assert!(
        rexmit.iter().any(|s| s.seq == 1),
        "fast retransmit of the first segment: {rexmit:?}"
    );
    // The full ACK covers exactly the recovery point; new data goes out.
    h.feed(A, 1, recover, 65535, &[]);
    let next = h.out();
    assert!(
        next.iter().any(|s| s.seq == recover),
        "new data from the recovery point: {next:?}"
    );
    // The first of those is lost too: three duplicate ACKs of the recovery point.
    for _ in 0..3 {
        h.feed(A, 1, recover, 65535, &[]);
    }
    let again = h.out();
    assert!(
        again
            .iter()
            .any(|s| s.seq == recover && !s.payload.is_empty()),
        "fast retransmit at the old recovery point, without waiting for the RTO: {again:?}"
    );
    assert_eq!(h.conn.info().timeouts, 0);
}
