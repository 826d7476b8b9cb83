//! Opening: active, passive, simultaneous, refused; option negotiation (RFC 9293 §3.5, RFC 7323, RFC 2018).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{CloseReason, ConnConfig, ConnEvent, SegmentOutcome, State};

#[test]
fn active_open_sends_syn_then_acks_syn_ack() {
    let mut h = Harness::client(&plain_cfg(), 1000, 5000);
    assert_eq!(h.conn.state(), State::SynSent);
    let syn = h.out();
    assert_eq!(syn.len(), 1);
    assert_eq!(syn[0].flags, S);
    assert_eq!(syn[0].seq, 0);
    assert_eq!(syn[0].options.mss, Some(1460));
    assert!(h.out().is_empty(), "SYN sent once");
    h.feed_syn(S | A, 0, 1, 8000, syn_opts(1400, None, false, None));
    assert_eq!(h.conn.state(), State::Established);
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    assert!(ack[0].is_pure_ack());
    assert_eq!((ack[0].seq, ack[0].ack), (1, 1));
    assert_eq!(h.events(), vec![ConnEvent::Connected]);
    assert_eq!(h.conn.info().mss, 1400);
    assert_eq!(h.conn.info().snd_wnd, 8000);
}

#[test]
fn passive_open_sends_syn_ack_and_establishes_on_ack() {
    let mut h = Harness::server(&plain_cfg(), 7, 90, syn_opts(1200, None, false, None), 4000);
    assert_eq!(h.conn.state(), State::SynReceived);
    let sa = h.out();
    assert_eq!(sa.len(), 1);
    assert_eq!(sa[0].flags, S | A);
    assert_eq!((sa[0].seq, sa[0].ack), (0, 1));
    assert_eq!(sa[0].options.mss, Some(1460));
    h.feed(A, 1, 1, 4000, &[]);
    assert_eq!(h.conn.state(), State::Established);
    assert_eq!(h.events(), vec![ConnEvent::Connected]);
    assert_eq!(h.conn.info().mss, 1200);
}

#[test]
fn syn_retransmitted_on_rto_with_backoff() {
    let mut h = Harness::client(&plain_cfg(), 1, 2);
    assert_eq!(h.out().len(), 1);
    let first = h.fire_next_timer();
    assert_eq!(first, ms(1000), "initial RTO 1 s (RFC 6298 §2.1)");
    let again = h.out();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].flags, S);
    assert_eq!(again[0].seq, 0);
    let second = h.fire_next_timer();
    assert_eq!(second, ms(2000), "backoff doubles (RFC 6298 §5.5)");
    assert_eq!(h.out().len(), 1);
    assert_eq!(h.conn.info().timeouts, 2);
}

#[test]
fn syn_retries_exhausted_times_out() {
    let cfg = ConnConfig {
        max_retries: 2,
        ..plain_cfg()
    };
    let mut h = Harness::client(&cfg, 1, 2);
    h.out();
    for _ in 0..3 {
        h.fire_next_timer();
        h.out();
    }
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.events(), vec![ConnEvent::Closed(CloseReason::TimedOut)]);
    assert!(h.conn.is_finished());
}

#[test]
fn rst_ack_in_syn_sent_refuses() {
    let mut h = Harness::client(&plain_cfg(), 1, 2);
    h.out();
    h.feed(R | A, 0, 1, 0, &[]);
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.events(), vec![ConnEvent::Closed(CloseReason::Refused)]);
    let mut buf = [0u8; 4];
    assert_eq!(h.conn.recv(&mut buf), Err(tcpkit::tcp::ConnError::Refused));
}

#[test]
fn bad_ack_in_syn_sent_gets_reset_with_seq_of_ack() {
    let mut h = Harness::client(&plain_cfg(), 1000, 2);
    h.out();
    // ACK of something never sent: <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.3).
    let r = h.feed_syn(S | A, 0, 50, 1000, opts());
    assert_eq!(r, SegmentOutcome::Dropped);
    let rst = h.out();
    assert_eq!(rst.len(), 1);
    assert_eq!(rst[0].flags, R);
    assert_eq!(rst[0].seq, 50);
    assert_eq!(h.conn.state(), State::SynSent);
}

#[test]
fn rst_without_ack_in_syn_sent_is_ignored() {
    let mut h = Harness::client(&plain_cfg(), 1000, 2);
    h.out();
    assert_eq!(h.feed(R, 0, 0, 0, &[]), SegmentOutcome::Dropped);
    assert_eq!(h.conn.state(), State::SynSent);
}

#[test]
fn simultaneous_open_goes_through_syn_received() {
    let mut h = Harness::client(&plain_cfg(), 100, 200);
    h.out();
    h.feed_syn(S, 0, 0, 5000, syn_opts(1460, None, false, None));
    assert_eq!(h.conn.state(), State::SynReceived);
    let sa = h.out();
    assert_eq!(sa.len(), 1);
    assert_eq!(sa[0].flags, S | A);
    assert_eq!((sa[0].seq, sa[0].ack), (0, 1));
    // The peer, also in SYN-RECEIVED, sends its SYN-ACK: the ACK completes the open.
    h.feed_syn(S | A, 0, 1, 5000, syn_opts(1460, None, false, None));
    assert_eq!(h.conn.state(), State::Established);
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    assert!(ack[0].is_pure_ack());
    assert_eq!((ack[0].seq, ack[0].ack), (1, 1));
    assert!(h.events().contains(&ConnEvent::Connected));
}

