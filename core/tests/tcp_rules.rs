//! One test per RFC rule that the mutation audit (docs/TCP_TESTS.md) found
//! unguarded: each fails when its rule is disabled in core/src/tcp.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{ConnConfig, State};
use tcpkit::time::Duration;

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 + 5) as u8).collect()
}

/// RFC 9293 §3.10.7.3: an RST is never answered, even one with a bad ACK in SYN-SENT.
/// SACK on, RACK-TLP off: RFC 6675's own loss detection, which RACK-TLP
/// (on by default, tested in tcp_rack.rs) replaces.
fn sack_without_rack() -> ConnConfig {
    ConnConfig {
        enable_sack: true,
        enable_rack: false,
        ..plain_cfg()
    }
}

#[test]
fn rst_with_unacceptable_ack_in_syn_sent_is_not_answered() {
    let mut h = Harness::client(&plain_cfg(), 500, 7000);
    assert_eq!(h.out().len(), 1, "SYN");
    // ACK of something we never sent, with RST set.
    h.feed(R | A, 0, 5000, 1000, &[]);
    assert!(h.out().is_empty(), "no RST in answer to an RST");
    assert_eq!(h.conn.state(), State::SynSent);
    // The same segment without RST does get <SEQ=SEG.ACK><CTL=RST>.
    h.feed(A, 0, 5000, 1000, &[]);
    let r = h.out();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].flags, r[0].seq), (R, 5000));
}

/// RFC 9293 §3.10.7.4: TIME-WAIT lasts 2×MSL as configured, not a fixed value.
#[test]
fn time_wait_lasts_the_configured_two_msl() {
    for secs in [1, 7, 240] {
        let cfg = ConnConfig {
            time_wait: Duration::from_secs(secs),
            ..plain_cfg()
        };
        let mut h = Harness::established_client(&cfg, 100, 200, 20000);
        h.conn.shutdown(h.now).unwrap();
        h.out();
        h.feed(F | A, 1, 2, 20000, &[]);
        assert_eq!(h.conn.state(), State::TimeWait);
        h.out();
        assert_eq!(h.fire_next_timer(), Duration::from_secs(secs));
        assert_eq!(h.conn.state(), State::Closed);
    }
}

/// RFC 9293 §3.10.7.4: text beyond the advertised window is trimmed, even
/// when the receive buffer has room for it.
#[test]
fn text_beyond_the_advertised_window_is_trimmed() {
    // Without window scaling 65535 is the most we can advertise; the buffer is bigger.
    let cfg = ConnConfig {
        recv_buffer: 200_000,
        ..plain_cfg()
    };
    let mut h = Harness::established_client(&cfg, 100, 200, 20000);
    let d = bytes(65535 + 1000);
    h.feed(A, 1, 1, 20000, &d);
    let a = h.out();
    let last = a.last().expect("an ACK");
    assert_eq!(last.ack, 1 + 65535, "only the advertised window is taken");
    assert_eq!(h.read_all(), d[..65535].to_vec());
}

/// RFC 7323 §2.2: the window in a SYN or SYN-ACK is never scaled.
#[test]
fn syn_and_syn_ack_windows_are_never_scaled() {
    let cfg = ConnConfig {
        enable_window_scale: true,
        recv_buffer: 1 << 20,
        ..plain_cfg()
    };
    let mut c = Harness::client(&cfg, 1, 2);
    let syn = c.out();
    assert!(syn[0].options.window_scale.unwrap() > 0);
    assert_eq!(syn[0].window, 65535, "SYN window in bytes");
    let mut s = Harness::server(&cfg, 3, 4, syn_opts(1460, Some(7), false, None), 65535);
    let synack = s.out();
    assert!(synack[0].options.window_scale.unwrap() > 0);
    assert_eq!(synack[0].window, 65535, "SYN-ACK window in bytes");
    // After the handshake the window is scaled.
    s.feed(A, 1, 1, 100, &[]);
    s.conn.send(b"x").unwrap();
    let d = s.out();
    let shift = synack[0].options.window_scale.unwrap();
    assert_eq!(u32::from(d[0].window), (1u32 << 20) >> shift);
}

