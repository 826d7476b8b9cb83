//! Data transfer rules: segmentation, IW, RTO and backoff, Karn, delayed ACK,
//! Nagle, SWS, window updates, persist, keep-alive, user timeout, backpressure,
//! fast retransmit and NewReno (RFC 9293 §3.8, RFC 6298, RFC 5681, RFC 6582, RFC 896, RFC 3042).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{CloseReason, ConnConfig, ConnError, ConnEvent, State};
use tcpkit::time::Duration;

fn est_cfg(cfg: &ConnConfig, window: u16) -> Harness {
    Harness::established_client(cfg, 5000, 70000, window)
}

fn est(window: u16) -> Harness {
    est_cfg(&plain_cfg(), window)
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn data_is_segmented_by_effective_mss_and_initial_window() {
    let mut h = est(65535);
    let data = bytes(30_000);
    assert_eq!(h.conn.send(&data), Ok(30_000));
    let segs = h.out();
    // IW = 10 segments (RFC 6928).
    assert_eq!(segs.len(), 10);
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(s.payload.len(), 1460);
        assert_eq!(s.seq, 1 + 1460 * i as u32);
        assert_eq!(s.payload, data[1460 * i..1460 * (i + 1)].to_vec());
    }
}

#[test]
fn receive_window_limits_sending() {
    let mut h = est(3000);
    h.conn.send(&bytes(10_000)).unwrap();
    let segs = h.out();
    let total: usize = segs.iter().map(|s| s.payload.len()).sum();
    assert_eq!(
        total, 2920,
        "two full segments fit; the 80-byte tail waits (SWS)"
    );
    h.feed(A, 1, 1 + 2920, 3000, &[]);
    let total: usize = h.out().iter().map(|s| s.payload.len()).sum();
    assert_eq!(total, 2920);
}

#[test]
fn retransmission_on_rto_then_exponential_backoff() {
    let mut h = est(65535);
    h.conn.send(b"hello").unwrap();
    assert_eq!(h.out().len(), 1);
    let mut waits = Vec::new();
    for _ in 0..3 {
        waits.push(h.fire_next_timer());
        let r = h.out();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].seq, r[0].payload.as_slice()), (1, &b"hello"[..]));
    }
    // RTT from the handshake is 0 here, so RTO starts at min_rto 200 ms.
    assert_eq!(waits, vec![ms(200), ms(400), ms(800)]);
    assert_eq!(h.conn.info().timeouts, 3);
    assert_eq!(h.conn.info().segs_retransmitted, 3);
    h.feed(A, 1, 6, 65535, &[]);
    assert_eq!(
        h.conn.poll_timeout(),
        None,
        "everything acked, timer stopped"
    );
}

#[test]
fn rto_collapses_cwnd_to_one_segment_and_goes_back_to_snd_una() {
    let mut h = est(65535);
    h.conn.send(&bytes(14_600)).unwrap();
    assert_eq!(h.out().len(), 10);
    h.fire_next_timer();
    let r = h.out();
    assert_eq!(r.len(), 1, "cwnd = 1 MSS after RTO (RFC 5681 §3.1)");
    assert_eq!(r[0].seq, 1);
    h.feed(A, 1, 1461, 65535, &[]);
    let r = h.out();
    assert_eq!(r.len(), 2, "slow start again");
    assert_eq!(r[0].seq, 1461);
}

#[test]
fn max_retries_times_out() {
    let cfg = ConnConfig {
        max_retries: 3,
        ..plain_cfg()
    };
    let mut h = est_cfg(&cfg, 65535);
    h.conn.send(b"x").unwrap();
    h.out();
    for _ in 0..4 {
        h.fire_next_timer();
        h.out();
    }
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.events(), vec![ConnEvent::Closed(CloseReason::TimedOut)]);
    assert_eq!(h.conn.send(b"x"), Err(ConnError::TimedOut));
}

#[test]
fn karn_no_rtt_sample_from_retransmitted_segment() {
    let mut h = est(65535);
    let srtt_before = h.conn.info().srtt_us;
    h.conn.send(b"abc").unwrap();
    h.out();
    h.fire_next_timer();
    h.out();
    h.advance(ms(50));
    h.feed(A, 1, 4, 65535, &[]);
    // No sample from the ambiguous ACK; the backed-off RTO stays (RFC 6298 §3, §5.7).
    assert_eq!(h.conn.info().srtt_us, srtt_before);
    assert_eq!(h.conn.info().rto_us, 400_000);
}

