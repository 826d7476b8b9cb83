//! Remaining RFC 9293 §3.10 transitions and API rules: CLOSE/ABORT in each
//! state, RST in SYN-RECEIVED, events at most once, spurious timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{CloseReason, ConnConfig, ConnError, ConnEvent, State};
use tcpkit::time::Duration;

#[test]
fn close_in_syn_sent_deletes_the_connection() {
    let mut h = Harness::client(&plain_cfg(), 1, 2);
    h.out();
    h.conn.close(h.now);
    assert_eq!(h.conn.state(), State::Closed);
    assert!(
        h.out().is_empty(),
        "no RST for an unsynchronized connection"
    );
    assert!(h.conn.is_finished());
}

#[test]
fn shutdown_before_handshake_sends_fin_after_it() {
    let mut h = Harness::client(&plain_cfg(), 1, 2);
    h.conn.send(b"early").unwrap();
    h.conn.shutdown(h.now).unwrap();
    assert_eq!(h.conn.state(), State::SynSent);
    assert_eq!(h.out().len(), 1);
    h.feed_syn(S | A, 0, 1, 1000, syn_opts(1460, None, false, None));
    assert_eq!(h.conn.state(), State::FinWait1);
    let segs = h.out();
    let data: Vec<u8> = segs.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(
        data,
        b"early".to_vec(),
        "data queued before the handshake is sent"
    );
    assert!(segs.last().unwrap().has(F));
}

#[test]
fn close_in_syn_received_sends_fin_after_handshake() {
    let mut h = Harness::server(&plain_cfg(), 1, 2, syn_opts(1460, None, false, None), 1000);
    h.out();
    h.conn.close(h.now);
    h.feed(A, 1, 1, 1000, &[]);
    assert_eq!(h.conn.state(), State::FinWait1);
    let fin = h.out();
    assert_eq!(fin.len(), 1);
    assert_eq!(fin[0].flags, F | A);
}

#[test]
fn rst_in_syn_received_closes_passive_connection() {
    let mut h = Harness::server(&plain_cfg(), 1, 2, syn_opts(1460, None, false, None), 1000);
    h.out();
    h.feed(R, 1, 0, 0, &[]);
    assert_eq!(h.conn.state(), State::Closed);
    assert!(h.conn.is_finished());
}

#[test]
fn abort_in_each_synchronized_state_sends_rst() {
    for target in [
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
    ] {
        let mut h = Harness::established_client(&plain_cfg(), 10, 20, 5000);
        match target {
            State::FinWait1 => {
                h.conn.shutdown(h.now).unwrap();
                h.out();
            }
            State::FinWait2 => {
                h.conn.shutdown(h.now).unwrap();
                h.out();
                h.feed(A, 1, 2, 5000, &[]);
            }
            State::CloseWait => {
                h.feed(F | A, 1, 1, 5000, &[]);
                h.out();
            }
            _ => {}
        }
        assert_eq!(h.conn.state(), target);
        h.conn.abort(h.now);
        let rst = h.out();
        assert_eq!(rst.len(), 1, "{target:?}");
        assert!(rst[0].has(R));
        assert_eq!(h.conn.state(), State::Closed);
    }
}

#[test]
fn abort_in_time_wait_sends_nothing() {
    let mut h = Harness::established_client(&plain_cfg(), 10, 20, 5000);
    h.conn.shutdown(h.now).unwrap();
    h.out();
    h.feed(F | A, 1, 2, 5000, &[]);
    assert_eq!(h.conn.state(), State::TimeWait);
    h.conn.abort(h.now);
    assert!(h.out().is_empty());
    assert!(h.conn.is_finished());
}

#[test]
fn calls_after_close_report_the_reason() {
    let mut h = Harness::established_client(&plain_cfg(), 10, 20, 5000);
    h.feed(F | A, 1, 1, 5000, &[]);
    h.conn.close(h.now);
    h.out();
    h.feed(A, 2, 2, 5000, &[]);
    assert_eq!(h.conn.state(), State::Closed);
    let mut b = [0u8; 4];
    assert_eq!(h.conn.recv(&mut b), Ok(0), "orderly end: EOF");
    assert_eq!(h.conn.send(b"x"), Err(ConnError::Closed));
    assert_eq!(h.conn.shutdown(h.now), Err(ConnError::Closed));
}