/// RFC 7323 §4.1 (RTTM): with timestamps, every ACK echoing a TSval is an RTT
/// sample, here one the Karn-timed segment would not give.
#[test]
fn rtt_measured_from_echoed_timestamp_on_data() {
    let cfg = ConnConfig {
        enable_timestamps: true,
        ..plain_cfg()
    };
    let mut h = Harness::client(&cfg, 10, 20);
    let syn = h.out();
    let syn_ts = syn[0].options.timestamps.unwrap().0;
    h.advance(ms(10));
    h.feed_syn(
        S | A,
        0,
        1,
        65535,
        syn_opts(1460, None, false, Some((500, syn_ts))),
    );
    h.out();
    let first = h.conn.info().srtt_us;
    assert_eq!(first, 10_000);
    h.conn.send(b"hello").unwrap();
    let d = h.out();
    let data_ts = d[0].options.timestamps.unwrap().0;
    h.advance(ms(100));
    h.feed_opts(A, 1, 6, 65535, ts(501, data_ts), &[]);
    // RFC 6298 §2.3: SRTT <- 7/8 SRTT + 1/8 R.
    let expect = (7 * first + 100_000) / 8;
    assert_eq!(h.conn.info().srtt_us, expect);
}

/// RFC 9293 §3.8.6.2.2: the receiver does not advertise a small window
/// increase, also not on ACKs it sends for other reasons.
#[test]
fn receiver_sws_avoidance_hides_small_window_increase() {
    let cfg = ConnConfig {
        recv_buffer: 8000,
        ..plain_cfg()
    };
    let mut h = Harness::established_client(&cfg, 100, 200, 65535);
    let d = bytes(8000);
    h.feed(A, 1, 1, 65535, &d[..4000]);
    h.feed(A, 4001, 1, 65535, &d[4000..]);
    let a = h.out();
    assert_eq!(a.last().unwrap().window, 0, "buffer full");
    let mut small = [0u8; 100];
    assert_eq!(h.conn.recv(&mut small), Ok(100));
    // Our own data carries an ACK: its window must still say 0.
    h.conn.send(b"ping").unwrap();
    let s = h.out();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].payload, b"ping".to_vec());
    assert_eq!(
        s[0].window, 0,
        "100 bytes < min(MSS, buffer/2): not advertised"
    );
    // A worthwhile increase is advertised.
    let mut big = [0u8; 3000];
    assert_eq!(h.conn.recv(&mut big), Ok(3000));
    let u = h.out();
    assert_eq!(u.last().unwrap().window, 3100);
}

/// RFC 6298 §2.2 (first sample: SRTT = R, RTTVAR = R/2) and §2.3 (later
/// samples smoothed with alpha 1/8, beta 1/4); RTO = SRTT + 4·RTTVAR.
#[test]
fn rto_estimator_follows_rfc6298_on_timed_segments() {
    let mut h = Harness::client(&plain_cfg(), 10, 20);
    h.out();
    let r1: u64 = 100_000;
    h.advance(Duration::from_micros(r1));
    h.feed_syn(S | A, 0, 1, 65535, syn_opts(1460, None, false, None));
    h.out();
    let i = h.conn.info();
    assert_eq!((i.srtt_us, i.rttvar_us), (r1, r1 / 2));
    assert_eq!(i.rto_us, r1 + 4 * (r1 / 2));
    // A second, slower sample from a timed data segment.
    h.conn.send(b"data").unwrap();
    h.out();
    let r2: u64 = 180_000;
    h.advance(Duration::from_micros(r2));
    h.feed(A, 1, 5, 65535, &[]);
    let rttvar = (3 * (r1 / 2) + r1.abs_diff(r2)) / 4;
    let srtt = (7 * r1 + r2) / 8;
    let i = h.conn.info();
    assert_eq!((i.srtt_us, i.rttvar_us), (srtt, rttvar));
    assert_eq!(i.rto_us, srtt + 4 * rttvar);
    // The retransmission timer runs for exactly that RTO.
    h.conn.send(b"more").unwrap();
    h.out();
    assert_eq!(
        h.fire_next_timer(),
        Duration::from_micros(srtt + 4 * rttvar)
    );
}

const MSS: u32 = 1460;

/// Client with `cfg`, established with a plain peer offering a 65535 window
/// (SACK-permitted when `sack`), that has sent `segs` full segments.
fn sending(cfg: &ConnConfig, sack: bool, segs: u32) -> Harness {
    let mut h = Harness::client(cfg, 3000, 60_000);
    h.out();
    h.feed_syn(S | A, 0, 1, 65535, syn_opts(1460, None, sack, None));
    h.out();
    h.events();
    h.conn.send(&bytes((segs * MSS) as usize)).unwrap();
    let sent = h.out();
    assert_eq!(sent.len() as u32, segs.min(10), "initial window");
    h
}

