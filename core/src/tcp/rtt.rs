//! Retransmission timeout estimation (RFC 6298).
//!
//! Integer microseconds throughout. Karn's rule (RFC 6298 §3: no samples from
//! retransmitted segments unless timestamps disambiguate) is the caller's job.

use crate::time::Duration;

/// Clock granularity G (RFC 6298 §2): we run on microseconds, but 1 ms keeps
/// the variance term from collapsing to zero on very stable paths.
const CLOCK_GRANULARITY_US: u64 = 1_000;
/// K (RFC 6298 §2).
const K: u64 = 4;
/// Most doublings tracked; 2^32 times any RTO is beyond any max_rto anyway.
const MAX_BACKOFF_SHIFT: u8 = 32;
/// `srtt_us` before the first sample.
const NO_SAMPLE: u32 = u32::MAX;

/// A duration in whole microseconds, saturated to what 32 bits hold (71.5 min):
/// RTT state is kept in u32 so an idle connection stays small. RTTs, RTOs and
/// their bounds beyond 71 minutes are clamped to that.
fn us32(us: u64) -> u32 {
    u32::try_from(us)
        .unwrap_or(NO_SAMPLE - 1)
        .min(NO_SAMPLE - 1)
}

/// Smoothed RTT, RTT variance and the resulting retransmission timeout.
#[derive(Clone, Debug)]
pub struct RttEstimator {
    /// [`NO_SAMPLE`] until the first sample.
    srtt_us: u32,
    rttvar_us: u32,
    initial_rto_us: u32,
    min_rto_us: u32,
    max_rto_us: u32,
    backoff_shift: u8,
}