#[test]
fn events_are_delivered_once_each() {
    let mut h = Harness::established_client(&plain_cfg(), 10, 20, 5000);
    for i in 0..5u32 {
        h.feed(A | P, 1 + i, 1, 5000, b"x");
    }
    h.feed(F | A, 6, 1, 5000, &[]);
    h.feed(F | A, 6, 1, 5000, &[]);
    let ev = h.events();
    assert_eq!(ev, vec![ConnEvent::Readable, ConnEvent::PeerClosed]);
    assert_eq!(h.read_all(), b"xxxxx".to_vec());
    assert!(
        h.events().is_empty(),
        "EOF was already signalled with the data"
    );
    h.conn.close(h.now);
    h.out();
    h.feed(A, 7, 2, 5000, &[]);
    assert_eq!(h.events(), vec![ConnEvent::Closed(CloseReason::Orderly)]);
    assert!(h.events().is_empty());
}

#[test]
fn handle_timeout_is_safe_to_call_spuriously() {
    let mut h = Harness::established_client(&plain_cfg(), 10, 20, 5000);
    h.conn.send(b"abc").unwrap();
    h.out();
    let deadline = h.conn.poll_timeout().unwrap();
    // Early calls change nothing.
    for _ in 0..100 {
        h.conn.handle_timeout(h.now);
    }
    assert!(h.out().is_empty());
    assert_eq!(h.conn.poll_timeout(), Some(deadline));
    assert_eq!(h.conn.info().timeouts, 0);
    // After handling, the next deadline is in the future.
    h.now = deadline;
    h.conn.handle_timeout(h.now);
    assert!(h.conn.poll_timeout().unwrap() > h.now);
}

#[test]
fn zero_window_with_data_in_flight_does_not_time_out_while_peer_answers() {
    let cfg = ConnConfig {
        max_retries: 3,
        ..plain_cfg()
    };
    let mut h = Harness::established_client(&cfg, 10, 20, 5000);
    h.conn.send(b"abc").unwrap();
    h.out();
    // The peer shrinks its window to zero and answers every retransmission.
    h.feed(A, 1, 1, 0, &[]);
    for _ in 0..10 {
        h.fire_next_timer();
        h.out();
        h.feed(A, 1, 1, 0, &[]);
    }
    assert_eq!(h.conn.state(), State::Established);
    h.feed(A, 1, 4, 5000, &[]);
    assert_eq!(h.conn.info().bytes_acked, 3);
}

#[test]
fn peer_silent_during_zero_window_eventually_times_out() {
    let cfg = ConnConfig {
        max_retries: 3,
        max_rto: Duration::from_secs(2),
        ..plain_cfg()
    };
    let mut h = Harness::established_client(&cfg, 10, 20, 5000);
    h.feed(A, 1, 1, 0, &[]);
    h.conn.send(b"abc").unwrap();
    assert!(h.out().is_empty(), "zero window");
    for _ in 0..20 {
        if h.conn.state() == State::Closed {
            break;
        }
        h.fire_next_timer();
        h.out();
    }
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.events(), vec![ConnEvent::Closed(CloseReason::TimedOut)]);
}

#[test]
fn sender_sws_avoidance_waits_for_a_useful_window() {
    let mut h = Harness::established_client(&plain_cfg(), 10, 20, 10_000);
    h.conn.send(&[1u8; 20_000]).unwrap();
    let s = h.out();
    let sent: usize = s.iter().map(|x| x.payload.len()).sum();
    assert_eq!(
        sent, 8760,
        "six full segments; the 1240-byte remainder of the window waits"
    );
    // Peer acks everything but offers only 100 bytes: far below max window / 2.
    h.feed(A, 1, 1 + 8760, 100, &[]);
    assert!(h.out().is_empty(), "no tiny segment (RFC 9293 §3.8.6.2.1)");
    h.feed(A, 1, 1 + 8760, 6000, &[]);
    let s = h.out();
    assert_eq!(
        s.iter().map(|x| x.payload.len()).sum::<usize>(),
        5840,
        "four full segments; the 160-byte rest of the window waits too"
    );
}

#[test]
fn connection_is_compact() {
    let size = std::mem::size_of::<tcpkit::tcp::Connection>();
    eprintln!("size_of::<Connection>() = {size}");
    assert!(size <= 1024, "Connection is {size} bytes");
}