/// Sequence number (relative) of segment `i`'s first byte.
fn seg(i: u32) -> u32 {
    1 + i * MSS
}

/// SACK option for blocks of whole segments `[from, to)`, relative to our ISS.
fn sack_segs(iss: u32, blocks: &[(u32, u32)]) -> tcpkit::wire::TcpOptions {
    let mut o = opts();
    for (i, &(a, b)) in blocks.iter().enumerate() {
        o.sack_blocks[i] = (iss.wrapping_add(seg(a)), iss.wrapping_add(seg(b)));
    }
    o.sack_block_count = blocks.len() as u8;
    o
}

fn newreno_cfg() -> ConnConfig {
    ConnConfig {
        congestion: tcpkit::tcp::Congestion::NewReno,
        ..plain_cfg()
    }
}

/// RFC 6298 §5.5: the doubled RTO never exceeds the configured maximum.
#[test]
fn rto_backoff_is_capped_at_max_rto() {
    let cfg = ConnConfig {
        initial_rto: Duration::from_secs(1),
        max_rto: Duration::from_secs(3),
        ..plain_cfg()
    };
    let mut h = Harness::client(&cfg, 1, 2);
    h.out();
    let waits: Vec<u64> = (0..5)
        .map(|_| {
            let w = h.fire_next_timer();
            assert_eq!(h.out().len(), 1, "SYN retransmitted");
            w.as_millis()
        })
        .collect();
    assert_eq!(waits, vec![1000, 2000, 3000, 3000, 3000]);
}

/// RFC 6298 §5.7: a new RTT sample after a timeout ends the backoff.
#[test]
fn new_rtt_sample_ends_rto_backoff() {
    let mut h = Harness::established_client(&plain_cfg(), 1, 2, 65535);
    let min_rto = plain_cfg().min_rto.as_micros();
    h.conn.send(b"a").unwrap();
    h.out();
    h.fire_next_timer();
    assert_eq!(h.out().len(), 1, "retransmission");
    h.feed(A, 1, 2, 65535, &[]);
    assert_eq!(h.conn.info().rto_us, 2 * min_rto, "still backed off (Karn)");
    // New data is timed; its ACK is a valid sample.
    h.conn.send(b"b").unwrap();
    h.out();
    h.advance(ms(10));
    h.feed(A, 1, 3, 65535, &[]);
    assert_eq!(h.conn.info().rto_us, min_rto, "backoff cleared");
}

/// RFC 5681 §2: an ACK that changes the advertised window is not a duplicate ACK.
#[test]
fn window_updates_are_not_duplicate_acks() {
    let mut h = sending(&newreno_cfg(), false, 10);
    for wnd in [60000, 61000, 62000, 63000] {
        h.feed(A, 1, 1, wnd, &[]);
    }
    let out = h.out();
    assert!(
        out.iter().all(|s| s.seq != seg(0)),
        "no fast retransmit: {out:?}"
    );
    assert_eq!(h.conn.info().segs_retransmitted, 0);
}

/// Fast retransmit, then drive NewReno recovery with `extra` more duplicate ACKs.
fn in_newreno_recovery(extra: u32) -> (Harness, Vec<u64>) {
    let mut h = sending(&newreno_cfg(), false, 40);
    let mut cwnds = Vec::new();
    for _ in 0..3 {
        h.feed(A, 1, 1, 65535, &[]);
        h.out();
    }
    assert_eq!(h.conn.info().segs_retransmitted, 1, "fast retransmit");
    cwnds.push(h.conn.info().cwnd);
    for _ in 0..extra {
        h.feed(A, 1, 1, 65535, &[]);
        h.out();
        cwnds.push(h.conn.info().cwnd);
    }
    (h, cwnds)
}

/// RFC 5681 §3.2 step 4: each further duplicate ACK inflates cwnd by one SMSS.
#[test]
fn newreno_inflates_cwnd_per_duplicate_ack() {
    let (h, cwnds) = in_newreno_recovery(4);
    let mss = u64::from(h.conn.info().mss);
    for w in cwnds.windows(2) {
        assert_eq!(w[1], w[0] + mss, "{cwnds:?}");
    }
}

/// RFC 6582 §3.2 step 5: the full ACK deflates cwnd to min(ssthresh, FlightSize + SMSS).
#[test]
fn newreno_full_ack_deflates_cwnd() {
    let (mut h, _) = in_newreno_recovery(6);
    let i = h.conn.info();
    assert!(i.cwnd > i.ssthresh, "inflated during recovery");
    // ACK everything sent so far (beyond the recovery point).
    let top = 1 + (i.bytes_acked + i.bytes_unacked) as u32;
    h.feed(A, 1, top, 65535, &[]);
    let i = h.conn.info();
    assert!(i.cwnd <= i.ssthresh, "deflated: {i:?}");
}

