//! Closing: FIN in both directions, half-close, simultaneous close, TIME-WAIT,
//! FIN-WAIT-2 timeout, RST rules (RFC 9293 §3.6, §3.10.4-5, §3.10.7.4; RFC 5961; RFC 2525).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{CloseReason, ConnConfig, ConnError, ConnEvent, SegmentOutcome, State};

fn est() -> Harness {
    Harness::established_client(&plain_cfg(), 1000, 9000, 20000)
}

#[test]
fn active_close_fin_wait1_fin_wait2_time_wait_closed() {
    let mut h = est();
    h.conn.shutdown(h.now).unwrap();
    assert_eq!(h.conn.state(), State::FinWait1);
    let fin = h.out();
    assert_eq!(fin.len(), 1);
    assert_eq!(fin[0].flags, F | A);
    assert_eq!(fin[0].seq, 1);
    h.feed(A, 1, 2, 20000, &[]);
    assert_eq!(h.conn.state(), State::FinWait2);
    h.feed(F | A, 1, 2, 20000, &[]);
    assert_eq!(h.conn.state(), State::TimeWait);
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    assert_eq!((ack[0].seq, ack[0].ack, ack[0].flags), (2, 2, A));
    assert_eq!(
        h.events(),
        vec![
            ConnEvent::Readable,
            ConnEvent::PeerClosed,
            ConnEvent::Closed(CloseReason::Orderly)
        ]
    );
    let mut buf = [0u8; 8];
    assert_eq!(h.conn.recv(&mut buf), Ok(0), "end of stream");
    // TIME-WAIT lasts 2×MSL (config time_wait, 60 s by default).
    let waited = h.fire_next_timer();
    assert_eq!(waited, ms(60_000));
    assert_eq!(h.conn.state(), State::Closed);
    assert!(h.conn.is_finished());
    assert!(
        h.events().is_empty(),
        "Closed was reported once, at TIME-WAIT"
    );
}

#[test]
fn time_wait_acks_retransmitted_fin_and_restarts_timer() {
    let mut h = est();
    h.conn.shutdown(h.now).unwrap();
    h.out();
    h.feed(A, 1, 2, 20000, &[]);
    h.feed(F | A, 1, 2, 20000, &[]);
    h.out();
    h.advance(ms(30_000));
    assert_eq!(h.conn.state(), State::TimeWait);
    assert_eq!(h.feed(F | A, 1, 2, 20000, &[]), SegmentOutcome::Dropped);
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].ack, 2);
    h.advance(ms(59_000));
    assert_eq!(
        h.conn.state(),
        State::TimeWait,
        "timer restarted by the FIN"
    );
    h.advance(ms(1_000));
    assert_eq!(h.conn.state(), State::Closed);
}

#[test]
fn passive_close_close_wait_last_ack_closed() {
    let mut h = est();
    h.feed(F | A, 1, 1, 20000, &[]);
    assert_eq!(h.conn.state(), State::CloseWait);
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].ack, 2);
    assert_eq!(h.events(), vec![ConnEvent::Readable, ConnEvent::PeerClosed]);
    h.conn.close(h.now);
    assert_eq!(h.conn.state(), State::LastAck);
    let fin = h.out();
    assert_eq!(fin.len(), 1);
    assert_eq!(fin[0].flags, F | A);
    h.feed(A, 2, 2, 20000, &[]);
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.events(), vec![ConnEvent::Closed(CloseReason::Orderly)]);
    assert!(h.conn.is_finished());
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut h = est();
    h.conn.shutdown(h.now).unwrap();
    h.out();
    // Peer's FIN crosses ours: it does not ack our FIN yet.
    h.feed(F | A, 1, 1, 20000, &[]);
    assert_eq!(h.conn.state(), State::Closing);
    h.out();
    h.feed(A, 2, 2, 20000, &[]);
    assert_eq!(h.conn.state(), State::TimeWait);
}

