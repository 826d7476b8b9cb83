//! HyStart++ (RFC 9406): leave the initial slow start when the per-round
//! minimum RTT rises, before the queue overflows, through a few rounds of
//! Conservative Slow Start (CSS) that undo a premature exit.
//!
//! Both controllers embed one [`HyStart`]; it only decides slow-start growth
//! and when to end slow start, the controller keeps cwnd and ssthresh. State
//! is 16 bytes (RTTs in u16 units of 100 µs, a sequence-number round end)
//! because the controller lives in the always-present part of a connection.

use super::slow_start_increase;
use crate::tcp::seq::SeqNum;
use crate::time::Duration;

/// RTTs are kept in u16 units of 100 µs (6.5 s at most, saturating): finer
/// than the 1 ms timestamp clock most samples come from, half the bytes of u32.
pub const RTT_UNIT_US: u64 = 100;
/// Lower bound of the RTT increase that ends slow start: 4 ms (RFC 9406 §4.3), in RTT units.
pub const MIN_RTT_THRESH: u16 = 40;
/// Upper bound of that increase: 16 ms (RFC 9406 §4.3), in RTT units.
pub const MAX_RTT_THRESH: u16 = 160;
/// The threshold is lastRoundMinRTT / MIN_RTT_DIVISOR within the bounds (RFC 9406 §4.3).
pub const MIN_RTT_DIVISOR: u16 = 8;
/// RTT samples a round needs before its minimum is trusted (RFC 9406 §4.3).
pub const N_RTT_SAMPLE: u8 = 8;
/// CSS grows cwnd at 1/4 of the slow-start rate (RFC 9406 §4.3).
pub const CSS_GROWTH_DIVISOR: u32 = 4;
/// CSS rounds before congestion avoidance (RFC 9406 §4.3).
pub const CSS_ROUNDS: u8 = 5;
/// Per-ACK growth cap in segments for a sender that does not pace (RFC 9406 §4.3: L = 8).
pub const NON_PACED_L: u32 = 8;
/// "Infinity" for the RTT minima.
const NO_RTT: u16 = u16::MAX;

/// Where the initial slow start is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// HyStart++ configured off: standard slow start (RFC 5681, RFC 3465).
    Off,
    /// Initial slow start under HyStart++ watch (RFC 9406 §4.2).
    SlowStart,
    /// Conservative Slow Start (RFC 9406 §4.2).
    Css,
    /// The initial slow start ended (loss, timeout or CSS done): standard behaviour from now on.
    Done,
}

/// RFC 9406 per-connection state.
#[derive(Clone, Debug)]
pub struct HyStart {
    /// The round ends once the cumulative ACK reaches this SND.NXT (RFC 9406 §4.2 windowEnd).
    window_end: SeqNum,
    /// RTT minima in [`RTT_UNIT_US`] units, [`NO_RTT`] for infinity.
    last_round_min_rtt: u16,
    current_round_min_rtt: u16,
    css_baseline_min_rtt: u16,
    rtt_sample_count: u8,
    css_round_count: u8,
    /// Whether `window_end` holds a round end yet.
    round_open: bool,
    phase: Phase,
}

/// What a round boundary asks of the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundOutcome {
    Continue,
    /// CSS_ROUNDS rounds of CSS are over: set ssthresh = cwnd (RFC 9406 §4.2).
    EnterCongestionAvoidance,
}

