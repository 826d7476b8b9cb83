//! NewReno window growth (RFC 5681) with appropriate byte counting (RFC 3465).
//!
//! Fast recovery itself (RFC 6582) lives in the connection, which uses
//! `set_cwnd`; this type only decides the window outside recovery.

use super::hystart::{HyStart, Phase, RoundOutcome};
use super::{initial_window, reno_ssthresh, restart_window, CongestionControl};
use crate::tcp::seq::SeqNum;
use crate::time::{Duration, Instant};

/// RFC 5681 congestion window state, in bytes.
#[derive(Clone, Debug)]
pub struct NewReno {
    mss: u32,
    iw_segments: u32,
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 3465 §2.1).
    bytes_acked: u32,
    /// Initial slow start exit (RFC 9406).
    hystart: HyStart,
}

impl NewReno {
    /// Initial window per RFC 6928 / RFC 5681 §3.1; ssthresh starts "arbitrarily high".
    pub fn new(mss: u32, initial_window_segments: u32) -> Self {
        Self::with_hystart(mss, initial_window_segments, true)
    }

    /// As [`NewReno::new`], with HyStart++ (RFC 9406) on or off.
    pub fn with_hystart(mss: u32, initial_window_segments: u32, hystart: bool) -> Self {
        let mss = mss.max(1);
        NewReno {
            mss,
            iw_segments: initial_window_segments,
            cwnd: initial_window(mss, initial_window_segments),
            ssthresh: u32::MAX,
            bytes_acked: 0,
            hystart: HyStart::new(hystart),
        }
    }

    pub fn hystart_phase(&self) -> Phase {
        self.hystart.phase()
    }

    /// Whether cwnd < ssthresh (RFC 5681 §3.1).
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// Slow start: cwnd += min(N, L*SMSS) per ACK, L = 2 (RFC 3465 §2.2) or
    /// under HyStart++ L = 8 and a quarter of that in CSS (RFC 9406 §4.2).
    fn grow_slow_start(&mut self, acked: u32) {
        self.cwnd = self
            .cwnd
            .saturating_add(self.hystart.slow_start_increase(acked, self.mss));
    }

    /// Congestion avoidance: cwnd += SMSS once a full cwnd of bytes is ACKed (RFC 3465 §2.1, RFC 5681 §3.1).
    fn grow_congestion_avoidance(&mut self, acked: u32) {
        self.bytes_acked = self.bytes_acked.saturating_add(acked);
        if self.bytes_acked >= self.cwnd {
            self.bytes_acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(self.mss);
        }
    }
}

impl CongestionControl for NewReno {
    fn on_ack(&mut self, _now: Instant, acked_bytes: u32, _srtt: Option<Duration>) {
        if self.in_slow_start() {
            self.grow_slow_start(acked_bytes);
        } else {
            self.grow_congestion_avoidance(acked_bytes);
        }
    }

    /// ssthresh = max(FlightSize/2, 2*SMSS); cwnd = ssthresh (RFC 5681 §3.2 steps 2-3, without the +3 inflation the caller applies).
    fn on_congestion_event(&mut self, _now: Instant, flight_size: u32) {
        self.hystart.on_congestion();
        self.ssthresh = reno_ssthresh(flight_size, self.mss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }

    /// ssthresh = max(FlightSize/2, 2*SMSS); cwnd = LW = 1 SMSS (RFC 5681 §3.1 eq. 4 and following).
    fn on_retransmission_timeout(&mut self, _now: Instant, flight_size: u32) {
        self.hystart.on_congestion();
        self.ssthresh = reno_ssthresh(flight_size, self.mss);
        self.cwnd = self.mss;
        self.bytes_acked = 0;
    }

    /// cwnd = min(cwnd, RW) with RW = IW (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, _now: Instant, _rto: Duration) {
        self.cwnd = restart_window(self.cwnd, initial_window(self.mss, self.iw_segments));
        self.bytes_acked = 0;
        self.hystart.on_idle_restart();
    }