/// RFC 6582 §3.2 step 2 (and step 4 after an RTO): duplicate ACKs for data
/// below `recover` do not start a new recovery.
#[test]
fn no_new_fast_recovery_below_recover_point() {
    let mut h = sending(&newreno_cfg(), false, 10);
    h.fire_next_timer();
    let r = h.out();
    assert_eq!(r[0].seq, seg(0), "RTO resends from SND.UNA");
    let ssthresh = h.conn.info().ssthresh;
    // Segment 0 arrives; the peer then repeats its ACK (old segments still arriving).
    h.feed(A, 1, seg(1), 65535, &[]);
    let after_ack = h.out();
    for _ in 0..4 {
        h.feed(A, 1, seg(1), 65535, &[]);
    }
    let more = h.out();
    assert_eq!(h.conn.info().ssthresh, ssthresh, "no new congestion event");
    let resent_seg1 = after_ack
        .iter()
        .chain(&more)
        .filter(|s| s.seq == seg(1))
        .count();
    assert!(resent_seg1 <= 1, "segment 1 resent once by go-back-N only");
}

/// RFC 6675 §4-5 and RFC 6937 §3: in SACK recovery only pipe < cwnd may be
/// outstanding and PRR-SSRB sets cwnd from what was delivered, so the lost
/// segments are not all resent at once.
#[test]
fn sack_recovery_sends_only_what_pipe_and_prr_allow() {
    // RFC 6675 loss detection alone (RACK-TLP has its own tests in tcp_rack.rs).
    let cfg = sack_without_rack();
    let mut h = sending(&cfg, true, 10);
    let iss = h.iss;
    // Segments 0-5 lost; 6, 7, 8 arrive one by one.
    h.feed_opts(A, 1, 1, 65535, sack_segs(iss, &[(6, 7)]), &[]);
    h.feed_opts(A, 1, 1, 65535, sack_segs(iss, &[(6, 8)]), &[]);
    h.out();
    h.feed_opts(A, 1, 1, 65535, sack_segs(iss, &[(6, 9)]), &[]);
    let r = h.out();
    assert_eq!(h.conn.info().sack_recoveries, 1);
    assert!(
        !r.is_empty() && r[0].seq == seg(0),
        "first hole first: {r:?}"
    );
    // Segments 0-5 are lost (more than 2 SMSS SACKed above them), so pipe =
    // segment 9 + retransmissions. pipe < ssthresh, so PRR-SSRB allows
    // delivered (1 SMSS) + 1 SMSS: exactly two segments, 0 and 1.
    let seqs: Vec<u32> = r.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, vec![seg(0), seg(1)]);
}

/// RFC 6675 scoreboard kept in a capped range set (O(cap) per ACK, never a
/// rescan of everything in flight): many SACK holes do not grow its memory.
#[test]
fn sack_scoreboard_stays_within_its_range_cap() {
    // RACK's per-segment record (bounded separately) is off so heap_bytes shows the scoreboard.
    let cfg = ConnConfig {
        initial_cwnd_segments: 200,
        ..sack_without_rack()
    };
    let mut h = Harness::client(&cfg, 3000, 60_000);
    h.out();
    h.feed_syn(S | A, 0, 1, 65535, syn_opts(100, None, true, None));
    h.out();
    let mss = h.conn.info().mss;
    h.conn.send(&bytes((200 * mss) as usize)).unwrap();
    let sent = h.out();
    assert!(sent.len() >= 150, "{} segments in flight", sent.len());
    let iss = h.iss;
    let at = |i: u32| iss.wrapping_add(1 + i * mss);
    // One SACK block for every other segment: 70 disjoint ranges.
    let mut first = None;
    for k in 0..70u32 {
        let mut o = opts();
        o.sack_blocks[0] = (at(2 * k + 1), at(2 * k + 2));
        o.sack_block_count = 1;
        h.feed_opts(A, 1, 1, 65535, o, &[]);
        h.out();
        if k == 0 {
            first = Some(h.conn.heap_bytes());
        }
    }
    let grown = h.conn.heap_bytes() - first.unwrap();
    assert!(grown == 0, "scoreboard grew by {grown} bytes");
}

