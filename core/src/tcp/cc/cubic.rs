//! CUBIC congestion control (RFC 9438).
//!
//! Windows are kept in bytes at the interface; the cubic function works in
//! segments and seconds as in the RFC, in `f64`. `core` has no `cbrt`, so
//! [`cube_root`] is a Newton iteration.

use super::hystart::{HyStart, Phase, RoundOutcome};
use super::{initial_window, restart_window, CongestionControl};
use crate::tcp::seq::SeqNum;
use crate::time::{Duration, Instant};

/// C (RFC 9438 §5.1), segments / s^3.
const C: f64 = 0.4;
/// beta_cubic (RFC 9438 §4.6).
const BETA: f64 = 0.7;
/// alpha_cubic = 3 (1 - beta) / (1 + beta) (RFC 9438 §4.3).
const ALPHA_RENO_FRIENDLY: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// Cube root of a non-negative finite number (Newton's method; 0 for anything else).
pub fn cube_root(x: f64) -> f64 {
    // Rejects NaN, negatives and infinity: none arises from our inputs.
    if !(x > 0.0 && x < f64::MAX) {
        return 0.0;
    }
    // Start above the root so Newton descends monotonically.
    let mut y = if x > 1.0 { x } else { 1.0 };
    for _ in 0..200 {
        let next = (2.0 * y + x / (y * y)) / 3.0;
        if next >= y {
            break;
        }
        y = next;
    }
    y
}

/// The current congestion-avoidance epoch (RFC 9438 §4.2).
#[derive(Clone, Copy, Debug)]
struct Epoch {
    /// [`NO_EPOCH`] when none runs (a sentinel, not `Option`: saves 8 bytes
    /// of the always-present connection state).
    start: Instant,
    /// K in seconds.
    k: f64,
    /// W_est in segments (RFC 9438 §4.3).
    w_est: f64,
}

/// `Epoch::start` while no epoch runs.
const NO_EPOCH: Instant = Instant::MAX;

impl Epoch {
    const NONE: Epoch = Epoch {
        start: NO_EPOCH,
        k: 0.0,
        w_est: 0.0,
    };
}

/// RFC 9438 CUBIC state.
#[derive(Clone, Debug)]
pub struct Cubic {
    mss: u32,
    iw_segments: u32,
    cwnd: u32,
    ssthresh: u32,
    /// W_max in segments: window just before the last reduction (after fast convergence).
    w_max: f64,
    /// cwnd_prior in segments (RFC 9438 §4.3: alpha becomes 1 once W_est
    /// reaches it); only compared, so f32 (keeps the controller at 72 bytes).
    cwnd_prior: f32,
    epoch: Epoch,
    /// Sub-byte growth carried between ACKs (f32: below one byte, packs with the u32s).
    carry: f32,
    /// Initial slow start exit (RFC 9406).
    hystart: HyStart,
}

impl Cubic {
    pub fn new(mss: u32, initial_window_segments: u32) -> Self {
        Self::with_hystart(mss, initial_window_segments, true)
    }

    /// As [`Cubic::new`], with HyStart++ (RFC 9406) on or off.
    pub fn with_hystart(mss: u32, initial_window_segments: u32, hystart: bool) -> Self {
        let mss = mss.max(1);
        Cubic {
            mss,
            iw_segments: initial_window_segments,
            cwnd: initial_window(mss, initial_window_segments),
            ssthresh: u32::MAX,
            w_max: 0.0,
            cwnd_prior: 0.0,
            epoch: Epoch::NONE,
            carry: 0.0,
            hystart: HyStart::new(hystart),
        }
    }

    pub fn hystart_phase(&self) -> Phase {
        self.hystart.phase()
    }

    /// The running epoch, if any.
    fn epoch(&self) -> Option<Epoch> {
        (self.epoch.start != NO_EPOCH).then_some(self.epoch)
    }

    /// Whether cwnd < ssthresh (RFC 9438 §4.10 uses standard slow start).
    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// W_max in segments (for tests and diagnostics).
    pub fn w_max_segments(&self) -> f64 {
        self.w_max
    }

    /// K in seconds of the running epoch, if congestion avoidance has started.
    pub fn k_seconds(&self) -> Option<f64> {
        self.epoch().map(|e| e.k)
    }