#[test]
fn ack_for_unsent_in_syn_received_gets_reset() {
    let mut h = Harness::server(
        &plain_cfg(),
        10,
        20,
        syn_opts(1460, None, false, None),
        1000,
    );
    h.out();
    h.feed(A, 1, 99, 1000, &[]);
    let rst = h.out();
    assert_eq!(rst.len(), 1);
    assert_eq!(rst[0].flags, R);
    assert_eq!(rst[0].seq, 99);
    assert_eq!(h.conn.state(), State::SynReceived);
}

#[test]
fn duplicate_syn_in_syn_received_resends_syn_ack() {
    let mut h = Harness::server(
        &plain_cfg(),
        10,
        20,
        syn_opts(1460, None, false, None),
        1000,
    );
    assert_eq!(h.out().len(), 1);
    h.feed_syn(S, 0, 0, 1000, syn_opts(1460, None, false, None));
    let again = h.out();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].flags, S | A);
}

#[test]
fn syn_ack_retransmitted_on_rto() {
    let mut h = Harness::server(
        &plain_cfg(),
        10,
        20,
        syn_opts(1460, None, false, None),
        1000,
    );
    h.out();
    h.fire_next_timer();
    let again = h.out();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].flags, S | A);
    assert_eq!(h.conn.info().segs_retransmitted, 1);
}

#[test]
fn every_option_negotiated_when_both_offer() {
    let cfg = ConnConfig {
        recv_buffer: 1 << 20,
        ..ConnConfig::default()
    };
    let mut h = Harness::client(&cfg, 1, 2);
    let syn = h.out();
    let o = syn[0].options;
    assert_eq!(o.mss, Some(1460));
    assert!(o.sack_permitted);
    assert_eq!(o.window_scale, Some(5), "2^20 bytes needs a shift of 5");
    let (tsval, tsecr) = o.timestamps.expect("TS offered");
    assert_eq!(tsecr, 0);
    h.feed_syn(
        S | A,
        0,
        1,
        1000,
        syn_opts(1460, Some(7), true, Some((555, tsval))),
    );
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    let (_, ecr) = ack[0].options.timestamps.expect("TS on every segment");
    assert_eq!(ecr, 555);
    assert_eq!(h.conn.info().mss, 1448, "1460 minus 12 bytes of timestamps");
    // Windows after the SYN are scaled by the peer's shift (RFC 7323 §2.3).
    h.feed_opts(A, 1, 1, 1000, ts(556, tsval), &[]);
    assert_eq!(h.conn.info().snd_wnd, 1000 << 7);
    // Our advertised window is scaled by our shift.
    assert_eq!(u64::from(ack[0].window) << 5, h.conn.info().rcv_wnd & !31);
}

#[test]
fn options_refused_by_peer_are_not_used() {
    let mut h = Harness::client(&ConnConfig::default(), 1, 2);
    h.out();
    h.feed_syn(S | A, 0, 1, 30000, syn_opts(1460, None, false, None));
    let ack = h.out();
    assert_eq!(ack[0].options.timestamps, None);
    assert_eq!(ack[0].options.window_scale, None);
    assert_eq!(h.conn.info().mss, 1460);
    h.feed(A, 1, 1, 30000, &[]);
    assert_eq!(h.conn.info().snd_wnd, 30000, "unscaled without WS");
}

#[test]
fn syn_ack_echoes_only_offered_options() {
    let cfg = ConnConfig::default();
    let h_opts = syn_opts(1460, None, true, None);
    let mut h = Harness::server(&cfg, 1, 2, h_opts, 1000);
    let sa = h.out();
    assert!(sa[0].options.sack_permitted);
    assert_eq!(sa[0].options.window_scale, None);
    assert_eq!(sa[0].options.timestamps, None);
    let all = syn_opts(1460, Some(2), true, Some((77, 0)));
    let mut h = Harness::server(&cfg, 1, 2, all, 1000);
    let sa = h.out();
    assert!(sa[0].options.window_scale.is_some());
    assert_eq!(sa[0].options.timestamps.map(|t| t.1), Some(77));
}

#[test]
fn missing_mss_option_means_536() {
    let mut h = Harness::client(&plain_cfg(), 1, 2);
    h.out();
    h.feed(S | A, 0, 1, 1000, &[]);
    assert_eq!(h.conn.info().mss, 536);
}

#[test]
fn sequence_numbers_wrap_around_2_to_32() {
    let iss = u32::MAX - 3;
    let irs = u32::MAX - 1;
    let mut h = Harness::established_client(&plain_cfg(), iss, irs, 60000);
    let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    assert_eq!(h.conn.send(&data), Ok(5000));
    let segs = h.out();
    let total: usize = segs.iter().map(|s| s.payload.len()).sum();
    assert_eq!(total, 3 * 1460, "Nagle holds the small tail");
    h.feed(A, 1, 1 + 4380, 60000, &[]);
    let tail = h.out();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].seq, 1 + 4380);
    assert_eq!(tail[0].payload, data[4380..].to_vec());
    let end = 1 + 5000;
    h.feed(A, 1, end, 60000, &[]);
    assert_eq!(h.conn.info().bytes_acked, 5000);
    h.feed(A | P, 1, end, 60000, &data[..3000]);
    assert_eq!(h.read_all(), data[..3000].to_vec());
}