    fn set_mss(&mut self, mss: u32) {
        self.mss = mss.max(1);
    }

    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd;
        self.bytes_acked = 0;
    }

    fn on_rtt_sample(&mut self, rtt: Duration) {
        self.hystart.on_rtt_sample(rtt);
    }

    /// After CSS_ROUNDS of CSS, ssthresh = cwnd: congestion avoidance (RFC 9406 §4.2).
    fn on_ack_round(&mut self, ack: SeqNum, snd_nxt: SeqNum) {
        if self.hystart.on_ack_round(ack, snd_nxt) == RoundOutcome::EnterCongestionAvoidance {
            self.ssthresh = self.cwnd;
            self.bytes_acked = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;
    const T: Instant = Instant::ZERO;

    #[test]
    fn slow_start_grows_by_acked_bytes_capped_at_two_mss() {
        let mut c = NewReno::with_hystart(MSS, 10, false);
        let w0 = c.cwnd();
        c.on_ack(T, 500, None);
        assert_eq!(c.cwnd(), w0 + 500);
        // A stretch ACK of 5 segments counts at most L = 2*SMSS (RFC 3465).
        c.on_ack(T, 5 * MSS, None);
        assert_eq!(c.cwnd(), w0 + 500 + 2 * MSS);
    }

    #[test]
    fn slow_start_doubles_per_rtt_with_per_segment_acks() {
        let mut c = NewReno::new(MSS, 10);
        let w0 = c.cwnd();
        for _ in 0..(w0 / MSS) {
            c.on_ack(T, MSS, None);
        }
        assert_eq!(c.cwnd(), 2 * w0);
    }

    #[test]
    fn congestion_avoidance_adds_one_mss_per_window() {
        let mut c = NewReno::new(MSS, 10);
        c.on_congestion_event(T, 40 * MSS); // ssthresh = cwnd = 20 MSS
        assert_eq!(c.cwnd(), 20 * MSS);
        assert!(!c.in_slow_start());
        // One RTT: 20 segments ACKed -> +1 MSS.
        for _ in 0..19 {
            c.on_ack(T, MSS, None);
        }
        assert_eq!(c.cwnd(), 20 * MSS);
        c.on_ack(T, MSS, None);
        assert_eq!(c.cwnd(), 21 * MSS);
        // Next RTT takes 21 segments.
        for _ in 0..21 {
            c.on_ack(T, MSS, None);
        }
        assert_eq!(c.cwnd(), 22 * MSS);
    }

    #[test]
    fn loss_halves_flight_size_with_two_mss_floor() {
        let mut c = NewReno::new(MSS, 10);
        c.on_congestion_event(T, 30 * MSS);
        assert_eq!(c.ssthresh(), 15 * MSS);
        assert_eq!(c.cwnd(), 15 * MSS);
        c.on_congestion_event(T, MSS);
        assert_eq!(c.ssthresh(), 2 * MSS);
    }

    #[test]
    fn rto_collapses_cwnd_to_one_segment() {
        let mut c = NewReno::new(MSS, 10);
        for _ in 0..20 {
            c.on_ack(T, MSS, None);
        }
        c.on_retransmission_timeout(T, 24 * MSS);
        assert_eq!(c.cwnd(), MSS);
        assert_eq!(c.ssthresh(), 12 * MSS);
        assert!(c.in_slow_start());
    }

    #[test]
    fn idle_restart_limits_cwnd_to_initial_window() {
        let mut c = NewReno::new(MSS, 10);
        for _ in 0..30 {
            c.on_ack(T, MSS, None);
        }
        assert!(c.cwnd() > 10 * MSS);
        c.on_idle_restart(T, Duration::from_secs(1));
        assert_eq!(c.cwnd(), 10 * MSS);
        // A window already below IW is kept.
        c.on_retransmission_timeout(T, 4 * MSS);
        c.on_idle_restart(T, Duration::from_secs(1));
        assert_eq!(c.cwnd(), MSS);
    }

    #[test]
    fn extreme_inputs_saturate() {
        let mut c = NewReno::new(0, u32::MAX);
        for _ in 0..10 {
            c.on_ack(T, u32::MAX, None);
        }
        c.set_cwnd(u32::MAX - 1);
        c.on_congestion_event(T, 0);
        c.on_ack(T, u32::MAX, None);
        c.on_ack(T, u32::MAX, None);
        assert!(c.cwnd() >= 2);
    }
}