    fn segments(&self, bytes: u32) -> f64 {
        bytes as f64 / self.mss as f64
    }

    /// K = cbrt((W_max - cwnd_epoch) / C), zero when starting at or above W_max (RFC 9438 §4.2 eq. 2).
    fn compute_k(w_max: f64, cwnd_epoch: f64) -> f64 {
        if w_max <= cwnd_epoch {
            0.0
        } else {
            cube_root((w_max - cwnd_epoch) / C)
        }
    }

    /// W_cubic(t) = C (t - K)^3 + W_max, in segments (RFC 9438 §4.2 eq. 1).
    fn w_cubic(&self, t: f64, k: f64) -> f64 {
        let d = t - k;
        C * d * d * d + self.w_max
    }

    /// Start a congestion-avoidance epoch at `now` (RFC 9438 §4.2; after RTO §4.8: W_max = cwnd, K = 0).
    fn start_epoch(&mut self, now: Instant) {
        let cwnd = self.segments(self.cwnd);
        if self.w_max < cwnd {
            // Convex start: no known saturation point above us.
            self.w_max = cwnd;
        }
        self.epoch = Epoch {
            start: now,
            k: Self::compute_k(self.w_max, cwnd),
            w_est: cwnd,
        };
        self.carry = 0.0;
    }

    /// Congestion avoidance per ACK: grow toward W_cubic(t + RTT), or W_est in the Reno-friendly region (RFC 9438 §4.2-4.5).
    fn grow_congestion_avoidance(&mut self, now: Instant, acked: u32, srtt: Option<Duration>) {
        if self.epoch().is_none() {
            self.start_epoch(now);
        }
        // An epoch starting at Instant::MAX reads as none: nothing to grow.
        let Some(mut ep) = self.epoch() else {
            return;
        };
        let cwnd = self.segments(self.cwnd);
        let acked_seg = self.segments(acked);
        let t = now.saturating_duration_since(ep.start).as_micros() as f64 / 1e6;
        let rtt = srtt.map_or(0.0, |d| d.as_micros() as f64 / 1e6);

        // §4.3: W_est grows like Reno with alpha_cubic, alpha = 1 past cwnd_prior.
        let alpha = if ep.w_est >= f64::from(self.cwnd_prior) {
            1.0
        } else {
            ALPHA_RENO_FRIENDLY
        };
        if cwnd > 0.0 {
            ep.w_est += alpha * acked_seg / cwnd;
        }
        self.epoch = ep;

        // §4.2: target = W_cubic(t + RTT) clamped to [cwnd, 1.5 cwnd].
        let mut target = self.w_cubic(t + rtt, ep.k);
        if target < cwnd {
            target = cwnd;
        }
        if target > 1.5 * cwnd {
            target = 1.5 * cwnd;
        }

        let new_seg = if self.w_cubic(t, ep.k) < ep.w_est {
            // §4.3 Reno-friendly region: cwnd = W_est.
            if ep.w_est > cwnd {
                ep.w_est
            } else {
                cwnd
            }
        } else if cwnd > 0.0 {
            // §4.4 / §4.5 concave and convex regions: cwnd += (target - cwnd) / cwnd per segment ACKed.
            // A stretch ACK must not carry cwnd past the target.
            let grown = cwnd + (target - cwnd) / cwnd * acked_seg;
            if grown > target {
                target
            } else {
                grown
            }
        } else {
            target
        };
        self.apply_growth(new_seg);
    }

    /// Convert a window in segments back to bytes, carrying fractions.
    fn apply_growth(&mut self, new_seg: f64) {
        let grow = (new_seg * self.mss as f64 - self.cwnd as f64) + f64::from(self.carry);
        if grow >= 1.0 {
            // Saturating cast: `as` clamps out-of-range floats.
            let whole = grow as u64;
            self.carry = (grow - whole as f64) as f32;
            let add = u32::try_from(whole).unwrap_or(u32::MAX);
            self.cwnd = self.cwnd.saturating_add(add);
        } else if grow > 0.0 {
            self.carry = grow as f32;
        }
    }

    /// W_max with fast convergence: cwnd (1 + beta) / 2 if below the last W_max (RFC 9438 §4.7).
    fn update_w_max(&mut self) {
        let cwnd = self.segments(self.cwnd);
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        self.cwnd_prior = cwnd as f32;
    }

