//! RACK-TLP (RFC 8985) as a sender, segment by segment: time-based loss
//! detection of lost retransmissions, the tail loss probe, tolerance of
//! reordering within the reordering window, and its D-SACK adaptation.
//! Each scenario runs with RACK on and off; with it off the same trace
//! shows the RFC 6675-only behaviour, so every test shows RACK is what
//! makes the difference.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::ConnConfig;
use tcpkit::wire::TcpOptions;

const IRS: u32 = 40_000;
const ISS: u32 = 9_000;
const M: u32 = 1460;
/// Path round-trip time of every scenario.
const RTT: u64 = 100;

/// Relative sequence number of segment i's first byte.
fn seg(i: u32) -> u32 {
    1 + i * M
}

fn data(n: u32) -> Vec<u8> {
    (0..n as usize).map(|i| (i % 251) as u8).collect()
}

fn sack(blocks: &[(u32, u32)]) -> TcpOptions {
    let mut o = TcpOptions::default();
    for (i, &(l, r)) in blocks.iter().enumerate() {
        o.sack_blocks[i] = (ISS.wrapping_add(l), ISS.wrapping_add(r));
    }
    o.sack_block_count = blocks.len() as u8;
    o
}

/// Established SACK client (no timestamps) whose handshake took one RTT,
/// so SRTT and RACK.min_RTT are 100 ms.
fn est(rack: bool) -> Harness {
    let cfg = ConnConfig {
        enable_sack: true,
        enable_rack: rack,
        ..plain_cfg()
    };
    let mut h = Harness::client(&cfg, ISS, IRS);
    assert_eq!(h.out().len(), 1);
    h.now += ms(RTT);
    h.feed_syn(S | A, 0, 1, 65535, syn_opts(1460, None, true, None));
    h.out();
    h.events();
    h
}

fn end_of(s: &Sent) -> u32 {
    s.seq + s.payload.len() as u32
}

/// Segment 0 of a flight is lost, fast-retransmitted after the SACKs of
/// the rest, and the retransmission is lost too while new data sent after
/// it arrives. Returns whether segment 0 went out a second time one RTT
/// later, before the RTO (due 300 ms after the flight: one 100 ms sample).
fn lost_retransmission_resent(rack: bool) -> bool {
    let mut h = est(rack);
    h.conn.send(&data(30 * M)).unwrap();
    assert_eq!(h.out().len(), 10, "IW 10");
    h.now += ms(RTT);
    let mut sent = Vec::new();
    for i in 1..10 {
        h.feed_opts(A, 1, 1, 65535, sack(&[(seg(1), seg(i + 1))]), &[]);
        sent.extend(h.out());
    }
    assert_eq!(
        sent.iter().filter(|s| s.seq == seg(0)).count(),
        1,
        "fast retransmit of segment 0: {sent:?}"
    );
    let high = sent.iter().map(end_of).max().unwrap();
    assert!(high > seg(10), "new data went out after the retransmission");
    // One RTT later the new data is SACKed; the retransmission never arrived.
    h.now += ms(RTT);
    h.feed_opts(A, 1, 1, 65535, sack(&[(seg(1), high)]), &[]);
    let again = h.out();
    assert_eq!(h.conn.info().timeouts, 0, "no RTO so far");
    again.iter().any(|s| s.seq == seg(0))
}

#[test]
fn lost_retransmission_is_retransmitted_again_before_the_rto() {
    assert!(lost_retransmission_resent(true));
}

#[test]
fn without_rack_a_lost_retransmission_waits_for_the_rto() {
    assert!(!lost_retransmission_resent(false));
}

/// The last two segments of a burst are lost. Returns the first segment
/// sent after the ACK of the rest, how long after it, the RTO then, and the
/// RTO count; with RACK also checks the repair of the remaining hole.
fn tail_loss(rack: bool) -> (u32, u64, u64, u64) {
    let mut h = est(rack);
    h.conn.send(&data(6 * M)).unwrap();
    assert_eq!(h.out().len(), 6);
    h.now += ms(RTT);
    h.feed(A, 1, seg(4), 65535, &[]);
    assert!(h.out().is_empty());
    let rto = h.conn.info().rto_us / 1000;
    let waited = h.fire_next_timer();
    let probe = h.out();
    assert_eq!(probe.len(), 1, "one segment: {probe:?}");
    let timeouts = h.conn.info().timeouts;
    if rack {
        // The probe (the last segment) is SACKed: RACK marks segment 4 lost.
        h.now += ms(RTT);
        h.feed_opts(A, 1, seg(4), 65535, sack(&[(seg(5), seg(6))]), &[]);
        let repair = h.out();
        assert_eq!(repair.len(), 1, "{repair:?}");
        assert_eq!(repair[0].seq, seg(4), "the hole is resent at once");
        h.now += ms(RTT);
        h.feed(A, 1, seg(6), 65535, &[]);
        assert_eq!(h.conn.info().timeouts, 0);
        assert_eq!(h.conn.info().bytes_unacked, 0);
    }
    (probe[0].seq, waited.as_millis(), rto, timeouts)
}

