//! The compact TIME-WAIT record (`tcp::time_wait::TimeWait`): a connection
//! rebuilt from it answers like the original (RFC 9293 §3.10.7.4, RFC 1337,
//! RFC 6191, RFC 7323 timestamps).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{ConnConfig, Connection, SegmentOutcome, State};

/// A client in TIME-WAIT after an active close, closed by the application,
/// with everything answered. `cfg` decides the options.
fn in_time_wait(cfg: &ConnConfig) -> Harness {
    let mut h = Harness::established_client(cfg, 1000, 9000, 20000);
    h.conn.close(h.now);
    assert_eq!(h.out().len(), 1, "our FIN");
    h.feed(A, 1, 2, 20000, &[]);
    h.feed(F | A, 1, 2, 20000, &[]);
    assert_eq!(h.conn.state(), State::TimeWait);
    h
}

/// The connection rebuilt from its record, as the stack does for a segment.
fn rebuilt(h: &mut Harness, cfg: &ConnConfig) {
    let rec = h
        .conn
        .time_wait_record()
        .expect("quiet TIME-WAIT has a record");
    h.conn = Connection::from_time_wait(cfg, &rec, h.now);
}

#[test]
fn no_record_while_the_ack_of_the_fin_is_pending() {
    let cfg = plain_cfg();
    let mut h = in_time_wait(&cfg);
    h.events();
    assert!(
        h.conn.time_wait_record().is_none(),
        "the ACK is not out yet"
    );
    assert_eq!(h.out().len(), 1);
    let rec = h.conn.time_wait_record().expect("record once quiet");
    assert_eq!(Some(rec.expiry()), h.conn.poll_timeout());
    // Not in TIME-WAIT: no record.
    let est = Harness::established_client(&cfg, 1000, 9000, 20000);
    assert!(est.conn.time_wait_record().is_none());
}

#[test]
fn rebuilt_connection_re_acks_a_retransmitted_fin_and_restarts_2msl() {
    let cfg = plain_cfg();
    let mut h = in_time_wait(&cfg);
    let first_ack = h.out();
    h.events();
    h.advance(ms(30_000));
    rebuilt(&mut h, &cfg);
    assert_eq!(h.conn.state(), State::TimeWait);
    assert_eq!(h.feed(F | A, 1, 2, 20000, &[]), SegmentOutcome::Dropped);
    let ack = h.out();
    assert_eq!(ack.len(), 1);
    assert_eq!(
        (ack[0].seq, ack[0].ack, ack[0].flags, ack[0].window),
        (first_ack[0].seq, first_ack[0].ack, A, first_ack[0].window)
    );
    assert!(h.events().is_empty(), "no event is raised twice");
    h.advance(ms(59_000));
    assert_eq!(h.conn.state(), State::TimeWait, "2×MSL restarted");
    h.advance(ms(1_000));
    assert_eq!(h.conn.state(), State::Closed);
    assert!(h.conn.is_finished());
}

#[test]
fn rebuilt_connection_ignores_rst_and_lets_a_higher_syn_reopen() {
    let cfg = plain_cfg();
    let mut h = in_time_wait(&cfg);
    h.out();
    h.events();
    rebuilt(&mut h, &cfg);
    // RFC 1337: an RST in TIME-WAIT is ignored.
    h.feed(R, 2, 0, 0, &[]);
    assert_eq!(h.conn.state(), State::TimeWait);
    assert!(h.out().is_empty());
    rebuilt(&mut h, &cfg);
    // RFC 6191 without timestamps: a SYN above RCV.NXT may reopen the tuple.
    assert_eq!(
        h.feed_syn(S, 100_000, 0, 20000, syn_opts(1460, None, false, None)),
        SegmentOutcome::ReopenFromTimeWait
    );
    // ... and one below it may not.
    let mut h = in_time_wait(&cfg);
    h.out();
    h.events();
    rebuilt(&mut h, &cfg);
    assert_ne!(
        h.feed_syn(S, 0, 0, 20000, syn_opts(1460, None, false, None)),
        SegmentOutcome::ReopenFromTimeWait
    );
}

#[test]
fn rebuilt_connection_keeps_the_timestamp_clock_and_ts_recent() {
    let cfg = ConnConfig {
        enable_timestamps: true,
        ..plain_cfg()
    };
    let mut h = Harness::client(&cfg, 1000, 9000);
    let syn = h.out();
    let ts_base = syn[0].options.timestamps.expect("TS offered").0;
    h.feed_syn(
        S | A,
        0,
        1,
        20000,
        syn_opts(1460, None, false, Some((5_000, ts_base))),
    );
    h.out();
    h.conn.close(h.now);
    h.out();
    h.feed_opts(A, 1, 2, 20000, ts(5_001, ts_base), &[]);
    h.feed_opts(F | A, 1, 2, 20000, ts(5_002, ts_base), &[]);
    let ack = h.out();
    let (val, ecr) = ack[0].options.timestamps.expect("TS on the ACK");
    assert_eq!(ecr, 5_002);
    h.events();
    h.advance(ms(10_000));
    rebuilt(&mut h, &cfg);
    // An old duplicate (TSval below TS.Recent) is dropped by PAWS but ACKed.
    h.feed_opts(F | A, 1, 2, 20000, ts(4_000, val), &[]);
    let again = h.out();
    assert_eq!(again.len(), 1);
    let (val2, ecr2) = again[0].options.timestamps.expect("TS on the ACK");
    assert_eq!(ecr2, 5_002, "TS.Recent survived the record");
    assert_eq!(val2.wrapping_sub(val), 10_000, "same TS clock, 10 s later");
}