impl HyStart {
    /// HyStart++ for the initial slow start, or standard slow start if `enabled` is false.
    pub fn new(enabled: bool) -> Self {
        HyStart {
            window_end: SeqNum(0),
            last_round_min_rtt: NO_RTT,
            current_round_min_rtt: NO_RTT,
            css_baseline_min_rtt: NO_RTT,
            rtt_sample_count: 0,
            css_round_count: 0,
            round_open: false,
            phase: if enabled {
                Phase::SlowStart
            } else {
                Phase::Off
            },
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether HyStart++ is watching (slow start or CSS).
    fn active(&self) -> bool {
        matches!(self.phase, Phase::SlowStart | Phase::Css)
    }

    /// cwnd increase for an ACK of `acked` bytes in slow start: min(N, L*SMSS),
    /// divided by CSS_GROWTH_DIVISOR in CSS (RFC 9406 §4.2); outside HyStart++
    /// the RFC 3465 L = 2 rule.
    pub fn slow_start_increase(&self, acked: u32, mss: u32) -> u32 {
        let capped = acked.min(mss.saturating_mul(NON_PACED_L));
        match self.phase {
            Phase::SlowStart => capped,
            Phase::Css => capped / CSS_GROWTH_DIVISOR,
            Phase::Off | Phase::Done => slow_start_increase(acked, mss),
        }
    }

    /// A cumulative ACK up to `ack` with `snd_nxt` sent: a round ends when the
    /// ACK reaches the SND.NXT recorded at its start, and the next begins (RFC 9406 §4.2).
    pub fn on_ack_round(&mut self, ack: SeqNum, snd_nxt: SeqNum) -> RoundOutcome {
        if !self.active() {
            return RoundOutcome::Continue;
        }
        if self.round_open && ack < self.window_end {
            return RoundOutcome::Continue;
        }
        if self.round_open && self.phase == Phase::Css {
            self.css_round_count = self.css_round_count.saturating_add(1);
            if self.css_round_count >= CSS_ROUNDS {
                self.phase = Phase::Done;
                return RoundOutcome::EnterCongestionAvoidance;
            }
        }
        self.start_round(snd_nxt);
        RoundOutcome::Continue
    }

    /// lastRoundMinRTT = currentRoundMinRTT, currentRoundMinRTT = infinity, rttSampleCount = 0 (RFC 9406 §4.2).
    fn start_round(&mut self, snd_nxt: SeqNum) {
        self.window_end = snd_nxt;
        self.round_open = true;
        self.last_round_min_rtt = self.current_round_min_rtt;
        self.current_round_min_rtt = NO_RTT;
        self.rtt_sample_count = 0;
    }

    /// One RTT sample: track the round's minimum, then test for an exit to CSS
    /// or, in CSS, for a spurious exit (RFC 9406 §4.2).
    pub fn on_rtt_sample(&mut self, rtt: Duration) {
        // Before the first data ACK opens a round (e.g. the SYN's RTT, small
        // packets without queueing) a sample would be a misleading baseline.
        if !self.active() || !self.round_open {
            return;
        }
        let units = u16::try_from(rtt.as_micros() / RTT_UNIT_US)
            .unwrap_or(NO_RTT - 1)
            .min(NO_RTT - 1);
        self.current_round_min_rtt = self.current_round_min_rtt.min(units);
        self.rtt_sample_count = self.rtt_sample_count.saturating_add(1);
        if self.rtt_sample_count < N_RTT_SAMPLE {
            return;
        }
        match self.phase {
            Phase::SlowStart => self.exit_to_css_on_delay_increase(),
            Phase::Css => self.resume_slow_start_if_spurious(),
            Phase::Off | Phase::Done => {}
        }
    }

    /// RttThresh = clamp(lastRoundMinRTT / 8, 4 ms, 16 ms); enter CSS when
    /// currentRoundMinRTT >= lastRoundMinRTT + RttThresh (RFC 9406 §4.2).
    fn exit_to_css_on_delay_increase(&mut self) {
        let last = self.last_round_min_rtt;
        let current = self.current_round_min_rtt;
        if last == NO_RTT || current == NO_RTT {
            return;
        }
        let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
        if current >= last.saturating_add(thresh) {
            self.css_baseline_min_rtt = current;
            self.css_round_count = 0;
            self.phase = Phase::Css;
        }
    }

    /// currentRoundMinRTT < cssBaselineMinRtt: the exit was spurious, resume slow start (RFC 9406 §4.2).
    fn resume_slow_start_if_spurious(&mut self) {
        if self.current_round_min_rtt < self.css_baseline_min_rtt {
            self.css_baseline_min_rtt = NO_RTT;
            self.phase = Phase::SlowStart;
        }
    }

    /// Loss or timeout ends HyStart++ for the connection; later slow starts
    /// run to the ssthresh learnt (RFC 9406 §4.2, §4.3).
    pub fn on_congestion(&mut self) {
        if self.phase != Phase::Off {
            self.phase = Phase::Done;
        }
    }

    /// Restart after idle, still in the initial slow start: rounds and RTT
    /// minima start afresh (RFC 9406 §4.3 allows HyStart++ for the restart window).
    pub fn on_idle_restart(&mut self) {
        if self.active() {
            *self = HyStart::new(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Feeds one round: a round boundary at `ack`, then `n` samples of `rtt`.
    fn round(h: &mut HyStart, ack: u32, next: u32, n: u8, rtt: Duration) -> RoundOutcome {
        let out = h.on_ack_round(SeqNum(ack), SeqNum(next));
        for _ in 0..n {
            h.on_rtt_sample(rtt);
        }
        out
    }

    #[test]
    fn threshold_is_clamped_between_4_and_16_ms() {
        // 20 ms base: threshold 4 ms (20/8 = 2.5 is raised to 4).
        let mut h = HyStart::new(true);
        round(&mut h, 0, 100, 8, ms(20));
        round(&mut h, 100, 200, 8, ms(23));
        assert_eq!(h.phase(), Phase::SlowStart);
        round(&mut h, 200, 300, 8, ms(27));
        assert_eq!(h.phase(), Phase::Css);
        // 400 ms base: threshold 16 ms, not 50.
        let mut h = HyStart::new(true);
        round(&mut h, 0, 100, 8, ms(400));
        round(&mut h, 100, 200, 8, ms(415));
        assert_eq!(h.phase(), Phase::SlowStart);
        round(&mut h, 200, 300, 8, ms(431));
        assert_eq!(h.phase(), Phase::Css);
    }

    #[test]
    fn fewer_than_n_rtt_samples_do_not_exit() {
        let mut h = HyStart::new(true);
        round(&mut h, 0, 100, 8, ms(20));
        round(&mut h, 100, 200, N_RTT_SAMPLE - 1, ms(60));
        assert_eq!(h.phase(), Phase::SlowStart);
        h.on_rtt_sample(ms(60));
        assert_eq!(h.phase(), Phase::Css);
    }

    #[test]
    fn round_ends_only_when_ack_passes_window_end() {
        let mut h = HyStart::new(true);
        round(&mut h, 0, 1000, 8, ms(20));
        // ACKs below 1000 stay in the first round: its minimum stays 20 ms.
        round(&mut h, 500, 5000, 8, ms(40));
        assert_eq!(h.phase(), Phase::SlowStart);
        // ACK 1000 starts round two (last = 20 ms): 40 ms is an increase.
        round(&mut h, 1000, 5000, 8, ms(40));
        assert_eq!(h.phase(), Phase::Css);
    }

    #[test]
    fn samples_before_the_first_round_are_not_a_baseline() {
        let mut h = HyStart::new(true);
        // A handshake RTT of 10 ms, then data rounds at 20 ms: no exit.
        h.on_rtt_sample(ms(10));
        round(&mut h, 0, 100, 8, ms(20));
        round(&mut h, 100, 200, 8, ms(20));
        assert_eq!(h.phase(), Phase::SlowStart);
    }

    #[test]
    fn disabled_uses_standard_slow_start() {
        let mut h = HyStart::new(false);
        round(&mut h, 0, 100, 8, ms(20));
        round(&mut h, 100, 200, 8, ms(200));
        assert_eq!(h.phase(), Phase::Off);
        assert_eq!(h.slow_start_increase(10 * MSS, MSS), 2 * MSS);
        assert_eq!(
            HyStart::new(true).slow_start_increase(10 * MSS, MSS),
            8 * MSS
        );
    }

    #[test]
    fn extreme_samples_saturate() {
        let mut h = HyStart::new(true);
        for i in 0..300u32 {
            h.on_ack_round(SeqNum(i.wrapping_mul(0x8000_0001)), SeqNum(i));
            h.on_rtt_sample(Duration::MAX);
            h.on_rtt_sample(Duration::ZERO);
        }
        // Still watching (no loss was reported), and growth saturates.
        assert!(matches!(h.phase(), Phase::SlowStart | Phase::Css));
        assert!(h.slow_start_increase(u32::MAX, u32::MAX) >= u32::MAX / CSS_GROWTH_DIVISOR);
    }
}

/// HyStart++ as both controllers apply it.
#[cfg(test)]
mod controller_tests {
    use super::*;
    use crate::tcp::cc::{Congestion, CongestionControl, Controller};
    use crate::time::Instant;

    const MSS: u32 = 1000;
    const KINDS: [Congestion; 2] = [Congestion::NewReno, Congestion::Cubic];

    /// A controller and a sender's sequence space: one ACK per segment,
    /// rounds of one cwnd each, every ACK carrying an RTT sample.
    struct Sim {
        c: Controller,
        una: u32,
        nxt: u32,
        /// The sender's own idea of where the round ends, as the connection would record it.
        round_end: u32,
        now: Instant,
    }

    impl Sim {
        fn new(kind: Congestion, hystart: bool) -> Sim {
            let mut c = Controller::with_hystart(kind, MSS, 10, hystart);
            let nxt = c.cwnd();
            // The first ACK (of the SYN) opens the first round.
            c.on_ack_round(SeqNum(0), SeqNum(nxt));
            Sim {
                c,
                una: 0,
                nxt,
                round_end: nxt,
                now: Instant::ZERO,
            }
        }

        /// ACKs one segment with an RTT sample, in the connection's order
        /// (sample, round marker, growth); the freed window is sent at once.
        /// Returns the cwnd growth.
        fn ack(&mut self, rtt: Duration) -> u32 {
            let before = self.c.cwnd();
            self.una += MSS;
            self.now += Duration::from_micros(100);
            self.c.on_rtt_sample(rtt);
            self.c.on_ack_round(SeqNum(self.una), SeqNum(self.nxt));
            if self.una >= self.round_end {
                self.round_end = self.nxt;
            }
            self.c.on_ack(self.now, MSS, Some(rtt));
            self.nxt = self.nxt.max(self.una + self.c.cwnd());
            self.c.cwnd() - before
        }

        /// ACKs up to and including the ACK that ends the current round.
        fn round(&mut self, rtt: Duration) {
            let end = self.round_end;
            while self.una < end {
                self.ack(rtt);
            }
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn rtt_increase_of_the_threshold_enters_css() {
        for kind in KINDS {
            let mut s = Sim::new(kind, true);
            s.round(ms(40));
            s.round(ms(40));
            // 40 ms / 8 = 5 ms threshold: 44 ms is below it.
            s.round(ms(44));
            assert_eq!(s.c.hystart_phase(), Phase::SlowStart, "{kind:?}");
            // Against the 44 ms round: threshold 5.5 ms, 50 ms is above it.
            s.round(ms(50));
            assert_eq!(s.c.hystart_phase(), Phase::Css, "{kind:?}");
            // Still below ssthresh: CSS is slow start at a lower rate.
            assert_eq!(s.c.ssthresh(), u32::MAX);
            // Without HyStart++ the same RTTs change nothing.
            let mut s = Sim::new(kind, false);
            for rtt in [40, 40, 44, 50, 60] {
                s.round(ms(rtt));
            }
            assert_eq!(s.c.hystart_phase(), Phase::Off);
            assert_eq!(s.c.ssthresh(), u32::MAX);
        }
    }

    #[test]
    fn rtt_falling_in_css_resumes_slow_start() {
        for kind in KINDS {
            let mut s = Sim::new(kind, true);
            s.round(ms(40));
            s.round(ms(50));
            assert_eq!(s.c.hystart_phase(), Phase::Css, "{kind:?}");
            // The next round's minimum is below the CSS baseline (50 ms): spurious exit.
            s.round(ms(45));
            assert_eq!(s.c.hystart_phase(), Phase::SlowStart, "{kind:?}");
            assert_eq!(s.ack(ms(45)), MSS, "full slow-start growth again");
            assert_eq!(s.c.ssthresh(), u32::MAX);
        }
    }

    #[test]
    fn css_grows_at_a_quarter_of_slow_start() {
        for kind in KINDS {
            let mut s = Sim::new(kind, true);
            s.round(ms(40));
            assert_eq!(
                s.ack(ms(40)),
                MSS,
                "{kind:?} slow start: one MSS per MSS acked"
            );
            s.round(ms(40));
            s.round(ms(50));
            assert_eq!(s.c.hystart_phase(), Phase::Css);
            assert_eq!(s.ack(ms(50)), MSS / CSS_GROWTH_DIVISOR, "{kind:?} CSS");
            // A stretch ACK is capped at L = 8 segments, then divided.
            let before = s.c.cwnd();
            s.c.on_ack(s.now, 20 * MSS, Some(ms(50)));
            assert_eq!(s.c.cwnd() - before, 8 * MSS / CSS_GROWTH_DIVISOR);
        }
    }

    #[test]
    fn css_rounds_end_in_congestion_avoidance() {
        for kind in KINDS {
            let mut s = Sim::new(kind, true);
            s.round(ms(40));
            s.round(ms(50));
            assert_eq!(s.c.hystart_phase(), Phase::Css);
            // The round CSS was entered in counts as the first CSS round.
            for i in 0..CSS_ROUNDS - 2 {
                s.round(ms(50));
                assert_eq!(s.c.hystart_phase(), Phase::Css, "{kind:?} round {i}");
                assert_eq!(s.c.ssthresh(), u32::MAX);
            }
            // The ACK that ends the last CSS round sets ssthresh = cwnd.
            s.round(ms(50));
            assert_eq!(s.c.hystart_phase(), Phase::Done, "{kind:?}");
            assert!(s.c.ssthresh() < u32::MAX);
            let w = s.c.cwnd();
            assert!(s.c.ssthresh() <= w && w - s.c.ssthresh() <= MSS);
            // Congestion avoidance: a whole round grows cwnd by about one MSS, not 1/4 of a window.
            s.round(ms(50));
            assert!(
                s.c.cwnd() - w <= 2 * MSS,
                "{kind:?}: {} -> {}",
                w,
                s.c.cwnd()
            );
        }
    }

    #[test]
    fn loss_in_css_is_loss_in_slow_start() {
        for kind in KINDS {
            let mut s = Sim::new(kind, true);
            s.round(ms(40));
            s.round(ms(50));
            assert_eq!(s.c.hystart_phase(), Phase::Css);
            let cwnd = s.c.cwnd();
            let mut plain = Controller::with_hystart(kind, MSS, 10, false);
            plain.set_cwnd(cwnd);
            s.c.on_congestion_event(s.now, cwnd);
            plain.on_congestion_event(s.now, cwnd);
            assert_eq!(
                (s.c.cwnd(), s.c.ssthresh()),
                (plain.cwnd(), plain.ssthresh())
            );
            assert_eq!(s.c.hystart_phase(), Phase::Done, "{kind:?}");
            // Later slow starts (after an RTO) are standard: L = 2, no CSS.
            s.c.on_retransmission_timeout(s.now, cwnd);
            s.c.on_ack(s.now, 10 * MSS, Some(ms(50)));
            assert_eq!(s.c.cwnd(), 3 * MSS);
        }
    }
}