/// RFC 2883 §4 / RFC 6675 §5: an ACK carrying only a D-SACK (a duplicate the
/// peer received) brings no new SACK information: it starts no recovery,
/// resends nothing and leaves cwnd alone.
#[test]
fn dsack_received_does_no_harm() {
    // With RFC 6675 loss detection alone and with RACK-TLP (the default).
    for enable_rack in [false, true] {
        let cfg = ConnConfig {
            enable_sack: true,
            enable_rack,
            ..plain_cfg()
        };
        let mut h = sending(&cfg, true, 10);
        let iss = h.iss;
        // Segment 0 acknowledged; then D-SACKs for it (below SND.UNA) repeat the ACK.
        h.feed(A, 1, seg(1), 65535, &[]);
        h.out();
        let before = h.conn.info();
        for _ in 0..4 {
            h.feed_opts(A, 1, seg(1), 65535, sack_segs(iss, &[(0, 1)]), &[]);
        }
        let out = h.out();
        let after = h.conn.info();
        assert_eq!(after.sack_recoveries, 0, "rack {enable_rack}");
        assert_eq!(after.segs_retransmitted, 0, "rack {enable_rack}: {out:?}");
        assert_eq!(after.cwnd, before.cwnd);
        assert_eq!(after.ssthresh, before.ssthresh);
    }
}

/// CUBIC (RFC 9438) is the default: a loss sets ssthresh = cwnd × beta_cubic
/// (0.7, §4.6), not NewReno's FlightSize / 2.
#[test]
fn cubic_is_the_default_congestion_control() {
    assert_eq!(
        ConnConfig::default().congestion,
        tcpkit::tcp::Congestion::Cubic
    );
    let mut h = sending(&plain_cfg(), false, 40);
    let cwnd = h.conn.info().cwnd;
    for _ in 0..3 {
        h.feed(A, 1, 1, 65535, &[]);
        h.out();
    }
    assert_eq!(h.conn.info().segs_retransmitted, 1, "fast retransmit");
    assert_eq!(h.conn.info().ssthresh, cwnd * 7 / 10);
}

/// Client with a 1 MB send buffer that has queued `segs` full segments and
/// sent its initial window.
fn bulk(congestion: tcpkit::tcp::Congestion, segs: u32) -> Harness {
    bulk_cfg(
        ConnConfig {
            congestion,
            ..plain_cfg()
        },
        segs,
    )
}

fn bulk_cfg(cfg: ConnConfig, segs: u32) -> Harness {
    let cfg = ConnConfig {
        send_buffer: 1 << 20,
        ..cfg
    };
    sending(&cfg, false, segs)
}

/// ACK `n` segments, `per_ack` at a time from segment `*next`, 5 ms apart;
/// returns cwnd after each ACK.
fn ack_segments(h: &mut Harness, next: &mut u32, n: u32, per_ack: u32) -> Vec<u64> {
    let mut cwnds = Vec::new();
    for _ in 0..n {
        *next += per_ack;
        h.advance(ms(5));
        h.feed(A, 1, seg(*next), 65535, &[]);
        h.out();
        cwnds.push(h.conn.info().cwnd);
    }
    cwnds
}

/// RFC 3465 §2.2 (RFC 5681 §3.1): slow start grows cwnd by the bytes an ACK
/// covers, at most L = 2 SMSS per ACK.
#[test]
fn slow_start_counts_acked_bytes_up_to_two_smss() {
    // HyStart++ (RFC 9406 §4.2) uses L = 8 instead; this is the RFC 3465 rule.
    let mut h = bulk_cfg(
        ConnConfig {
            congestion: tcpkit::tcp::Congestion::NewReno,
            hystart: false,
            ..plain_cfg()
        },
        100,
    );
    let mss = u64::from(h.conn.info().mss);
    let mut next = 0;
    let cwnd0 = h.conn.info().cwnd;
    let c = ack_segments(&mut h, &mut next, 1, 2);
    assert_eq!(c[0], cwnd0 + 2 * mss, "an ACK of two segments counts both");
    let c2 = ack_segments(&mut h, &mut next, 1, 4);
    assert_eq!(c2[0], c[0] + 2 * mss, "a stretch ACK of four counts L = 2");
}