#[test]
fn tail_loss_is_repaired_by_a_loss_probe_before_the_rto() {
    let (seq, waited, rto, timeouts) = tail_loss(true);
    assert_eq!(seq, seg(5), "the probe resends the last segment");
    // PTO = 2·SRTT with two segments in flight, below the RTO.
    assert_eq!(waited, 2 * RTT, "PTO");
    assert!(waited < rto, "PTO {waited} ms, RTO {rto} ms");
    assert_eq!(timeouts, 0);
}

#[test]
fn without_rack_a_tail_loss_waits_for_the_rto() {
    let (seq, waited, rto, timeouts) = tail_loss(false);
    assert_eq!(seq, seg(4));
    assert_eq!(waited, rto, "RTO");
    assert_eq!(timeouts, 1);
}

/// First segment 0 arrives just after segment 1 (the sender sees
/// reordering); then segment 10 arrives 15 ms after three later segments.
/// Returns the number of retransmissions.
fn reordering_within_window(rack: bool) -> u64 {
    let mut h = est(rack);
    h.conn.send(&data(20 * M)).unwrap();
    assert_eq!(h.out().len(), 10);
    h.now += ms(RTT);
    h.feed_opts(A, 1, 1, 65535, sack(&[(seg(1), seg(2))]), &[]);
    let mut sent = h.out();
    h.now += ms(5);
    h.feed(A, 1, seg(10), 65535, &[]);
    sent.extend(h.out());
    assert!(sent.iter().all(|s| s.seq >= seg(10)), "{sent:?}");
    let flight: Vec<u32> = sent.iter().map(|s| s.seq).collect();
    assert!(flight.len() >= 5, "{flight:?}");
    assert_eq!(flight[0], seg(10));
    // The first segment of the new flight arrives 15 ms after the next three.
    h.now += ms(RTT);
    for i in 11..14 {
        h.feed_opts(A, 1, seg(10), 65535, sack(&[(seg(11), seg(i + 1))]), &[]);
        sent.extend(h.out());
        h.now += ms(1);
    }
    h.now += ms(12);
    h.feed(A, 1, seg(14), 65535, &[]);
    sent.extend(h.out());
    assert!(sent.iter().all(|s| s.seq >= seg(10)), "{sent:?}");
    h.conn.info().segs_retransmitted
}

#[test]
fn reordering_within_the_reordering_window_causes_no_retransmission() {
    assert_eq!(reordering_within_window(true), 0);
}

#[test]
fn without_rack_three_sacks_of_reordered_data_retransmit_spuriously() {
    assert!(reordering_within_window(false) > 0);
}

/// Phase A: segment 0 is 40 ms late behind nine others: a spurious fast
/// retransmission, which the peer reports with a D-SACK. Phase B: the same
/// 40 ms reordering again, timers running. Returns the retransmissions of
/// phase B.
fn reordering_after_dsack(rack: bool, send_dsack: bool) -> u64 {
    let mut h = est(rack);
    h.conn.send(&data(40 * M)).unwrap();
    assert_eq!(h.out().len(), 10);
    h.now += ms(RTT);
    let mut sent = Vec::new();
    for i in 1..10 {
        h.feed_opts(A, 1, 1, 65535, sack(&[(seg(1), seg(i + 1))]), &[]);
        sent.extend(h.out());
    }
    assert!(
        sent.iter().any(|s| s.seq == seg(0)),
        "spurious retransmission"
    );
    // The original segment 0 arrives, then everything sent so far.
    h.now += ms(40);
    h.feed(A, 1, seg(10), 65535, &[]);
    sent.extend(h.out());
    let high = sent.iter().map(end_of).max().unwrap();
    h.now += ms(RTT - 40);
    let dsack = if send_dsack {
        sack(&[(seg(0), seg(1))])
    } else {
        TcpOptions::default()
    };
    h.feed_opts(A, 1, high, 65535, dsack, &[]);
    let b = h.out();
    assert!(b.len() >= 4, "phase B flight: {b:?}");
    assert_eq!(b[0].seq, high);
    let before = h.conn.info().segs_retransmitted;
    // Phase B: the first segment of the new flight is 40 ms late.
    h.now += ms(RTT);
    let first_end = end_of(&b[0]);
    for s in b.iter().skip(1).take(3) {
        let end = end_of(s);
        h.feed_opts(A, 1, high, 65535, sack(&[(first_end, end)]), &[]);
        h.out();
    }
    for _ in 0..8 {
        h.advance(ms(5));
        h.out();
    }
    let last = b.iter().map(end_of).max().unwrap();
    h.feed(A, 1, last, 65535, &[]);
    h.out();
    h.conn.info().segs_retransmitted - before
}