#[test]
fn fin_acked_together_with_peer_fin_goes_to_time_wait() {
    let mut h = est();
    h.conn.shutdown(h.now).unwrap();
    h.out();
    h.feed(F | A, 1, 2, 20000, &[]);
    assert_eq!(h.conn.state(), State::TimeWait);
}

#[test]
fn half_close_still_receives_data() {
    let mut h = est();
    h.conn.shutdown(h.now).unwrap();
    h.out();
    h.feed(A, 1, 2, 20000, &[]);
    assert_eq!(h.conn.state(), State::FinWait2);
    assert_eq!(h.conn.send(b"x"), Err(ConnError::Closed));
    h.feed(A | P, 1, 2, 20000, b"hello");
    assert_eq!(h.read_all(), b"hello".to_vec());
    // Half-closed by shutdown: no FIN-WAIT-2 timeout (only orphans time out).
    h.advance(ms(120_000));
    assert_eq!(h.conn.state(), State::FinWait2);
}

#[test]
fn close_wait_side_can_still_send() {
    let mut h = est();
    h.feed(F | A, 1, 1, 20000, &[]);
    h.out();
    assert_eq!(h.conn.send(b"late data"), Ok(9));
    let d = h.out();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].payload, b"late data".to_vec());
}

#[test]
fn fin_wait2_timeout_for_orphans() {
    let cfg = ConnConfig {
        fin_wait2_timeout: ms(5_000),
        ..plain_cfg()
    };
    let mut h = Harness::established_client(&cfg, 1, 2, 20000);
    h.conn.close(h.now);
    h.out();
    h.feed(A, 1, 2, 20000, &[]);
    assert_eq!(h.conn.state(), State::FinWait2);
    let waited = h.fire_next_timer();
    assert_eq!(waited, ms(5_000));
    assert_eq!(h.conn.state(), State::Closed);
}

#[test]
fn fin_retransmitted_on_rto() {
    let mut h = est();
    h.conn.shutdown(h.now).unwrap();
    h.out();
    h.fire_next_timer();
    let again = h.out();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].flags, F | A);
    assert_eq!(again[0].seq, 1);
}

#[test]
fn data_then_fin_in_order() {
    let mut h = est();
    h.conn.send(b"abc").unwrap();
    h.conn.shutdown(h.now).unwrap();
    let segs = h.out();
    assert_eq!(segs.len(), 1, "data and FIN in one segment");
    assert_eq!(segs[0].payload, b"abc".to_vec());
    assert!(segs[0].has(F));
    h.feed(A, 1, 5, 20000, &[]);
    assert_eq!(h.conn.state(), State::FinWait2);
    assert_eq!(h.conn.info().bytes_acked, 3);
}

#[test]
fn close_with_unread_data_sends_rst() {
    let mut h = est();
    h.feed(A | P, 1, 1, 20000, b"unread");
    h.out();
    h.conn.close(h.now);
    let rst = h.out();
    assert_eq!(rst.len(), 1);
    assert_eq!(rst[0].flags, R);
    assert_eq!(rst[0].seq, 1);
    assert_eq!(h.conn.state(), State::Closed);
    assert!(h.conn.is_finished());
}

#[test]
fn data_after_close_gets_rst() {
    let mut h = est();
    h.conn.close(h.now);
    h.out();
    h.feed(A | P, 1, 2, 20000, b"more");
    let rst = h.out();
    assert_eq!(rst.len(), 1);
    assert!(rst[0].has(R));
    assert_eq!(h.conn.state(), State::Closed);
}

#[test]
fn abort_sends_rst_and_closes() {
    let mut h = est();
    h.conn.send(b"pending").unwrap();
    h.conn.abort(h.now);
    let rst = h.out();
    assert_eq!(rst.len(), 1);
    assert_eq!(rst[0].flags, R);
    assert_eq!(h.conn.state(), State::Closed);
    assert!(
        h.events().is_empty(),
        "no event for the application's own abort"
    );
}