/// RFC 5681 §3.1: in congestion avoidance NewReno adds one SMSS per cwnd of
/// acknowledged data, not per ACK.
#[test]
fn newreno_congestion_avoidance_adds_one_smss_per_window() {
    let (mut h, _) = in_newreno_recovery(6);
    let i = h.conn.info();
    let top = 1 + (i.bytes_acked + i.bytes_unacked) as u32;
    // Full ACK of the recovery point: recovery ends, then ACK one segment at a time.
    let mut next = (top - 1) / MSS;
    h.feed(A, 1, seg(next), 65535, &[]);
    h.out();
    let mss = u64::from(h.conn.info().mss);
    let mut cwnds = ack_segments(&mut h, &mut next, 60, 1);
    let ssthresh = h.conn.info().ssthresh;
    let start = cwnds
        .iter()
        .position(|&c| c >= ssthresh)
        .expect("reaches CA");
    cwnds.drain(..start);
    let w = cwnds[0];
    let per_window = (w / mss) as usize;
    assert!(cwnds.len() > per_window, "enough ACKs for one window");
    assert!(
        cwnds[per_window] - w <= mss,
        "one SMSS per window of ACKs: {cwnds:?}"
    );
}

/// RFC 9438 §4.2-4.4: CUBIC congestion avoidance grows cwnd by less than a
/// full segment per ACK (target at most 1.5 cwnd per RTT).
#[test]
fn cubic_congestion_avoidance_grows_less_than_a_segment_per_ack() {
    let mut h = bulk(tcpkit::tcp::Congestion::Cubic, 300);
    for _ in 0..3 {
        h.feed(A, 1, 1, 65535, &[]);
        h.out();
    }
    let i = h.conn.info();
    let top = 1 + (i.bytes_acked + i.bytes_unacked) as u32;
    let mut next = (top - 1) / MSS;
    h.feed(A, 1, seg(next), 65535, &[]);
    h.out();
    let mss = u64::from(h.conn.info().mss);
    let cwnds = ack_segments(&mut h, &mut next, 40, 1);
    let ssthresh = h.conn.info().ssthresh;
    let ca: Vec<u64> = cwnds.into_iter().skip_while(|&c| c < ssthresh).collect();
    assert!(ca.len() > 10, "in congestion avoidance");
    for w in ca.windows(2) {
        assert!(w[1] < w[0] + mss, "{ca:?}");
    }
}

/// RFC 5681 §4.1: after an idle period longer than the RTO, cwnd restarts
/// from the initial window.
#[test]
fn cwnd_restarts_from_initial_window_after_idle() {
    let mut h = bulk(tcpkit::tcp::Congestion::NewReno, 20);
    let iw = h.conn.info().cwnd;
    let mut next = 0;
    ack_segments(&mut h, &mut next, 10, 2);
    assert!(h.conn.info().cwnd > iw, "grew in slow start");
    assert_eq!(h.conn.info().bytes_unacked, 0, "all acknowledged");
    h.advance(Duration::from_secs(5));
    h.conn.send(&bytes((30 * MSS) as usize)).unwrap();
    let burst = h.out();
    let sent: u64 = burst.iter().map(|s| s.payload.len() as u64).sum();
    assert_eq!(sent, iw, "restart window = IW");
}

/// RFC 5681 §3.2 step 2 (NewReno): on fast retransmit ssthresh =
/// max(FlightSize / 2, 2 SMSS).
#[test]
fn newreno_loss_sets_ssthresh_to_half_the_flight_size() {
    let mut h = sending(&newreno_cfg(), false, 40);
    for _ in 0..2 {
        h.feed(A, 1, 1, 65535, &[]);
        h.out();
    }
    let flight = h.conn.info().bytes_unacked;
    h.feed(A, 1, 1, 65535, &[]);
    h.out();
    assert_eq!(h.conn.info().segs_retransmitted, 1, "fast retransmit");
    let mss = u64::from(h.conn.info().mss);
    assert_eq!(h.conn.info().ssthresh, (flight / 2).max(2 * mss));
}

/// RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: the delayed-ACK timer is at most
/// 500 ms. The stack's configuration refuses a longer one (the per-connection
/// `ConnConfig` takes what the stack gives it).
#[test]
fn delayed_ack_timer_above_500_ms_is_refused() {
    use tcpkit::stack::Config;
    for (ms_, ok) in [(40, true), (499, true), (500, false), (2000, false)] {
        let c = Config {
            delayed_ack: ms(ms_),
            ..Config::default()
        };
        assert_eq!(c.validate().is_ok(), ok, "delayed_ack {ms_} ms");
    }
}