impl RttEstimator {
    /// A fresh estimator: RTO is `initial_rto` until the first sample (RFC 6298 §2.1).
    pub fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        let min = us32(min_rto.as_micros());
        // A max below min would make clamping ill-defined; min wins.
        let max = us32(max_rto.as_micros()).max(min);
        RttEstimator {
            srtt_us: NO_SAMPLE,
            rttvar_us: 0,
            initial_rto_us: us32(initial_rto.as_micros()),
            min_rto_us: min,
            max_rto_us: max,
            backoff_shift: 0,
        }
    }

    /// Take one RTT measurement and clear any backoff (RFC 6298 §2.2, §2.3, §5.7).
    pub fn on_sample(&mut self, rtt: Duration) {
        let r = u64::from(us32(rtt.as_micros()));
        if self.srtt_us == NO_SAMPLE {
            self.first_sample(r);
        } else {
            self.subsequent_sample(u64::from(self.srtt_us), r);
        }
        // A fresh measurement supersedes the backed-off value (RFC 6298 §5.7 note).
        self.backoff_shift = 0;
    }

    /// SRTT <- R, RTTVAR <- R/2 (RFC 6298 §2.2).
    fn first_sample(&mut self, r: u64) {
        self.srtt_us = us32(r);
        self.rttvar_us = us32(r / 2);
    }

    /// RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|; SRTT <- 7/8 SRTT + 1/8 R' (RFC 6298 §2.3).
    fn subsequent_sample(&mut self, srtt: u64, r: u64) {
        let err = srtt.abs_diff(r);
        // Inputs are below 2^32, so u64 cannot overflow here.
        let var = (3 * u64::from(self.rttvar_us) + err) / 4;
        let s = (7 * srtt + r) / 8;
        self.rttvar_us = us32(var);
        self.srtt_us = us32(s);
    }

    /// The first sample after a spurious timeout (RFC 4015 §3 step 5):
    /// SRTT <- max(SRTT_prev, R), RTTVAR <- max(RTTVAR_prev, R/2), where
    /// SRTT_prev is SRTT + 2G from before the timeout; ends any backoff.
    pub fn rebase_after_spurious_timeout(
        &mut self,
        srtt_prev_us: u32,
        rttvar_prev_us: u32,
        rtt: Duration,
    ) {
        let r = us32(rtt.as_micros());
        let prev = us32(u64::from(srtt_prev_us).saturating_add(2 * CLOCK_GRANULARITY_US));
        self.srtt_us = prev.max(r);
        self.rttvar_us = rttvar_prev_us.max(r / 2);
        self.backoff_shift = 0;
    }

    /// RTO before backoff: SRTT + max(G, K*RTTVAR), or the initial RTO (RFC 6298 §2.1-2.3).
    fn base_rto_us(&self) -> u64 {
        if self.srtt_us == NO_SAMPLE {
            return u64::from(self.initial_rto_us);
        }
        u64::from(self.srtt_us)
            .saturating_add(CLOCK_GRANULARITY_US.max(K.saturating_mul(u64::from(self.rttvar_us))))
    }

    /// Current RTO: base value, doubled per backoff, clamped to [min, max] (RFC 6298 §2.4, §2.5, §5.5).
    pub fn rto(&self) -> Duration {
        let factor = 1u64 << self.backoff_shift.min(MAX_BACKOFF_SHIFT);
        let backed = self.base_rto_us().saturating_mul(factor);
        Duration::from_micros(backed.clamp(u64::from(self.min_rto_us), u64::from(self.max_rto_us)))
    }

    /// Double the RTO after a retransmission timeout, up to max_rto (RFC 6298 §5.5).
    pub fn backoff(&mut self) {
        if self.rto().as_micros() < u64::from(self.max_rto_us) {
            self.backoff_shift = (self.backoff_shift + 1).min(MAX_BACKOFF_SHIFT);
        }
    }

    /// The upper bound of the RTO (RFC 6298 §2.5); connections cap their own
    /// backed-off RTO with it too instead of keeping a copy.
    pub fn max_rto(&self) -> Duration {
        Duration::from_micros(u64::from(self.max_rto_us))
    }

    /// Smoothed RTT, `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        (self.srtt_us != NO_SAMPLE).then(|| Duration::from_micros(u64::from(self.srtt_us)))
    }

    /// RTT variance (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        Duration::from_micros(u64::from(self.rttvar_us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn initial_rto_before_any_sample() {
        let e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        assert_eq!(e.srtt(), None);
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        let mut e = est();
        e.on_sample(Duration::from_millis(100));
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        // 100 + 4*50 = 300 ms
        assert_eq!(e.rto(), Duration::from_millis(300));
    }

    #[test]
    fn subsequent_sample_uses_alpha_beta() {
        let mut e = est();
        e.on_sample(Duration::from_millis(100));
        e.on_sample(Duration::from_millis(180));
        // rttvar = 3/4*50 + 1/4*80 = 57.5 ms; srtt = 7/8*100 + 1/8*180 = 110 ms
        assert_eq!(e.rttvar(), Duration::from_micros(57_500));
        assert_eq!(e.srtt(), Some(Duration::from_millis(110)));
        assert_eq!(e.rto(), Duration::from_micros(110_000 + 4 * 57_500));
    }

    #[test]
    fn rto_clamped_to_min() {
        let mut e = est();
        for _ in 0..50 {
            e.on_sample(Duration::from_millis(1));
        }
        assert_eq!(e.rto(), Duration::from_millis(200));
    }

    #[test]
    fn granularity_floor_applies_when_variance_vanishes() {
        let mut e = RttEstimator::new(
            Duration::from_secs(1),
            Duration::ZERO,
            Duration::from_secs(60),
        );
        for _ in 0..200 {
            e.on_sample(Duration::from_millis(10));
        }
        assert_eq!(e.rttvar(), Duration::ZERO);
        assert_eq!(e.rto(), Duration::from_millis(11));
    }

    #[test]
    fn rto_clamped_to_max() {
        let mut e = est();
        e.on_sample(Duration::from_secs(100));
        assert_eq!(e.rto(), Duration::from_secs(60));
    }

    #[test]
    fn backoff_doubles_up_to_max_and_sample_resets() {
        let mut e = est();
        e.on_sample(Duration::from_millis(100));
        let base = e.rto();
        e.backoff();
        assert_eq!(e.rto(), base.saturating_mul(2));
        e.backoff();
        assert_eq!(e.rto(), base.saturating_mul(4));
        for _ in 0..100 {
            e.backoff();
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
        e.on_sample(Duration::from_millis(100));
        assert!(e.rto() < Duration::from_secs(1));
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let mut e = RttEstimator::new(Duration::MAX, Duration::MAX, Duration::ZERO);
        e.on_sample(Duration::MAX);
        e.on_sample(Duration::ZERO);
        e.on_sample(Duration::MAX);
        for _ in 0..100 {
            e.backoff();
        }
        // Everything is kept in 32 bits of microseconds: the bounds clamp there.
        let cap = Duration::from_micros(u64::from(NO_SAMPLE - 1));
        assert_eq!(e.rto(), cap);
        assert!(e.srtt().is_some_and(|s| s <= cap));
    }
}
