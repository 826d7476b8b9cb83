//! Spurious retransmission timeouts (RFC 3522 Eifel detection, RFC 4015
//! Eifel response): a delay spike longer than the RTO, no loss. The first
//! ACK after the timeout echoes the original's TSval, so the timeout is
//! undone: no go-back-N, the congestion state from before it (with
//! cwnd = FlightSize + min(bytes_acked, IW)), the backoff ends. Each test
//! contrasts the spurious case with one that must keep the RFC 6298 /
//! RFC 5681 timeout response (real loss, second timeout, no timestamps).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::ConnConfig;
use tcpkit::wire::TcpOptions;

const IRS: u32 = 40_000;
const ISS: u32 = 9_000;
/// Effective MSS: 1460 less the 12 bytes of the timestamps option.
const M_TS: u32 = 1448;
const M_PLAIN: u32 = 1460;
const RTT: u64 = 100;
const IW: u32 = 10;

fn seg(m: u32, i: u32) -> u32 {
    1 + i * m
}

fn data(n: u32) -> Vec<u8> {
    (0..n as usize).map(|i| (i % 251) as u8).collect()
}

/// Established SACK client, RACK-TLP on (the default), one 100 ms RTT sample.
fn est(timestamps: bool) -> Harness {
    let cfg = ConnConfig {
        enable_sack: true,
        enable_timestamps: timestamps,
        send_buffer: 1 << 20,
        ..plain_cfg()
    };
    Harness::established_sack_client(&cfg, ISS, IRS, ms(RTT))
}

/// The peer's ACK echoing `ecr` (when timestamps are on).
fn ack_opts(peer_ts: u32, ecr: Option<u32>) -> TcpOptions {
    ecr.map_or_else(TcpOptions::default, |e| ts(peer_ts, e))
}

struct Outcome {
    spurious: u64,
    /// (cwnd, ssthresh) just before the first timeout.
    before: (u64, u64),
    /// (cwnd, ssthresh) after the first ACK after the timeout(s).
    after: (u64, u64),
    /// FlightSize after that ACK and the bytes it acknowledged.
    flight: u64,
    acked: u64,
    /// Segments sent after that ACK that lie below SND.MAX of the timeout (go-back-N).
    resent_below_high: usize,
    mss: u64,
    timeouts: u64,
    /// SRTT before the timeouts and after that ACK.
    srtt: (u64, u64),
    /// RTO before the timeouts and after that ACK.
    rto: (u64, u64),
    /// TSval of the first new segment sent after that ACK.
    new_ts: Option<u32>,
    /// The connection, SND.MAX of the flight and the original's TSval, to go on.
    h: Harness,
    high: u32,
    orig_ts: Option<u32>,
}