/// RFC 9293 §3.7.1, RFC 6691: the MSS option we send is the configured MSS
/// (from our MTU), in the SYN and in the SYN-ACK.
#[test]
fn mss_option_carries_the_configured_mss() {
    for mss in [536u16, 1200, 8960] {
        let cfg = ConnConfig { mss, ..plain_cfg() };
        let mut c = Harness::client(&cfg, 1, 2);
        assert_eq!(c.out()[0].options.mss, Some(mss));
        let mut s = Harness::server(&cfg, 3, 4, syn_opts(1460, None, false, None), 65535);
        assert_eq!(s.out()[0].options.mss, Some(mss));
    }
}

/// RFC 6298 §5.3: an ACK of new data restarts the retransmission timer.
#[test]
fn retransmission_timer_restarts_on_each_new_ack() {
    let mut h = sending(&plain_cfg(), false, 3);
    h.advance(ms(150));
    h.feed(A, 1, seg(1), 65535, &[]);
    h.out();
    let rto = Duration::from_micros(h.conn.info().rto_us);
    assert_eq!(h.conn.poll_timeout(), Some(h.now + rto));
}

/// RFC 5681 §4.2: data that fills a hole is acknowledged at once, even when
/// it is small.
#[test]
fn hole_filling_data_is_acked_at_once() {
    let mut h = Harness::established_client(&plain_cfg(), 100, 200, 65535);
    let d = bytes(200);
    h.feed(A, 101, 1, 65535, &d[100..]);
    assert_eq!(h.out().len(), 1, "out-of-order: duplicate ACK");
    h.feed(A, 1, 1, 65535, &d[..100]);
    let a = h.out();
    assert_eq!(a.len(), 1, "hole filled: ACK now, not delayed");
    assert_eq!(a[0].ack, 201);
}

/// RFC 9293 §3.10.7.4: the send window is taken only from a segment newer
/// than the last update (SND.WL1 < SEG.SEQ, or equal and SND.WL2 =< SEG.ACK).
#[test]
fn send_window_updates_only_from_newer_segments() {
    let mut h = sending(&plain_cfg(), false, 3);
    h.feed(A, 1, seg(2), 5000, &[]);
    assert_eq!(h.conn.info().snd_wnd, 5000);
    // An older ACK, reordered, with a bigger window: ignored for the window.
    h.feed(A, 1, seg(1), 40000, &[]);
    assert_eq!(h.conn.info().snd_wnd, 5000);
    // A newer one updates it.
    h.feed(A, 1, seg(3), 30000, &[]);
    assert_eq!(h.conn.info().snd_wnd, 30000);
}

/// RFC 7323 §2.2: the window of a received SYN-ACK is not scaled, even when
/// the peer offers a shift.
#[test]
fn received_syn_ack_window_is_not_scaled() {
    let cfg = ConnConfig {
        enable_window_scale: true,
        ..plain_cfg()
    };
    let mut h = Harness::client(&cfg, 1, 2);
    h.out();
    h.feed_syn(S | A, 0, 1, 1000, syn_opts(1460, Some(7), false, None));
    assert_eq!(h.conn.info().snd_wnd, 1000);
    // Later windows are scaled by the peer's shift.
    h.feed(A, 1, 1, 1000, &[]);
    assert_eq!(h.conn.info().snd_wnd, 1000 << 7);
}

/// RFC 2883 §4: a duplicate of out-of-order data we hold is reported as a
/// D-SACK block first, followed by the SACK block that contains it.
#[test]
fn duplicate_out_of_order_segment_is_reported_as_dsack() {
    let cfg = ConnConfig {
        enable_sack: true,
        ..plain_cfg()
    };
    let mut h = Harness::client(&cfg, 100, 200);
    h.out();
    h.feed_syn(S | A, 0, 1, 65535, syn_opts(1460, None, true, None));
    h.out();
    let d = bytes(3000);
    h.feed(A, 1001, 1, 65535, &d[1000..2000]);
    let a = h.out();
    assert_eq!(a[0].sack(200), vec![(1001, 2001)]);
    h.feed(A, 1001, 1, 65535, &d[1000..2000]);
    let a = h.out();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].sack(200), vec![(1001, 2001), (1001, 2001)]);
}