    /// ssthresh = max(cwnd * beta_cubic, 2 SMSS) (RFC 9438 §4.6).
    fn beta_ssthresh(&self) -> u32 {
        let v = self.cwnd as f64 * BETA;
        let v = v as u32; // saturating float-to-int cast
        v.max(self.mss.saturating_mul(2))
    }
}

impl CongestionControl for Cubic {
    fn on_ack(&mut self, now: Instant, acked_bytes: u32, srtt: Option<Duration>) {
        if self.in_slow_start() {
            // RFC 9438 §4.10: standard slow start (RFC 5681, RFC 3465 L = 2),
            // or HyStart++ (RFC 9406 §4.2) in the initial one.
            self.cwnd = self
                .cwnd
                .saturating_add(self.hystart.slow_start_increase(acked_bytes, self.mss));
        } else {
            self.grow_congestion_avoidance(now, acked_bytes, srtt);
        }
    }

    /// W_max (fast convergence), ssthresh = cwnd = cwnd * beta_cubic, new epoch at `now` (RFC 9438 §4.6, §4.7).
    fn on_congestion_event(&mut self, now: Instant, _flight_size: u32) {
        self.hystart.on_congestion();
        self.update_w_max();
        self.ssthresh = self.beta_ssthresh();
        self.cwnd = self.ssthresh;
        let cwnd = self.segments(self.cwnd);
        self.epoch = Epoch {
            start: now,
            k: Self::compute_k(self.w_max, cwnd),
            w_est: cwnd,
        };
        self.carry = 0.0;
    }

    /// cwnd = 1 SMSS as in RFC 5681, ssthresh via beta_cubic; the next CA epoch starts with W_max = cwnd, K = 0 (RFC 9438 §4.8).
    fn on_retransmission_timeout(&mut self, _now: Instant, _flight_size: u32) {
        self.hystart.on_congestion();
        self.update_w_max();
        self.ssthresh = self.beta_ssthresh();
        self.cwnd = self.mss;
        // §4.8: W_max is the window at the start of the next CA stage.
        self.w_max = 0.0;
        self.epoch = Epoch::NONE;
        self.carry = 0.0;
    }

    /// cwnd = min(cwnd, IW) (RFC 5681 §4.1); the epoch restarts so idle time does not count as growth time.
    fn on_idle_restart(&mut self, _now: Instant, _rto: Duration) {
        self.cwnd = restart_window(self.cwnd, initial_window(self.mss, self.iw_segments));
        self.epoch = Epoch::NONE;
        self.carry = 0.0;
        self.hystart.on_idle_restart();
    }