/// Slow start to a 20-segment flight, then no ACK until `timeouts` RTOs
/// fired; then the ACK of the first two segments echoes the original's
/// TSval (`echo_original`) or the last retransmission's.
fn spike(timestamps: bool, timeouts: u64, echo_original: bool) -> Outcome {
    let mut h = est(timestamps);
    let m = if timestamps { M_TS } else { M_PLAIN };
    assert_eq!(h.conn.info().mss, m);
    let seg = |i| seg(m, i);
    h.conn.send(&data(40 * m)).unwrap();
    let iw = h.out();
    assert_eq!(iw.len(), IW as usize);
    h.now += ms(RTT);
    let iw_ts = iw[0].options.timestamps.map(|(v, _)| v);
    h.feed_opts(A, 1, seg(IW), 65535, ack_opts(800, iw_ts), &[]);
    let flight = h.out();
    assert!(flight.len() > IW as usize, "slow start: {}", flight.len());
    let first = &flight[0];
    assert_eq!(first.seq, seg(IW));
    let mut high = flight
        .iter()
        .map(|s| s.seq + s.payload.len() as u32)
        .max()
        .unwrap();
    let orig_ts = first.options.timestamps.map(|(v, _)| v);
    // The delay spike: nothing comes back. A loss probe may fire first.
    let mut before = (0, 0);
    let srtt_before = h.conn.info().srtt_us;
    let rto_before = h.conn.info().rto_us;
    let mut last_rexmit = None;
    while h.conn.info().timeouts < timeouts {
        let i = h.conn.info();
        if i.timeouts == 0 {
            before = (i.cwnd, i.ssthresh);
        }
        h.fire_next_timer();
        for s in h.out() {
            // A loss probe may send new data: SND.MAX moves.
            high = high.max(s.seq + s.payload.len() as u32);
            if s.seq == first.seq {
                last_rexmit = s.options.timestamps.map(|(v, _)| v);
            }
        }
    }
    let i = h.conn.info();
    assert_eq!(i.timeouts, timeouts);
    assert!(i.cwnd < before.0, "the timeout cut cwnd");
    assert!(
        timestamps == last_rexmit.is_some(),
        "SND.UNA was retransmitted"
    );
    h.now += ms(RTT);
    let acked_to = seg(IW + 2);
    let ecr = if echo_original { orig_ts } else { last_rexmit };
    let una_before = h.conn.info().bytes_acked;
    h.feed_opts(A, 1, acked_to, 65535, ack_opts(900, ecr), &[]);
    let i = h.conn.info();
    let sent = h.out();
    Outcome {
        spurious: h.conn.spurious_rtos(),
        before,
        after: (i.cwnd, i.ssthresh),
        flight: u64::from(high - acked_to),
        acked: i.bytes_acked - una_before,
        resent_below_high: sent.iter().filter(|s| s.seq < high).count(),
        mss: u64::from(m),
        timeouts: i.timeouts,
        srtt: (srtt_before, i.srtt_us),
        rto: (rto_before, i.rto_us),
        new_ts: sent
            .iter()
            .find(|s| s.seq == high)
            .and_then(|s| s.options.timestamps.map(|(v, _)| v)),
        h,
        high,
        orig_ts,
    }
}

#[test]
fn a_delay_spike_longer_than_the_rto_is_undone() {
    let o = spike(true, 1, true);
    assert_eq!(o.spurious, 1);
    assert_eq!(o.timeouts, 1);
    assert_eq!(o.acked, 2 * o.mss);
    // RFC 4015 §3: ssthresh from before the timeout, cwnd without a burst.
    assert_eq!(o.after.1, o.before.1, "ssthresh restored");
    assert_eq!(o.after.0, o.flight + o.acked.min(u64::from(IW) * o.mss));
    assert!(o.after.0 > 2 * o.mss, "not the loss window");
    assert_eq!(o.resent_below_high, 0, "no go-back-N");
    // RFC 4015 §3: that ACK times the original (Karn: no sample from it);
    // the backoff ends, so the RTO is the estimator's from before.
    assert_eq!(o.srtt.1, o.srtt.0, "no RTT sample from the original's echo");
    assert_eq!(o.rto.1, o.rto.0, "backoff ended");
}

#[test]
fn a_real_loss_keeps_the_timeout_response() {
    let spurious = spike(true, 1, true);
    let lost = spike(true, 1, false);
    assert_eq!(spurious.spurious, 1);
    assert_eq!(lost.spurious, 0, "the ACK echoes the retransmission");
    assert!(lost.after.1 < lost.before.1, "ssthresh stays cut");
    assert!(lost.after.0 < spurious.after.0);
    assert!(lost.resent_below_high > 0, "go-back-N resends the flight");
}

#[test]
fn a_second_timeout_of_the_same_segment_is_not_undone() {
    let once = spike(true, 1, true);
    let twice = spike(true, 2, true);
    assert_eq!(once.spurious, 1);
    assert_eq!(twice.spurious, 0, "only the first timeout is undone");
    assert!(twice.after.1 < twice.before.1, "ssthresh stays cut");
    assert!(twice.resent_below_high > 0, "go-back-N resends the flight");
}

