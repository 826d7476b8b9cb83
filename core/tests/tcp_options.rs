//! Options: window scale and timestamps (RFC 7323) incl. PAWS and RTTM,
//! MSS (RFC 9293 §3.7.1, RFC 6691), each negotiated when offered and refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{ConnConfig, SegmentOutcome, State};

const IRS: u32 = 1_000_000;

fn ts_cfg() -> ConnConfig {
    ConnConfig {
        enable_timestamps: true,
        ..plain_cfg()
    }
}

/// Client with timestamps negotiated; the peer's clock starts at 100.
fn est_ts() -> (Harness, u32) {
    let mut h = Harness::client(&ts_cfg(), 77, IRS);
    let syn = h.out();
    let our_ts = syn[0].options.timestamps.unwrap().0;
    h.feed_syn(
        S | A,
        0,
        1,
        65535,
        syn_opts(1460, None, false, Some((100, our_ts))),
    );
    h.out();
    (h, our_ts)
}

#[test]
fn each_option_used_only_when_both_sides_offer_it() {
    // (ours on, peer offers) -> used; (ours on, peer refuses) -> not; (ours off, peer offers) -> not.
    for (ours, peer, used) in [
        (true, true, true),
        (true, false, false),
        (false, true, false),
    ] {
        let cfg = ConnConfig {
            enable_sack: ours,
            enable_timestamps: ours,
            enable_window_scale: ours,
            recv_buffer: 1 << 20,
            ..ConnConfig::default()
        };
        let peer_opts = if peer {
            syn_opts(1400, Some(3), true, Some((5, 0)))
        } else {
            syn_opts(1400, None, false, None)
        };
        let mut h = Harness::server(&cfg, 10, IRS, peer_opts, 1000);
        let sa = h.out();
        let o = sa[0].options;
        assert_eq!(o.mss, Some(1460), "MSS is always sent on SYN-ACK");
        assert_eq!(o.sack_permitted, used, "sack ours={ours} peer={peer}");
        assert_eq!(o.timestamps.is_some(), used, "ts ours={ours} peer={peer}");
        assert_eq!(o.window_scale.is_some(), used, "ws ours={ours} peer={peer}");
        h.feed_opts(
            A,
            1,
            1,
            1000,
            if used {
                ts(6, o.timestamps.unwrap().0)
            } else {
                opts()
            },
            &[],
        );
        assert_eq!(h.conn.state(), State::Established);
        let info = h.conn.info();
        assert_eq!(
            info.snd_wnd,
            if used { 8000 } else { 1000 },
            "peer window scaled by 2^3 only when negotiated"
        );
        assert_eq!(
            info.mss,
            if used { 1388 } else { 1400 },
            "MSS minus TS option when TS is on"
        );
    }
}

#[test]
fn window_shift_above_14_is_clamped() {
    let cfg = ConnConfig {
        enable_window_scale: true,
        ..plain_cfg()
    };
    let mut h = Harness::server(&cfg, 10, IRS, syn_opts(1460, Some(30), false, None), 100);
    h.out();
    h.feed(A, 1, 1, 1, &[]);
    assert_eq!(h.conn.info().snd_wnd, 1 << 14, "RFC 7323 §2.3");
}

#[test]
fn our_window_is_scaled_down_on_the_wire() {
    let cfg = ConnConfig {
        enable_window_scale: true,
        recv_buffer: 1 << 20,
        ..plain_cfg()
    };
    let mut h = Harness::client(&cfg, 1, IRS);
    let syn = h.out();
    assert_eq!(syn[0].options.window_scale, Some(5));
    assert_eq!(syn[0].window, 65535, "SYN window is never scaled");
    h.feed_syn(S | A, 0, 1, 65535, syn_opts(1460, Some(0), false, None));
    let ack = h.out();
    assert_eq!(u32::from(ack[0].window), (1u32 << 20) >> 5);
}

#[test]
fn timestamps_echo_ts_recent_and_use_a_1ms_clock() {
    let (mut h, _) = est_ts();
    h.conn.set_nodelay(true);
    h.conn.send(b"a").unwrap();
    let s1 = h.out();
    let (v1, e1) = s1[0].options.timestamps.unwrap();
    assert_eq!(e1, 100, "TSecr = TS.Recent");
    h.advance(ms(7));
    h.feed_opts(A, 1, 2, 65535, ts(130, v1), &[]);
    h.conn.send(b"b").unwrap();
    let s2 = h.out();
    let (v2, e2) = s2[0].options.timestamps.unwrap();
    assert_eq!(v2.wrapping_sub(v1), 7, "1 ms ticks");
    assert_eq!(e2, 130);
}

