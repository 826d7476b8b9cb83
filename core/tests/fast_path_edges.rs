//! Segments at the edge of header prediction (tcp/input.rs
//! `is_predicted_in_order_data`): in-order data on an ESTABLISHED connection
//! that differs from the predicted case in one thing the in-crate
//! equivalence test (random loss, reordering and reads between two
//! identical peers) never produces: a FIN or URG with the data, an older or
//! wrapped timestamp, TS.Recent past the PAWS idle limit, data beyond the
//! window, a shrunk receive buffer, a window update ruled out by SND.WL1, an
//! ACK outside RFC 5961's range, data that ACKs SND.UNA while data is
//! outstanding. Each test asserts what the RFC requires, whichever path
//! the connection takes.

mod tcp_support;

use tcp_support::*;
use tcpkit::tcp::{ConnConfig, ConnEvent, SegmentOutcome, State};
use tcpkit::time::Duration;

/// The peer's first TSval.
const TS0: u32 = 0x1000;

fn cfg(recv_buffer: u32) -> ConnConfig {
    ConnConfig {
        recv_buffer,
        enable_window_scale: false,
        keepalive_count: 0,
        ..ConnConfig::default()
    }
}

/// A server connection established with timestamps and SACK (the peer's
/// window 65535, unscaled); returns it with the TSval of our SYN-ACK.
fn ts_server(c: &ConnConfig, ts0: u32) -> (Harness, u32) {
    let mut h = Harness::server(
        c,
        1000,
        5000,
        syn_opts(1460, None, true, Some((ts0, 0))),
        65535,
    );
    let synack = h.out();
    assert_eq!(synack.len(), 1);
    let (ours, ecr) = synack[0].options.timestamps.expect("timestamps negotiated");
    assert_eq!(ecr, ts0);
    h.feed_opts(A, 1, 1, 65535, ts(ts0.wrapping_add(1), ours), &[]);
    assert_eq!(h.conn.state(), State::Established);
    assert_eq!(h.events(), vec![ConnEvent::Connected]);
    (h, ours)
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The last ACK sent, after running the delayed-ACK timer if one is due.
fn flush_ack(h: &mut Harness) -> Sent {
    let mut out = h.out();
    if out.is_empty() {
        h.fire_next_timer();
        out = h.out();
    }
    out.pop().expect("an ACK")
}

/// RFC 7323 §4.3: TS.Recent takes SEG.TSval only from a segment with
/// SEG.SEQ <= Last.ACK.sent. With an ACK delayed, the second in-order
/// segment starts past Last.ACK.sent: the ACK covering both echoes the
/// first segment's TSval.
#[test]
fn ts_recent_comes_from_the_segment_at_last_ack_sent() {
    let (mut h, ours) = ts_server(&cfg(8192), TS0);
    let (d1, d2) = (bytes(100, 1), bytes(100, 2));
    assert_eq!(
        h.feed_opts(A, 1, 1, 65535, ts(TS0 + 10, ours), &d1),
        SegmentOutcome::Accepted
    );
    assert!(
        h.out().is_empty(),
        "the ACK of one small segment is delayed"
    );
    assert_eq!(
        h.feed_opts(A | P, 101, 1, 65535, ts(TS0 + 20, ours), &d2),
        SegmentOutcome::Accepted
    );
    let ack = flush_ack(&mut h);
    assert_eq!(ack.ack, 201);
    assert_eq!(ack.options.timestamps.map(|t| t.1), Some(TS0 + 10));
    assert_eq!(h.read_all(), [d1, d2].concat());
    // Now Last.ACK.sent is 201: the next segment's TSval is taken.
    let d3 = bytes(50, 3);
    h.feed_opts(A, 201, 1, 65535, ts(TS0 + 30, ours), &d3);
    let ack = flush_ack(&mut h);
    assert_eq!(
        (ack.ack, ack.options.timestamps.map(|t| t.1)),
        (251, Some(TS0 + 30))
    );
}

/// RFC 7323 §5.3: in-order data with a TSval older than TS.Recent is an old
/// duplicate: dropped, and ACKed at once. Newer (also across the 2^32 wrap)
/// is taken.
#[test]
fn paws_drops_in_order_data_with_an_older_timestamp() {
    for ts0 in [TS0, 0xffff_fff0] {
        let (mut h, ours) = ts_server(&cfg(8192), ts0);
        let d1 = bytes(100, 1);
        h.feed_opts(A, 1, 1, 65535, ts(ts0.wrapping_add(8), ours), &d1);
        let ack = flush_ack(&mut h);
        assert_eq!(ack.ack, 101);
        let old = bytes(100, 9);
        let outcome = h.feed_opts(A, 101, 1, 65535, ts(ts0.wrapping_add(7), ours), &old);
        assert_eq!(outcome, SegmentOutcome::Dropped, "ts0 {ts0:#x}");
        let out = h.out();
        assert_eq!(out.len(), 1, "an immediate ACK: {out:?}");
        assert_eq!(out[0].ack, 101);
        assert_eq!(
            out[0].options.timestamps.map(|t| t.1),
            Some(ts0.wrapping_add(8))
        );
        assert_eq!(h.read_all(), d1, "the old duplicate is not data");
        // The same sequence space with a newer TSval (past the wrap for the second ts0).
        let d2 = bytes(100, 2);
        let newer = ts0.wrapping_add(20);
        assert_eq!(
            h.feed_opts(A, 101, 1, 65535, ts(newer, ours), &d2),
            SegmentOutcome::Accepted
        );
        assert_eq!(h.read_all(), d2);
        assert_eq!(
            flush_ack(&mut h).options.timestamps.map(|t| t.1),
            Some(newer)
        );
    }
}

/// RFC 7323 §5.5: after more than 24 days idle TS.Recent is invalid, so an
/// older TSval does not make in-order data a duplicate.
#[test]
fn paws_accepts_any_timestamp_after_24_days_idle() {
    let (mut h, ours) = ts_server(&cfg(8192), TS0);
    let d1 = bytes(100, 1);
    h.feed_opts(A, 1, 1, 65535, ts(TS0 + 1000, ours), &d1);
    flush_ack(&mut h);
    assert_eq!(h.read_all(), d1);
    h.advance(Duration::from_secs(25 * 24 * 3600));
    h.out();
    assert_eq!(h.conn.state(), State::Established);
    let d2 = bytes(100, 2);
    let outcome = h.feed_opts(A, 101, 1, 65535, ts(TS0 + 5, ours), &d2);
    assert_eq!(outcome, SegmentOutcome::Accepted);
    assert_eq!(h.read_all(), d2);
}

/// In-order data with FIN (RFC 9293 §3.10.7.4 steps seven and eight): the
/// text, then the FIN: CLOSE-WAIT, PEER_CLOSED, an immediate ACK of both.
#[test]
fn in_order_data_with_fin_takes_the_fin() {
    let (mut h, ours) = ts_server(&cfg(8192), TS0);
    let d1 = bytes(300, 1);
    h.feed_opts(A, 1, 1, 65535, ts(TS0 + 2, ours), &d1);
    let d2 = bytes(200, 2);
    h.feed_opts(A | P | F, 301, 1, 65535, ts(TS0 + 3, ours), &d2);
    assert_eq!(h.conn.state(), State::CloseWait);
    let out = h.out();
    assert_eq!(
        out.last().map(|s| s.ack),
        Some(502),
        "the FIN is ACKed at once: {out:?}"
    );
    assert!(h.events().contains(&ConnEvent::PeerClosed));
    assert_eq!(h.read_all(), [d1, d2].concat());
}

/// URG with in-order data: the data is taken in line (RFC 9293 §3.8.5:
/// urgent is only a mark in the stream), nothing lost or duplicated.
#[test]
fn urgent_data_is_taken_in_line() {
    let (mut h, ours) = ts_server(&cfg(8192), TS0);
    let d1 = bytes(100, 1);
    let d2 = bytes(100, 2);
    h.feed_opts(A, 1, 1, 65535, ts(TS0 + 2, ours), &d1);
    let urg = tcpkit::wire::TcpFlags::URG;
    let outcome = h.feed_opts(A | P | urg, 101, 1, 65535, ts(TS0 + 3, ours), &d2);
    assert_eq!(outcome, SegmentOutcome::Accepted);
    assert_eq!(h.read_all(), [d1, d2].concat());
    assert_eq!(flush_ack(&mut h).ack, 201);
}

/// In-order data longer than the window: only the window's worth is taken
/// (RFC 9293 §3.10.7.4), the ACK covers exactly that, the window closes, and
/// the rest arrives intact once the reader makes room.
#[test]
fn in_order_data_beyond_the_window_is_trimmed() {
    let (mut h, ours) = ts_server(&cfg(4096), TS0);
    let data = bytes(6000, 1);
    h.feed_opts(A, 1, 1, 65535, ts(TS0 + 2, ours), &data);
    assert_eq!(h.conn.info().bytes_readable, 4096);
    let ack = flush_ack(&mut h);
    assert_eq!((ack.ack, ack.window), (4097, 0));
    // More in-order data at a closed window, FIN included: only ACKed.
    let outcome = h.feed_opts(A | F, 4097, 1, 65535, ts(TS0 + 3, ours), &data[4096..]);
    assert_ne!(
        h.conn.state(),
        State::CloseWait,
        "{outcome:?}: the FIN is outside the window"
    );
    let out = h.out();
    assert!(
        out.iter().any(|s| s.ack == 4097 && s.window == 0),
        "{out:?}"
    );
    let mut got = h.read_all();
    assert_eq!(got, data[..4096]);
    // The window opens: the rest, then the FIN.
    h.out();
    h.feed_opts(A | F, 4097, 1, 65535, ts(TS0 + 4, ours), &data[4096..]);
    got.extend(h.read_all());
    assert_eq!(got, data);
    assert_eq!(h.conn.state(), State::CloseWait);
}

/// A receive buffer lowered under what was advertised: data inside the
/// advertised window is never ACKed beyond what was stored (ACK number =
/// bytes readable), and what is stored is the stream's prefix.
#[test]
fn shrunk_receive_buffer_never_acks_dropped_bytes() {
    let (mut h, ours) = ts_server(&cfg(8192), TS0);
    h.conn.set_recv_buffer(2048);
    let data = bytes(1400, 1);
    let more = bytes(1400, 2);
    h.feed_opts(A, 1, 1, 65535, ts(TS0 + 2, ours), &data);
    h.feed_opts(A, 1401, 1, 65535, ts(TS0 + 3, ours), &more);
    let stored = h.conn.info().bytes_readable;
    assert!(stored <= 8192);
    let ack = flush_ack(&mut h);
    assert_eq!(
        u64::from(ack.ack),
        1 + stored,
        "the ACK covers what was stored"
    );
    let got = h.read_all();
    assert_eq!(got.len() as u64, stored);
    assert_eq!(got, [data, more].concat()[..got.len()]);
}

/// RFC 9293 §3.10.7.4 (SND.WL1/SND.WL2): an out-of-order segment updated
/// the send window; the in-order segment before it, arriving later with an
/// older window, must not undo that.
#[test]
fn an_older_segment_does_not_update_the_send_window() {
    let (mut h, ours) = ts_server(&cfg(8192), TS0);
    let (d1, d2) = (bytes(100, 1), bytes(100, 2));
    h.feed_opts(A, 101, 1, 30000, ts(TS0 + 3, ours), &d2);
    assert_eq!(h.conn.info().snd_wnd, 30000);
    h.feed_opts(A, 1, 1, 1000, ts(TS0 + 2, ours), &d1);
    assert_eq!(h.conn.info().snd_wnd, 30000, "SND.WL1 is past this segment");
    assert_eq!(h.read_all(), [d1, d2].concat());
    // The next in-order segment (newer than WL1) does update it.
    h.feed_opts(A, 201, 1, 12345, ts(TS0 + 4, ours), &bytes(10, 3));
    assert_eq!(h.conn.info().snd_wnd, 12345);
}

/// RFC 5681 §2: a segment with data is no duplicate ACK, so in-order data
/// from the peer that ACKs SND.UNA while our data is outstanding never
/// triggers a fast retransmit.
#[test]
fn data_acking_snd_una_is_no_duplicate_ack() {
    let (mut h, ours) = ts_server(&cfg(8192), TS0);
    assert_eq!(h.conn.send(&bytes(4000, 7)), Ok(4000));
    let sent = h.out();
    assert!(!sent.is_empty());
    for i in 0..6u32 {
        let seq = 1 + 100 * i;
        h.feed_opts(
            A,
            seq,
            1,
            65535,
            ts(TS0 + 2 + i, ours),
            &bytes(100, i as u8),
        );
    }
    let out = h.out();
    assert!(
        out.iter().all(|s| s.seq != 1 || s.payload.is_empty()),
        "{out:?}"
    );
    assert_eq!(h.conn.info().segs_retransmitted, 0);
    assert_eq!(h.read_all().len(), 600);
}

/// RFC 5961 §5.2: in-order data whose ACK acknowledges data never sent, or
/// older than SND.UNA - MAX.SND.WND, is dropped with a challenge ACK; an
/// old ACK inside that range is acceptable and its data taken.
#[test]
fn data_with_an_unacceptable_ack_is_dropped() {
    let (mut h, ours) = ts_server(&cfg(8192), TS0);
    let d = bytes(100, 1);
    let challenges = h.conn.info().challenge_acks_sent;
    // SND.NXT is 1 (relative): ACK 5000 acknowledges nothing we sent.
    let outcome = h.feed_opts(A, 1, 5000, 65535, ts(TS0 + 2, ours), &d);
    assert_eq!(outcome, SegmentOutcome::Dropped);
    assert_eq!(h.conn.info().bytes_readable, 0);
    assert_eq!(h.conn.info().challenge_acks_sent, challenges + 1);
    h.out();
    // Far below SND.UNA (beyond MAX.SND.WND = 65535).
    let outcome = h.feed_opts(
        A,
        1,
        1u32.wrapping_sub(200_000),
        65535,
        ts(TS0 + 3, ours),
        &d,
    );
    assert_eq!(outcome, SegmentOutcome::Dropped);
    assert_eq!(h.conn.info().bytes_readable, 0);
    h.out();
    // Slightly old (within MAX.SND.WND): acceptable.
    let outcome = h.feed_opts(A, 1, 1u32.wrapping_sub(100), 65535, ts(TS0 + 4, ours), &d);
    assert_eq!(outcome, SegmentOutcome::Accepted);
    assert_eq!(h.read_all(), d);
}