#[test]
fn without_timestamps_a_timeout_is_never_undone() {
    let with = spike(true, 1, true);
    let without = spike(false, 1, true);
    assert_eq!(with.spurious, 1);
    assert_eq!(without.spurious, 0);
    assert!(without.after.1 < without.before.1, "ssthresh stays cut");
    assert!(
        without.resent_below_high > 0,
        "go-back-N resends the flight"
    );
}

/// A FIN-only retransmission (all data acked) has nothing to undo: no
/// detection is armed, and the ACK of the FIN completes the close.
#[test]
fn a_fin_only_timeout_is_not_undone() {
    let mut h = est(true);
    let m = M_TS;
    assert_eq!(h.conn.info().mss, m);
    let seg = |i| seg(m, i);
    h.conn.send(&data(m)).unwrap();
    let d = h.out();
    h.now += ms(RTT);
    let orig = d[0].options.timestamps.unwrap().0;
    h.feed_opts(A, 1, seg(1), 65535, ts(800, orig), &[]);
    h.conn.close(h.now);
    let fin = h.out();
    assert!(fin.iter().any(|s| s.has(F)), "{fin:?}");
    let fin_ts = fin[0].options.timestamps.unwrap().0;
    while h.conn.info().timeouts < 1 {
        h.fire_next_timer();
        h.out();
    }
    h.now += ms(RTT);
    h.feed_opts(A, 1, seg(1) + 1, 65535, ts(900, fin_ts), &[]);
    assert_eq!(h.conn.spurious_rtos(), 0);
    assert_eq!(h.conn.info().state, tcpkit::tcp::State::FinWait2);
}

/// After the undo the rest of the flight is tracked again: a segment of it
/// that was really lost is found by RACK from the SACKs of the segments
/// after it (RFC 8985 §6.2) and resent, without a second timeout.
#[test]
fn a_real_loss_after_an_undone_timeout_is_repaired_without_a_timeout() {
    let o = spike(true, 1, true);
    assert_eq!(o.spurious, 1);
    let mut h = o.h;
    let m = u32::try_from(o.mss).unwrap();
    let lost = seg(m, IW + 2);
    let mut o_sack = ts(901, o.orig_ts.unwrap());
    o_sack.sack_blocks[0] = (ISS.wrapping_add(lost + m), ISS.wrapping_add(o.high));
    o_sack.sack_block_count = 1;
    h.now += ms(5);
    h.feed_opts(A, 1, lost, 65535, o_sack, &[]);
    let mut resent = h.out().iter().any(|s| s.seq == lost);
    while !resent && h.conn.info().timeouts == 1 {
        h.fire_next_timer();
        resent = h.out().iter().any(|s| s.seq == lost);
    }
    assert!(resent);
    assert_eq!(h.conn.info().timeouts, 1, "no second timeout");
}

/// RFC 4015 §3 step 5: the first ACK of data sent after the undone timeout
/// sets SRTT = max(SRTT_prev + 2G, R) and RTTVAR = max(RTTVAR_prev, R/2),
/// so a path whose delay grew gets an RTO that fits it at once.
#[test]
fn the_first_sample_after_an_undone_timeout_adapts_the_rto() {
    let o = spike(true, 1, true);
    assert_eq!(o.spurious, 1);
    let mut h = o.h;
    let m = u32::try_from(o.mss).unwrap();
    let new_ts = o.new_ts.expect("new data sent after the undo");
    let before = h.conn.info();
    let r_ms = 400;
    h.now += ms(r_ms);
    h.feed_opts(A, 1, o.high + m, 65535, ts(950, new_ts), &[]);
    let i = h.conn.info();
    let r_us = r_ms * 1000;
    assert_eq!(i.srtt_us, (before.srtt_us + 2000).max(r_us));
    assert_eq!(i.rttvar_us, before.rttvar_us.max(r_us / 2));
    assert_eq!(h.conn.spurious_rtos(), 1);
}