#[test]
fn rtt_sampled_from_timed_segment() {
    let mut h = est(65535);
    h.conn.send(b"abc").unwrap();
    h.out();
    h.advance(ms(80));
    h.feed(A, 1, 4, 65535, &[]);
    let info = h.conn.info();
    assert!(info.srtt_us > 0 && info.srtt_us <= 80_000, "{info:?}");
}

#[test]
fn rtt_from_timestamps() {
    let mut h = Harness::client(&ConnConfig::default(), 1, 2);
    let syn = h.out();
    let tsval = syn[0].options.timestamps.unwrap().0;
    h.advance(ms(30));
    h.feed_syn(
        S | A,
        0,
        1,
        65535,
        syn_opts(1460, Some(0), true, Some((1, tsval))),
    );
    assert_eq!(
        h.conn.info().srtt_us,
        30_000,
        "RTTM from TSecr (RFC 7323 §4)"
    );
}

#[test]
fn delayed_ack_every_second_full_segment() {
    let mut h = est(65535);
    let d = bytes(1460 * 4);
    h.feed(A, 1, 1, 65535, &d[..1460]);
    assert!(h.out().is_empty(), "first segment: ACK delayed");
    h.feed(A, 1461, 1, 65535, &d[1460..2920]);
    let a = h.out();
    assert_eq!(a.len(), 1, "second full segment: ACK now");
    assert_eq!(a[0].ack, 2921);
    h.feed(A, 2921, 1, 65535, &d[2920..4380]);
    assert!(h.out().is_empty());
    let waited = h.fire_next_timer();
    assert_eq!(waited, ms(40), "delayed ACK timer 40 ms");
    let a = h.out();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].ack, 4381);
}

#[test]
fn out_of_order_data_is_acked_immediately() {
    let mut h = est(65535);
    let d = bytes(3000);
    h.feed(A, 1001, 1, 65535, &d[1000..2000]);
    let a = h.out();
    assert_eq!(a.len(), 1, "immediate duplicate ACK (RFC 5681 §4.2)");
    assert_eq!(a[0].ack, 1);
}

#[test]
fn nagle_holds_small_segment_while_data_unacked() {
    let mut h = est(65535);
    h.conn.send(b"a").unwrap();
    assert_eq!(h.out().len(), 1);
    h.conn.send(b"b").unwrap();
    h.conn.send(b"c").unwrap();
    assert!(h.out().is_empty(), "Nagle (RFC 896)");
    h.feed(A, 1, 2, 65535, &[]);
    let r = h.out();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].payload, b"bc".to_vec());
}

#[test]
fn nodelay_sends_small_segments_at_once() {
    let mut h = est(65535);
    h.conn.set_nodelay(true);
    assert!(h.conn.nodelay());
    h.conn.send(b"a").unwrap();
    h.out();
    h.conn.send(b"b").unwrap();
    let r = h.out();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].payload, b"b".to_vec());
}

#[test]
fn send_buffer_backpressure_and_writable_event() {
    let cfg = ConnConfig {
        send_buffer: 4000,
        ..plain_cfg()
    };
    let mut h = est_cfg(&cfg, 65535);
    assert_eq!(h.conn.send(&bytes(10_000)), Ok(4000));
    assert_eq!(h.conn.send(b"more"), Err(ConnError::WouldBlock));
    h.out();
    assert!(h.events().is_empty());
    h.feed(A, 1, 1461, 65535, &[]);
    assert_eq!(h.events(), vec![ConnEvent::Writable]);
    assert_eq!(h.conn.send(&bytes(5000)), Ok(1460));
}

#[test]
fn readable_event_is_edge_triggered() {
    let mut h = est(65535);
    h.feed(A | P, 1, 1, 65535, b"one");
    assert_eq!(h.events(), vec![ConnEvent::Readable]);
    h.feed(A | P, 4, 1, 65535, b"two");
    assert!(h.events().is_empty(), "app has not drained yet");
    assert_eq!(h.read_all(), b"onetwo".to_vec());
    h.feed(A | P, 7, 1, 65535, b"three");
    assert_eq!(h.events(), vec![ConnEvent::Readable]);
}