#[test]
fn tsval_does_not_start_at_zero() {
    let mut a = Harness::client(&ts_cfg(), 1, 2);
    let mut b = Harness::client(&ts_cfg(), 99_999, 2);
    let ta = a.out()[0].options.timestamps.unwrap().0;
    let tb = b.out()[0].options.timestamps.unwrap().0;
    assert_ne!(ta, tb, "per-connection offset derived from the ISS");
}

#[test]
fn paws_drops_segment_with_old_timestamp_and_acks() {
    let (mut h, our) = est_ts();
    h.feed_opts(A | P, 1, 1, 65535, ts(200, our), b"new");
    h.out();
    // An old duplicate from a previous incarnation: TSval 150 < TS.Recent 200.
    let r = h.feed_opts(A | P, 4, 1, 65535, ts(150, our), b"old");
    assert_eq!(r, SegmentOutcome::Dropped);
    let a = h.out();
    assert_eq!(a.len(), 1, "PAWS failure is ACKed (RFC 7323 §5.3)");
    assert_eq!(a[0].ack, 4);
    assert_eq!(h.read_all(), b"new".to_vec());
}

#[test]
fn paws_does_not_apply_to_rst() {
    let (mut h, our) = est_ts();
    h.feed_opts(A, 1, 1, 65535, ts(500, our), &[]);
    h.feed_opts(R, 1, 0, 0, ts(10, 0), &[]);
    assert_eq!(h.conn.state(), State::Closed);
}

#[test]
fn paws_handles_timestamp_wraparound() {
    let mut h = Harness::client(&ts_cfg(), 77, IRS);
    let syn = h.out();
    let our = syn[0].options.timestamps.unwrap().0;
    h.feed_syn(
        S | A,
        0,
        1,
        65535,
        syn_opts(1460, None, false, Some((u32::MAX - 5, our))),
    );
    h.out();
    // 10 ticks later the peer's clock wrapped: still newer.
    let r = h.feed_opts(A | P, 1, 1, 65535, ts(4, our), b"x");
    assert_eq!(r, SegmentOutcome::Accepted);
    assert_eq!(h.read_all(), b"x".to_vec());
}

#[test]
fn ts_recent_only_from_segment_covering_last_ack_sent() {
    let (mut h, our) = est_ts();
    // Out-of-order segment with a higher TSval must not update TS.Recent (RFC 7323 §4.3).
    h.feed_opts(A | P, 1000, 1, 65535, ts(900, our), b"later");
    let a = h.out();
    assert_eq!(a[0].options.timestamps.unwrap().1, 100);
}

#[test]
fn path_mtu_lowering_shrinks_segments_and_resends() {
    let mut h = Harness::established_client(&plain_cfg(), 1, IRS, 65535);
    h.conn.send(&[7u8; 4000]).unwrap();
    let first = h.out();
    assert_eq!(first[0].payload.len(), 1460);
    h.conn.set_path_mtu_mss(1000);
    assert_eq!(h.conn.info().mss, 1000);
    let again = h.out();
    assert!(!again.is_empty());
    assert_eq!(
        again[0].seq, 1,
        "in-flight data is resent in smaller segments"
    );
    assert!(again.iter().all(|s| s.payload.len() <= 1000));
    h.conn.set_path_mtu_mss(1400);
    assert_eq!(h.conn.info().mss, 1000, "PMTU only ever lowers here");
}

#[test]
fn peer_mss_smaller_than_ours_is_respected() {
    let mut h = Harness::server(
        &plain_cfg(),
        1,
        IRS,
        syn_opts(500, None, false, None),
        65535,
    );
    h.out();
    h.feed(A, 1, 1, 65535, &[]);
    h.conn.send(&[1u8; 2000]).unwrap();
    let s = h.out();
    assert!(s.iter().all(|x| x.payload.len() <= 500));
    assert_eq!(s[0].payload.len(), 500);
}

#[test]
fn timestamp_clock_matches_what_the_connection_sends() {
    let mut h = Harness::client(&ts_cfg(), 4242, 2);
    let syn = h.out();
    let expected = tcpkit::tcp::connection::timestamp_clock(tcpkit::tcp::SeqNum(4242), h.now);
    assert_eq!(syn[0].options.timestamps.unwrap().0, expected);
}
