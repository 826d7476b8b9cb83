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