#[test]
fn zero_window_persist_probes_back_off() {
    let mut h = est(65535);
    h.feed(A, 1, 1, 0, &[]);
    assert_eq!(h.conn.info().snd_wnd, 0);
    h.conn.send(b"blocked").unwrap();
    assert!(h.out().is_empty(), "window is zero");
    let w1 = h.fire_next_timer();
    let p = h.out();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].seq, 0, "probe at SND.UNA - 1 elicits an ACK");
    let w2 = h.fire_next_timer();
    h.out();
    assert_eq!(w2, w1.saturating_mul(2), "persist backoff");
    // Window opens: data flows.
    h.feed(A, 1, 1, 1000, &[]);
    let d = h.out();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].payload, b"blocked".to_vec());
    assert_eq!(h.conn.state(), State::Established);
}

#[test]
fn keepalive_probes_then_times_out() {
    let mut h = est(65535);
    h.conn.set_keepalive(h.now, ms(10_000), ms(1_000), 3);
    assert_eq!(h.fire_next_timer(), ms(10_000));
    let p = h.out();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].seq, 0, "keep-alive: SEG.SEQ = SND.NXT - 1");
    // Peer answers: idle period restarts.
    h.feed(A, 1, 1, 65535, &[]);
    assert_eq!(h.fire_next_timer(), ms(10_000));
    h.out();
    for _ in 0..3 {
        assert_eq!(h.fire_next_timer(), ms(1_000));
        h.out();
    }
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.events(), vec![ConnEvent::Closed(CloseReason::TimedOut)]);
}

#[test]
fn keepalive_off_by_default() {
    let mut h = est(65535);
    assert_eq!(h.conn.poll_timeout(), None);
    h.advance(Duration::from_secs(100_000));
    assert_eq!(h.conn.state(), State::Established);
}

#[test]
fn user_timeout_aborts_unacked_data() {
    let mut h = est(65535);
    h.conn.set_user_timeout(ms(1_500));
    h.conn.send(b"x").unwrap();
    h.out();
    let mut elapsed = Duration::ZERO;
    while h.conn.state() != State::Closed {
        elapsed = elapsed + h.fire_next_timer();
        h.out();
    }
    assert_eq!(elapsed, ms(1_500));
    assert_eq!(h.events(), vec![ConnEvent::Closed(CloseReason::TimedOut)]);
}

#[test]
fn window_update_after_read_obeys_receiver_sws() {
    let cfg = ConnConfig {
        recv_buffer: 8000,
        ..plain_cfg()
    };
    let mut h = est_cfg(&cfg, 65535);
    let d = bytes(8000);
    h.feed(A, 1, 1, 65535, &d[..4000]);
    h.feed(A, 4001, 1, 65535, &d[4000..]);
    let a = h.out();
    assert_eq!(a.last().unwrap().window, 0, "buffer full");
    let mut small = [0u8; 100];
    assert_eq!(h.conn.recv(&mut small), Ok(100));
    assert!(
        h.out().is_empty(),
        "100 bytes is below min(buf/2, MSS): no update"
    );
    let mut big = [0u8; 2000];
    h.conn.recv(&mut big).unwrap();
    let u = h.out();
    assert_eq!(u.len(), 1, "window update once the increase is worth it");
    assert_eq!(u[0].window, 2100);
}