#[test]
fn exact_rst_resets_connection() {
    let mut h = est();
    h.feed(A | P, 1, 1, 20000, b"kept");
    h.feed(R, 5, 0, 0, &[]);
    assert_eq!(h.conn.state(), State::Closed);
    let ev = h.events();
    assert!(ev.contains(&ConnEvent::Closed(CloseReason::Reset)));
    // Data received before the reset is still returned, then Reset.
    let mut buf = [0u8; 16];
    assert_eq!(h.conn.recv(&mut buf), Ok(4));
    assert_eq!(h.conn.recv(&mut buf), Err(ConnError::Reset));
    assert_eq!(h.conn.send(b"x"), Err(ConnError::Reset));
}

#[test]
fn in_window_inexact_rst_gets_challenge_ack() {
    let mut h = est();
    assert_eq!(h.feed(R, 100, 0, 0, &[]), SegmentOutcome::Dropped);
    assert_eq!(h.conn.state(), State::Established);
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    assert!(ack[0].is_pure_ack());
    assert_eq!(ack[0].ack, 1, "challenge ACK carries RCV.NXT");
}

#[test]
fn out_of_window_rst_is_silently_dropped() {
    let mut h = est();
    assert_eq!(h.feed(R, 1_000_000, 0, 0, &[]), SegmentOutcome::Dropped);
    assert_eq!(h.conn.state(), State::Established);
    assert!(h.out().is_empty());
}

#[test]
fn in_window_syn_gets_challenge_ack() {
    let mut h = est();
    assert_eq!(h.feed_syn(S, 50, 0, 1000, opts()), SegmentOutcome::Dropped);
    assert_eq!(h.conn.state(), State::Established);
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    assert!(ack[0].is_pure_ack());
}

#[test]
fn challenge_acks_are_rate_limited_per_connection() {
    let mut h = est();
    let mut acks = 0;
    for i in 0..50 {
        h.feed(R, 10 + i, 0, 0, &[]);
        acks += h.out().len();
    }
    assert_eq!(acks, 10, "at most 10 per second");
    h.advance(ms(1000));
    h.feed(R, 10, 0, 0, &[]);
    assert_eq!(h.out().len(), 1, "a new second allows more");
}

#[test]
fn ack_of_unsent_data_is_challenged_and_dropped() {
    let mut h = est();
    assert_eq!(
        h.feed(A | P, 1, 500, 20000, b"data"),
        SegmentOutcome::Dropped
    );
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].ack, 1, "the data was not taken");
}

#[test]
fn ack_too_old_is_dropped() {
    let mut h = est();
    // SND.UNA - MAX.SND.WND is the oldest acceptable ACK (RFC 5961 §5.2).
    let r = h.feed(A | P, 1, 1u32.wrapping_sub(100_000), 20000, b"data");
    assert_eq!(r, SegmentOutcome::Dropped);
    assert_eq!(h.conn.info().bytes_received, 0);
}

#[test]
fn rst_in_time_wait_is_ignored() {
    let mut h = est();
    h.conn.shutdown(h.now).unwrap();
    h.out();
    h.feed(F | A, 1, 2, 20000, &[]);
    assert_eq!(h.conn.state(), State::TimeWait);
    h.feed(R, 2, 0, 0, &[]);
    assert_eq!(h.conn.state(), State::TimeWait, "RFC 1337");
}

#[test]
fn new_syn_in_time_wait_may_reopen() {
    let mut h = est();
    h.conn.shutdown(h.now).unwrap();
    h.out();
    h.feed(F | A, 1, 2, 20000, &[]);
    assert_eq!(
        h.feed_syn(S, 100_000, 0, 1000, opts()),
        SegmentOutcome::ReopenFromTimeWait
    );
    assert_eq!(h.feed_syn(S, 0, 0, 1000, opts()), SegmentOutcome::Dropped);
}