#[test]
fn dsack_widens_the_reordering_window() {
    assert_eq!(reordering_after_dsack(true, true), 0);
}

#[test]
fn without_dsack_the_window_stays_at_a_quarter_rtt() {
    // Same trace without the D-SACK: reo_wnd = min_RTT/4 = 25 ms < 40 ms.
    assert_eq!(reordering_after_dsack(true, false), 1);
}

#[test]
fn without_rack_dsack_changes_nothing() {
    assert_eq!(reordering_after_dsack(false, true), 1);
}

/// Established SACK client with timestamps; the handshake took one RTT.
fn est_ts(timestamps: bool) -> Harness {
    let cfg = ConnConfig {
        enable_sack: true,
        enable_timestamps: timestamps,
        ..plain_cfg()
    };
    Harness::established_sack_client(&cfg, ISS, IRS, ms(RTT))
}

/// Two RTOs back off the timer; then the peer ACKs the retransmitted first
/// segment one RTT later. Returns the RTO before, after the backoff, and after that ACK.
fn rto_after_progress(timestamps: bool) -> (u64, u64, u64) {
    let mut h = est_ts(timestamps);
    h.conn.send(&data(4 * M)).unwrap();
    assert_eq!(h.out().len(), 4);
    let base = h.conn.info().rto_us;
    let mut last = Vec::new();
    while h.conn.info().timeouts < 2 {
        h.fire_next_timer();
        last = h.out();
    }
    let backed_off = h.conn.info().rto_us;
    assert_eq!(last[0].seq, seg(0), "the RTO resends SND.UNA");
    h.now += ms(RTT);
    let opts = match last[0].options.timestamps {
        Some((val, _)) => ts(778, val),
        None => TcpOptions::default(),
    };
    h.feed_opts(A, 1, seg(1), 65535, opts, &[]);
    (base, backed_off, h.conn.info().rto_us)
}

#[test]
fn rto_backoff_ends_with_the_first_ack_that_carries_a_fresh_rtt_sample() {
    // RFC 6298 §5 note, RFC 7323 §4: the TSecr of the retransmission times it unambiguously.
    let (base, backed_off, after) = rto_after_progress(true);
    assert_eq!(backed_off, 4 * base);
    assert!(
        after < 2 * base,
        "backoff cleared: {base} -> {backed_off} -> {after} us"
    );
}

#[test]
fn without_timestamps_karn_keeps_the_backoff_until_new_data_is_timed() {
    // RFC 6298 §3 (Karn): an ACK of retransmitted data gives no sample.
    let (base, backed_off, after) = rto_after_progress(false);
    assert_eq!(backed_off, 4 * base);
    assert_eq!(after, backed_off);
}

/// Segment 1 of five is lost, its retransmission too, and nothing is sent
/// after it (no new data): no SACK can reveal the second loss. Returns the
/// time after the retransmission at which segment 1 went out again, and the
/// RTO count then.
fn lone_lost_retransmission(rack: bool) -> (u64, u64) {
    let mut h = est(rack);
    h.conn.send(&data(5 * M)).unwrap();
    assert_eq!(h.out().len(), 5);
    h.now += ms(RTT);
    h.feed(A, 1, seg(1), 65535, &[]);
    let mut sent = h.out();
    for i in 2..5 {
        h.feed_opts(A, 1, seg(1), 65535, sack(&[(seg(2), seg(i + 1))]), &[]);
        sent.extend(h.out());
    }
    assert!(
        sent.iter().any(|s| s.seq == seg(1)),
        "fast retransmit: {sent:?}"
    );
    let retransmitted_at = h.now;
    loop {
        h.fire_next_timer();
        if h.out().iter().any(|s| s.seq == seg(1)) {
            break;
        }
    }
    (
        (h.now - retransmitted_at).as_millis(),
        h.conn.info().timeouts,
    )
}

#[test]
fn a_lone_lost_retransmission_is_probed_before_the_rto() {
    // PTO = 2·SRTT after the last ACK, inside recovery (a deviation from RFC 8985 §7.2).
    let (after, timeouts) = lone_lost_retransmission(true);
    assert_eq!(after, 2 * RTT);
    assert_eq!(timeouts, 0);
}

#[test]
fn without_rack_a_lone_lost_retransmission_waits_for_the_rto() {
    let (after, timeouts) = lone_lost_retransmission(false);
    assert!(after > 2 * RTT, "{after} ms");
    assert_eq!(timeouts, 1);
}