#[test]
fn fast_retransmit_on_third_duplicate_ack_newreno() {
    let mut h = est(65535);
    h.conn.send(&bytes(40_000)).unwrap();
    assert_eq!(h.out().len(), 10);
    h.feed(A, 1, 1461, 65535, &[]);
    assert_eq!(
        h.out().len(),
        2,
        "slow start: an ACK of one MSS lets two out"
    );
    for _ in 0..2 {
        h.feed(A, 1, 1461, 65535, &[]);
        let lt = h.out();
        assert_eq!(
            lt.len(),
            1,
            "limited transmit: one new segment per early dupack (RFC 3042)"
        );
        assert!(lt[0].seq > 1461 + 10 * 1460);
    }
    h.feed(A, 1, 1461, 65535, &[]);
    let fr = h.out();
    assert!(!fr.is_empty());
    assert_eq!(
        fr[0].seq, 1461,
        "fast retransmit of the first unacked segment"
    );
    assert_eq!(h.conn.info().segs_retransmitted, 1);
    let ssthresh = h.conn.info().ssthresh;
    assert!(
        ssthresh < 20 * 1460,
        "ssthresh from FlightSize/2: {ssthresh}"
    );
    // Partial ACK retransmits the next hole at once (RFC 6582 §3.2 step 6).
    h.feed(A, 1, 2921, 65535, &[]);
    let pr = h.out();
    assert_eq!(pr[0].seq, 2921);
    assert_eq!(h.conn.info().segs_retransmitted, 2);
}

#[test]
fn info_counts_bytes_and_segments() {
    let mut h = est(65535);
    h.conn.set_nodelay(true);
    h.conn.send(&bytes(3000)).unwrap();
    h.out();
    let i = h.conn.info();
    assert_eq!(i.bytes_sent, 3000);
    assert_eq!(i.bytes_unacked, 3000);
    assert_eq!(i.bytes_unsent, 0);
    h.feed(A, 1, 1001, 65535, &[]);
    let i = h.conn.info();
    assert_eq!(i.bytes_acked, 1000);
    assert_eq!(i.bytes_unacked, 2000);
    h.feed(A | P, 1, 1001, 65535, b"xyz");
    assert_eq!(h.conn.info().bytes_received, 3);
    assert_eq!(h.conn.info().bytes_readable, 3);
}

#[test]
fn idle_connection_holds_no_buffer_memory() {
    let mut h = est(65535);
    h.conn.set_nodelay(true);
    h.conn.send(&bytes(2000)).unwrap();
    assert_eq!(h.out().len(), 2);
    assert!(h.conn.heap_bytes() > 0);
    h.feed(A | P, 1, 2001, 65535, b"hi");
    h.read_all();
    // The delayed ACK goes out: nothing is pending any more.
    h.advance(ms(500));
    h.out();
    // Drained buffers (and the in-flight box) are kept for reuse until the
    // owner (the stack's idle release tick) frees them.
    assert!(h.conn.holds_idle_buffers());
    h.conn.release_idle_buffers();
    assert_eq!(h.conn.heap_bytes(), 0);
    eprintln!(
        "size_of::<Connection>() = {}",
        std::mem::size_of::<tcpkit::tcp::Connection>()
    );
}

#[test]
fn acks_are_processed_even_when_our_window_is_zero() {
    let cfg = ConnConfig {
        recv_buffer: 3000,
        ..plain_cfg()
    };
    let mut h = est_cfg(&cfg, 65535);
    h.conn.set_nodelay(true);
    h.conn.send(b"ping").unwrap();
    h.out();
    let d = bytes(3000);
    h.feed(A, 1, 1, 65535, &d);
    assert_eq!(h.out().last().unwrap().window, 0);
    // More data (unacceptable: our window is zero) carrying the ACK of "ping".
    h.feed(A | P, 3001, 5, 65535, b"extra");
    assert_eq!(
        h.conn.info().bytes_acked,
        4,
        "ACK taken from an unacceptable segment"
    );
    let a = h.out();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].ack, 3001, "text dropped and ACKed");
}

#[test]
fn ack_after_rto_carries_highest_sequence_sent() {
    let mut h = est(65535);
    h.conn.send(&bytes(2920)).unwrap();
    assert_eq!(h.out().len(), 2);
    h.fire_next_timer();
    assert_eq!(h.out()[0].seq, 1, "go back to SND.UNA");
    // Data from the peer needs an ACK; its SEQ must not be the pulled-back SND.NXT,
    // or the peer would find it unacceptable and drop the ACK information.
    h.feed(A | P, 1, 1, 65535, b"x");
    h.advance(ms(40));
    let a = h.out();
    let ack = a.iter().find(|s| s.payload.is_empty()).expect("an ACK");
    assert_eq!(ack.seq, 1 + 2920);
}
