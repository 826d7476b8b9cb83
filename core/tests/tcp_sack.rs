//! SACK (RFC 2018, RFC 2883) on both sides and SACK-based loss recovery
//! (RFC 6675) with PRR (RFC 6937).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{ConnConfig, State};
use tcpkit::wire::TcpOptions;

const IRS: u32 = 40_000;
const ISS: u32 = 9_000;

fn sack_cfg() -> ConnConfig {
    ConnConfig {
        enable_sack: true,
        ..plain_cfg()
    }
}

/// Established client with SACK negotiated and a big peer window.
fn est() -> Harness {
    let mut h = Harness::client(&sack_cfg(), ISS, IRS);
    let syn = h.out();
    assert!(syn[0].options.sack_permitted);
    h.feed_syn(S | A, 0, 1, 65535, syn_opts(1460, None, true, None));
    h.out();
    h.events();
    h
}

fn sack(blocks: &[(u32, u32)]) -> TcpOptions {
    let mut o = TcpOptions::default();
    for (i, &(l, r)) in blocks.iter().enumerate() {
        o.sack_blocks[i] = (ISS.wrapping_add(l), ISS.wrapping_add(r));
    }
    o.sack_block_count = blocks.len() as u8;
    o
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

const M: u32 = 1460;

/// Sequence (relative) of segment i's first byte.
fn seg(i: u32) -> u32 {
    1 + i * M
}

#[test]
fn receiver_reports_sack_blocks_most_recent_first() {
    let mut h = est();
    let d = data(6 * M as usize);
    let chunk = |i: u32| &d[(i * M) as usize..((i + 1) * M) as usize];
    // Segments 1 and 3 and 5 arrive; 0, 2, 4 are missing.
    h.feed(A, seg(1), 1, 65535, chunk(1));
    let a = h.out();
    assert_eq!(a[0].ack, 1);
    assert_eq!(a[0].sack(IRS), vec![(seg(1), seg(2))]);
    h.feed(A, seg(3), 1, 65535, chunk(3));
    let a = h.out();
    assert_eq!(a[0].sack(IRS), vec![(seg(3), seg(4)), (seg(1), seg(2))]);
    h.feed(A, seg(5), 1, 65535, chunk(5));
    let a = h.out();
    assert_eq!(
        a[0].sack(IRS),
        vec![(seg(5), seg(6)), (seg(3), seg(4)), (seg(1), seg(2))]
    );
    // The hole before everything fills: cumulative ACK jumps, blocks shrink.
    h.feed(A, seg(0), 1, 65535, chunk(0));
    let a = h.out();
    assert_eq!(a.len(), 1, "hole-filling data is ACKed at once");
    assert_eq!(a[0].ack, seg(2));
    // The segment advanced the cumulative ACK, so the blocks keep their
    // most-recently-reported order (RFC 2018 §4).
    assert_eq!(a[0].sack(IRS), vec![(seg(5), seg(6)), (seg(3), seg(4))]);
    h.feed(A, seg(2), 1, 65535, chunk(2));
    h.feed(A, seg(4), 1, 65535, chunk(4));
    let a = h.out();
    assert_eq!(a.last().unwrap().ack, seg(6));
    assert!(a.last().unwrap().sack(IRS).is_empty());
    assert_eq!(h.read_all(), d);
}

#[test]
fn duplicate_segment_is_reported_as_dsack() {
    let mut h = est();
    let d = data(M as usize);
    h.feed(A, 1, 1, 65535, &d);
    h.out();
    h.advance(ms(50));
    h.out();
    h.feed(A, 1, 1, 65535, &d);
    let a = h.out();
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].sack(IRS),
        vec![(1, 1 + M)],
        "D-SACK of the duplicate (RFC 2883)"
    );
}

#[test]
fn sack_not_used_when_peer_does_not_permit() {
    let mut h = Harness::client(&sack_cfg(), ISS, IRS);
    h.out();
    h.feed_syn(S | A, 0, 1, 65535, syn_opts(1460, None, false, None));
    h.out();
    let d = data(M as usize);
    h.feed(A, seg(1), 1, 65535, &d);
    let a = h.out();
    assert!(a[0].sack(IRS).is_empty());
}

#[test]
fn sack_recovery_repairs_several_losses_in_one_window() {
    let mut h = est();
    let total = 20 * M as usize;
    h.conn.send(&data(total)).unwrap();
    let first = h.out();
    assert_eq!(first.len(), 10, "IW 10");
    // Segments 0, 3 and 6 of the first flight are lost; the peer SACKs the rest.
    let lost = [0u32, 3, 6];
    let mut blocks: Vec<(u32, u32)> = Vec::new();
    let mut sent_after = Vec::new();
    for i in 0..10u32 {
        if lost.contains(&i) {
            continue;
        }
        // Merge into the peer's ranges the way a receiver would.
        match blocks.iter_mut().find(|b| b.1 == seg(i)) {
            Some(b) => b.1 = seg(i + 1),
            None => blocks.push((seg(i), seg(i + 1))),
        }
        let mut recent = blocks.clone();
        recent.reverse();
        recent.truncate(4);
        h.feed_opts(A, 1, 1, 65535, sack(&recent), &[]);
        sent_after.extend(h.out());
    }
    assert_eq!(h.conn.info().sack_recoveries, 1, "one recovery episode");
    let rexmit: Vec<u32> = sent_after
        .iter()
        .filter(|s| s.seq < seg(10))
        .map(|s| s.seq)
        .collect();
    assert_eq!(
        rexmit,
        vec![seg(0), seg(3), seg(6)],
        "each hole retransmitted once, in order"
    );
    assert_eq!(h.conn.info().segs_retransmitted, 3);
    // PRR keeps the sending rate near ssthresh: some new data, not a burst.
    let new_data = sent_after.iter().filter(|s| s.seq >= seg(10)).count();
    assert!(new_data <= 6, "PRR paces new data: {new_data}");
    // The retransmissions arrive: cumulative ACK covers everything sent.
    let high = sent_after
        .iter()
        .map(|s| s.seq + s.payload.len() as u32)
        .max()
        .unwrap();
    h.feed(A, 1, high, 65535, &[]);
    let info = h.conn.info();
    assert_eq!(
        info.cwnd, info.ssthresh,
        "recovery ends with cwnd = ssthresh"
    );
    assert!(h.conn.poll_timeout().is_some() || info.bytes_unacked == 0);
    assert_eq!(info.timeouts, 0, "no RTO needed");
}

#[test]
fn rto_clears_scoreboard_and_retransmits_from_snd_una() {
    let mut h = est();
    h.conn.send(&data(5 * M as usize)).unwrap();
    h.out();
    h.feed_opts(A, 1, 1, 65535, sack(&[(seg(2), seg(3))]), &[]);
    h.out();
    // Loss probes (RFC 8985 §7) may go first; then the RTO.
    let mut r = Vec::new();
    while h.conn.info().timeouts == 0 {
        h.fire_next_timer();
        r = h.out();
    }
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].seq, 1);
    assert_eq!(h.conn.state(), State::Established);
}

#[test]
fn sack_blocks_outside_the_window_are_ignored() {
    let mut h = est();
    h.conn.send(&data(3 * M as usize)).unwrap();
    h.out();
    // Blocks beyond SND.MAX are invalid and must not trigger recovery.
    for _ in 0..3 {
        h.feed_opts(A, 1, 1, 65535, sack(&[(seg(50), seg(60))]), &[]);
    }
    assert_eq!(h.conn.info().sack_recoveries, 0);
}