    fn set_mss(&mut self, mss: u32) {
        let mss = mss.max(1);
        // W_max and friends are in segments: rescale so they keep meaning the same bytes.
        let scale = self.mss as f64 / mss as f64;
        self.w_max *= scale;
        self.cwnd_prior = (f64::from(self.cwnd_prior) * scale) as f32;
        self.epoch = Epoch::NONE;
        self.mss = mss;
    }

    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd;
        self.carry = 0.0;
    }

    fn on_rtt_sample(&mut self, rtt: Duration) {
        self.hystart.on_rtt_sample(rtt);
    }

    /// After CSS_ROUNDS of CSS, ssthresh = cwnd: congestion avoidance, whose
    /// first epoch starts at W_max = cwnd (RFC 9406 §4.2, RFC 9438 §4.10).
    fn on_ack_round(&mut self, ack: SeqNum, snd_nxt: SeqNum) {
        if self.hystart.on_ack_round(ack, snd_nxt) == RoundOutcome::EnterCongestionAvoidance {
            self.ssthresh = self.cwnd;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn at_ms(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn close(a: f64, b: f64, eps: f64) -> bool {
        let d = a - b;
        d < eps && -d < eps
    }

    #[test]
    fn cube_root_is_accurate() {
        for &x in &[0.001, 0.5, 1.0, 8.0, 27.0, 1000.0, 12345.678, 1e12] {
            let y = cube_root(x);
            assert!(close(y * y * y, x, x * 1e-9 + 1e-12), "cbrt({x}) = {y}");
        }
        assert_eq!(cube_root(0.0), 0.0);
        assert_eq!(cube_root(-5.0), 0.0);
        assert_eq!(cube_root(f64::NAN), 0.0);
        assert_eq!(cube_root(f64::INFINITY), 0.0);
    }

    #[test]
    fn congestion_event_multiplies_by_beta_and_sets_k() {
        let mut c = Cubic::new(MSS, 10);
        c.set_cwnd(100 * MSS);
        c.ssthresh = 50 * MSS; // in CA
        c.on_congestion_event(at_ms(0), 100 * MSS);
        assert_eq!(c.cwnd(), 70 * MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
        assert!(close(c.w_max_segments(), 100.0, 1e-9));
        // K = cbrt(W_max (1 - beta) / C) = cbrt(100 * 0.3 / 0.4) = cbrt(75)
        let k = c.k_seconds().unwrap_or(-1.0);
        assert!(close(k * k * k, 75.0, 1e-6), "K = {k}");
    }

    /// Drive `c` from `from_ms` to `to_ms` acking one cwnd per RTT, segment by segment.
    fn run_rtts(c: &mut Cubic, from_ms: u64, to_ms: u64, rtt_ms: u64) -> u64 {
        let mut now = from_ms;
        while now < to_ms {
            now += rtt_ms;
            let segs = c.cwnd() / MSS;
            for _ in 0..segs {
                c.on_ack(at_ms(now), MSS, Some(Duration::from_millis(rtt_ms)));
            }
        }
        now
    }

    fn after_loss_at(w_max_segments: u32) -> Cubic {
        let mut c = Cubic::new(MSS, 10);
        c.set_cwnd(w_max_segments * MSS);
        c.ssthresh = MSS; // congestion avoidance
        c.on_congestion_event(at_ms(0), w_max_segments * MSS);
        c
    }

    #[test]
    fn window_reaches_w_max_at_k_then_turns_convex() {
        // Large BDP (1000 segments, 100 ms): the cubic curve dominates Reno.
        let mut c = after_loss_at(1000);
        let k = c.k_seconds().unwrap_or(0.0); // cbrt(750) ~ 9.09 s
        let k_ms = (k * 1000.0) as u64;
        let now = run_rtts(&mut c, 0, k_ms - 100, 100);
        let w = c.cwnd() as f64 / MSS as f64;
        // Concave region: just below W_max at K, and never above it.
        assert!(w > 990.0 && w <= 1000.5, "cwnd near K = {w} segments");
        let now = run_rtts(&mut c, now, now + 3000, 100);
        let w2 = c.cwnd() as f64 / MSS as f64;
        let t = now as f64 / 1000.0 + 0.1;
        let expect = C * (t - k) * (t - k) * (t - k) + 1000.0;
        assert!(w2 > 1005.0, "convex growth past W_max: {w2}");
        assert!(
            close(w2, expect, expect * 0.01),
            "cwnd {w2} vs W_cubic {expect}"
        );
    }

    #[test]
    fn window_after_t_matches_formula() {
        let mut c = after_loss_at(1000);
        let k = c.k_seconds().unwrap_or(0.0);
        run_rtts(&mut c, 0, 2000, 100);
        let t = 2.0 + 0.1;
        let expect = C * (t - k) * (t - k) * (t - k) + 1000.0;
        let w = c.cwnd() as f64 / MSS as f64;
        assert!(
            close(w, expect, expect * 0.01),
            "cwnd {w} vs W_cubic(t+RTT) {expect}"
        );
        assert!(w < 1000.0 && w > 700.0);
    }

    #[test]
    fn stretch_ack_does_not_overshoot_target() {
        let mut c = after_loss_at(100);
        // One giant ACK far beyond a window: at most 1.5 * cwnd per RFC 9438 §4.2's target cap.
        c.on_ack(at_ms(50_000), 1000 * MSS, Some(Duration::from_millis(10)));
        assert!(c.cwnd() <= 105 * MSS, "cwnd {}", c.cwnd());
        assert!(c.cwnd() > 70 * MSS);
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        let mut c = Cubic::new(MSS, 10);
        c.set_cwnd(100 * MSS);
        c.ssthresh = 50 * MSS;
        c.on_congestion_event(at_ms(0), 100 * MSS);
        assert!(close(c.w_max_segments(), 100.0, 1e-9));
        // Loss again before regaining W_max: W_max = 70 * (1 + 0.7) / 2 = 59.5.
        c.on_congestion_event(at_ms(100), 70 * MSS);
        assert!(close(c.w_max_segments(), 59.5, 1e-9));
        assert_eq!(c.cwnd(), 49 * MSS);
    }

    #[test]
    fn reno_friendly_region_on_short_rtt() {
        // Small window, tiny RTT: CUBIC would grow slower than Reno, so W_est rules.
        let mut c = after_loss_at(10); // cwnd 7, W_max 10
        let rtt = Duration::from_micros(100);
        let mut now_us = 0u64;
        // Independent model of RFC 9438 §4.3: W_est += alpha / cwnd per segment,
        // alpha = 3(1-b)/(1+b) until W_est reaches cwnd_prior (10), then 1.
        let mut w_est = 7.0f64;
        for _ in 0..30 {
            now_us += 100;
            let segs = c.cwnd() / MSS;
            for _ in 0..segs {
                let cwnd_seg = c.cwnd() as f64 / MSS as f64;
                let alpha = if w_est >= 10.0 { 1.0 } else { 0.3 * 3.0 / 1.7 };
                w_est += alpha / cwnd_seg;
                c.on_ack(Instant::from_micros(now_us), MSS, Some(rtt));
            }
        }
        let w = c.cwnd() as f64 / MSS as f64;
        let t = 0.003 + 0.0001;
        let k = cube_root(3.0 / C);
        let cubic_only = C * (t - k) * (t - k) * (t - k) + 10.0;
        assert!(w > cubic_only + 5.0, "cwnd {w} cubic {cubic_only}");
        assert!(close(w, w_est, 0.01), "cwnd {w} w_est {w_est}");
    }

    #[test]
    fn rto_collapses_and_next_epoch_starts_convex() {
        let mut c = Cubic::new(MSS, 10);
        c.set_cwnd(100 * MSS);
        c.ssthresh = 50 * MSS;
        c.on_retransmission_timeout(at_ms(0), 100 * MSS);
        assert_eq!(c.cwnd(), MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
        // Slow start back to ssthresh.
        let mut now = 0;
        while c.in_slow_start() {
            now += 1;
            c.on_ack(at_ms(now), MSS, Some(Duration::from_millis(10)));
        }
        c.on_ack(at_ms(now + 1), MSS, Some(Duration::from_millis(10)));
        assert_eq!(c.k_seconds(), Some(0.0));
    }

    #[test]
    fn idle_restart_limits_to_iw() {
        let mut c = Cubic::new(MSS, 10);
        c.set_cwnd(50 * MSS);
        c.on_idle_restart(at_ms(0), Duration::from_secs(1));
        assert_eq!(c.cwnd(), 10 * MSS);
        assert!(c.k_seconds().is_none());
    }

    #[test]
    fn slow_start_uses_byte_counting() {
        // Standard slow start: L = 2 (RFC 3465).
        let mut c = Cubic::with_hystart(MSS, 10, false);
        c.on_ack(at_ms(1), 10 * MSS, None);
        assert_eq!(c.cwnd(), 12 * MSS);
        // HyStart++ without pacing: L = 8 (RFC 9406 §4.2).
        let mut c = Cubic::new(MSS, 10);
        c.on_ack(at_ms(1), 10 * MSS, None);
        assert_eq!(c.cwnd(), 18 * MSS);
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let mut c = Cubic::new(0, 0);
        c.set_cwnd(u32::MAX);
        c.on_congestion_event(Instant::MAX, u32::MAX);
        for _ in 0..100 {
            c.on_ack(Instant::MAX, u32::MAX, Some(Duration::MAX));
        }
        c.on_ack(Instant::ZERO, 0, None);
        c.set_mss(u32::MAX);
        c.on_ack(Instant::MAX, u32::MAX, Some(Duration::MAX));
        c.set_cwnd(0);
        c.on_ack(Instant::MAX, u32::MAX, None);
        c.on_retransmission_timeout(Instant::ZERO, 0);
        assert!(c.cwnd() >= 1);
    }
}