/// Segment 1 of a flight is lost; an ACK one RTT after new data went out
/// SACKs everything else, so RACK marks segment 1 lost on that ACK and
/// recovery starts with nothing else in flight (pipe 0). Returns what that
/// ACK sent, and whether segment 1 went out again before any RTO when its
/// retransmission is lost too and the segments sent with it are SACKed.
fn recovery_started_by_an_ack_with_nothing_else_in_flight() -> (Vec<Sent>, bool) {
    let mut h = est(true);
    h.conn.send(&data(40 * M)).unwrap();
    assert_eq!(h.out().len(), 10, "IW 10");
    h.now += ms(RTT);
    h.feed(A, 1, seg(1), 65535, &[]);
    let grown = h.out();
    assert!(!grown.is_empty(), "cwnd grew: new data");
    let high = grown.iter().map(end_of).max().unwrap();
    h.now += ms(RTT);
    h.feed_opts(A, 1, seg(1), 65535, sack(&[(seg(2), high)]), &[]);
    let first = h.out();
    // The retransmission is lost; what followed it is SACKed one RTT later.
    let high2 = first.iter().map(end_of).max().unwrap_or(high).max(high);
    h.now += ms(RTT);
    h.feed_opts(A, 1, seg(1), 65535, sack(&[(seg(2), high2)]), &[]);
    let mut again = h.out();
    if !again.iter().any(|s| s.seq == seg(1)) {
        // RACK's reordering window may defer the mark to its timer; the RTO is later.
        h.fire_next_timer();
        again = h.out();
    }
    let resent = again.iter().any(|s| s.seq == seg(1)) && h.conn.info().timeouts == 0;
    (first, resent)
}

#[test]
fn the_ack_that_starts_recovery_counts_in_prr_so_new_data_follows_the_retransmission() {
    // RFC 6937 §3 (PRR-SSRB) with that ACK's DeliveredData, as Linux counts it.
    let (first, _) = recovery_started_by_an_ack_with_nothing_else_in_flight();
    assert_eq!(first.first().map(|s| s.seq), Some(seg(1)), "{first:?}");
    assert!(
        first
            .iter()
            .any(|s| s.seq > seg(1) && !s.payload.is_empty()),
        "new data after the retransmission: {first:?}"
    );
    assert!(first.len() > 1, "{first:?}");
}

#[test]
fn a_lost_retransmission_followed_by_new_data_is_resent_before_the_rto() {
    let (_, resent) = recovery_started_by_an_ack_with_nothing_else_in_flight();
    assert!(resent);
}

/// Until a segment starting at `seq` goes out: the ACK's own output first,
/// then RACK's reordering timer (a same-time burst waits for RACK.reo_wnd).
/// Returns whether it went out before any RTO.
fn resent_before_rto(h: &mut Harness, seq: u32) -> bool {
    for _ in 0..4 {
        if h.out().iter().any(|s| s.seq == seq) {
            return h.conn.info().timeouts == 0;
        }
        h.fire_next_timer();
    }
    false
}

/// Segments 1 and 6 of a flight are lost. The SACK of 2-5 starts recovery
/// for segment 1; a later ACK, still below RecoveryPoint, SACKs 7-9 and so
/// reveals segment 6. Returns (ssthresh, sack_recoveries) after the first
/// detection and after the second, and whether segment 6 was resent before the RTO.
fn second_loss_found_in_recovery() -> ((u64, u64), (u64, u64), bool) {
    let mut h = est(true);
    h.conn.send(&data(40 * M)).unwrap();
    assert_eq!(h.out().len(), 10, "IW 10");
    h.now += ms(RTT);
    h.feed_opts(A, 1, seg(1), 65535, sack(&[(seg(2), seg(6))]), &[]);
    assert!(resent_before_rto(&mut h, seg(1)), "segment 1 resent");
    let info = h.conn.info();
    let first = (info.ssthresh, info.sack_recoveries);
    h.now += ms(1);
    h.feed_opts(
        A,
        1,
        seg(1),
        65535,
        sack(&[(seg(7), seg(10)), (seg(2), seg(6))]),
        &[],
    );
    let resent = resent_before_rto(&mut h, seg(6));
    let info = h.conn.info();
    (first, (info.ssthresh, info.sack_recoveries), resent)
}

#[test]
fn a_loss_found_during_recovery_stays_in_the_same_episode() {
    // RFC 6675 §5 (a new episode needs HighACK past RecoveryPoint), RFC 8985 §9.3.
    let (first, second, resent) = second_loss_found_in_recovery();
    assert_eq!(first.1, 1, "recovery started for segment 1");
    assert!(
        first.0 < 40 * u64::from(M),
        "ssthresh was reduced: {first:?}"
    );
    assert!(resent, "segment 6 was repaired in the same recovery");
    assert_eq!(second, first, "no second episode, no second reduction");
}