/// ConnInfo reports the state and counts every segment sent and received.
#[test]
fn info_reports_state_and_segment_counts() {
    let mut h = Harness::client(&plain_cfg(), 100, 200);
    let mut sent = h.out().len() as u64;
    assert_eq!(h.conn.info().state, State::SynSent);
    h.feed_syn(S | A, 0, 1, 65535, syn_opts(1460, None, false, None));
    let mut received = 1u64;
    sent += h.out().len() as u64;
    assert_eq!(h.conn.info().state, State::Established);
    h.conn.send(&bytes(5000)).unwrap();
    sent += h.out().len() as u64;
    for ack in [1461, 2921, 5001] {
        h.feed(A, 1, ack, 65535, &[]);
        received += 1;
        sent += h.out().len() as u64;
    }
    h.feed(A, 1, 5001, 65535, b"reply");
    received += 1;
    h.advance(ms(500));
    sent += h.out().len() as u64;
    let i = h.conn.info();
    assert_eq!((i.segs_sent, i.segs_received), (sent, received));
    assert!(sent >= 6, "SYN, ACK, 4 data, delayed ACK: {sent}");
}

/// RFC 6675 §4 IsLost: a hole with more than (DupThresh - 1) SMSS SACKed
/// above it is lost, so recovery starts on the first such ACK without
/// waiting for three duplicate ACKs.
#[test]
fn sack_hole_is_lost_once_more_than_two_smss_are_sacked_above() {
    let cfg = sack_without_rack();
    let mut h = sending(&cfg, true, 10);
    let iss = h.iss;
    // One ACK: segments 1-3 (3 SMSS) SACKed above the hole at segment 0.
    h.feed_opts(A, 1, 1, 65535, sack_segs(iss, &[(1, 4)]), &[]);
    let r = h.out();
    assert_eq!(h.conn.info().sack_recoveries, 1);
    assert_eq!(r.first().map(|s| s.seq), Some(seg(0)), "{r:?}");
}

/// RFC 3522 §2 (Eifel detection): SACK recovery caused by reordering is
/// undone when the ACK covering the "lost" segment echoes a TSval older than
/// the retransmission's: the original arrived, so cwnd and ssthresh return
/// to their pre-recovery values. An echo of the retransmission keeps the cut.
#[test]
fn eifel_undoes_a_spurious_sack_recovery() {
    // RFC 6675 DupThresh recovery (RACK-TLP off) with timestamps and SACK.
    let cfg = ConnConfig {
        enable_timestamps: true,
        ..sack_without_rack()
    };
    for original_arrived in [true, false] {
        let mut h = Harness::client(&cfg, 3000, 60_000);
        h.out();
        h.feed_syn(
            S | A,
            0,
            1,
            65535,
            syn_opts(1460, None, true, Some((100, 0))),
        );
        h.out();
        h.events();
        let mss = h.conn.info().mss;
        let at = |i: u32| 1 + i * mss;
        h.conn.send(&bytes((10 * mss) as usize)).unwrap();
        let sent = h.out();
        assert_eq!(sent.len(), 10, "initial window");
        let (tsval_orig, _) = sent[0].options.timestamps.unwrap();
        // Later, so the retransmission carries a newer TSval.
        h.now += ms(50);
        let iss = h.iss;
        let dupack = |h: &mut Harness, peer_ts: u32, sacked: u32| {
            let mut o = ts(peer_ts, tsval_orig);
            o.sack_blocks[0] = (iss.wrapping_add(at(1)), iss.wrapping_add(at(1 + sacked)));
            o.sack_block_count = 1;
            h.feed_opts(A, 1, 1, 65535, o, &[]);
        };
        // Segment 0 is delayed; 1, 2, 3 arrive first.
        dupack(&mut h, 101, 1);
        dupack(&mut h, 102, 2);
        h.out();
        let before = h.conn.info();
        dupack(&mut h, 103, 3);
        let r = h.out();
        let after_entry = h.conn.info();
        assert_eq!(after_entry.sack_recoveries, 1);
        assert!(
            after_entry.ssthresh < before.ssthresh,
            "congestion response"
        );
        let rexmit = r.iter().find(|s| s.seq == at(0)).expect("segment 0 resent");
        let (tsval_rexmit, _) = rexmit.options.timestamps.unwrap();
        assert!(tsval_rexmit > tsval_orig);
        // The ACK covering segment 0 (and the SACKed 1-3): it echoes the
        // original's TSval if the original arrived, else the retransmission's.
        let ecr = if original_arrived {
            tsval_orig
        } else {
            tsval_rexmit
        };
        h.feed_opts(A, 1, at(4), 65535, ts(104, ecr), &[]);
        let i = h.conn.info();
        if original_arrived {
            assert_eq!(h.conn.spurious_recoveries(), 1);
            assert_eq!((i.cwnd, i.ssthresh), (before.cwnd, before.ssthresh));
        } else {
            assert_eq!(h.conn.spurious_recoveries(), 0);
            assert_eq!(i.ssthresh, after_entry.ssthresh, "the cut stays");
        }
    }
}
