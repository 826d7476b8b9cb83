//! Proportional Rate Reduction for fast recovery (RFC 6937), as a helper the
//! connection may drive during SACK-based loss recovery: it says how many
//! bytes may be sent on each ACK so that, by the end of recovery, the data
//! in flight has shrunk smoothly to ssthresh.

/// PRR state for one recovery episode (RFC 6937 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prr {
    /// Bytes delivered to the receiver since recovery started.
    prr_delivered: u64,
    /// Bytes sent since recovery started.
    prr_out: u64,
    /// FlightSize at the start of recovery.
    recover_fs: u64,
    ssthresh: u64,
}

impl Prr {
    /// Start of recovery: RecoverFS = SND.NXT - SND.UNA, counters zero (RFC 6937 §3 "initialization").
    pub fn start(recover_fs: u64, ssthresh: u32) -> Self {
        Prr {
            prr_delivered: 0,
            prr_out: 0,
            recover_fs: recover_fs.max(1),
            ssthresh: u64::from(ssthresh),
        }
    }

    /// Count bytes (re)transmitted during recovery (RFC 6937 §3 "on any data transmission").
    pub fn on_sent(&mut self, bytes: u64) {
        self.prr_out = self.prr_out.saturating_add(bytes);
    }

    /// Per ACK: `delivered` = change in SND.UNA + change in SACKed bytes;
    /// returns sndcnt, the bytes that may be sent now (RFC 6937 §3, PRR-SSRB).
    /// The caller sets cwnd = pipe + sndcnt.
    pub fn on_ack(&mut self, delivered: u64, pipe: u64, mss: u32) -> u64 {
        self.prr_delivered = self.prr_delivered.saturating_add(delivered);
        if pipe > self.ssthresh {
            self.proportional_sndcnt()
        } else {
            self.slow_start_reduction_bound(delivered, pipe, mss)
        }
    }

    /// sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out (RFC 6937 §3, pipe > ssthresh).
    fn proportional_sndcnt(&self) -> u64 {
        let num = u128::from(self.prr_delivered) * u128::from(self.ssthresh);
        let den = u128::from(self.recover_fs);
        let allowed = num.div_ceil(den);
        let allowed = u64::try_from(allowed).unwrap_or(u64::MAX);
        allowed.saturating_sub(self.prr_out)
    }

    /// SSRB: min(ssthresh - pipe, max(prr_delivered - prr_out, DeliveredData) + MSS) (RFC 6937 §3, pipe <= ssthresh).
    fn slow_start_reduction_bound(&self, delivered: u64, pipe: u64, mss: u32) -> u64 {
        let limit = self
            .prr_delivered
            .saturating_sub(self.prr_out)
            .max(delivered)
            .saturating_add(u64::from(mss));
        self.ssthresh.saturating_sub(pipe).min(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    #[test]
    fn proportional_phase_sends_ssthresh_over_recoverfs_per_delivered() {
        // 20 segments in flight, ssthresh 10: about one segment out per two delivered.
        let mut p = Prr::start(20_000, 10_000);
        let mut sent = 0;
        for _ in 0..10 {
            let n = p.on_ack(1000, 15_000, MSS);
            p.on_sent(n);
            sent += n;
        }
        assert_eq!(sent, 5_000);
    }

    #[test]
    fn rounds_up_so_first_ack_can_send() {
        let mut p = Prr::start(20_000, 10_000);
        // CEIL(1000 * 10000 / 20000) = 500 on the first ACK.
        assert_eq!(p.on_ack(1000, 19_000, MSS), 500);
        let mut p = Prr::start(30_000, 10_000);
        // CEIL(1000 * 10000 / 30000) = 334.
        assert_eq!(p.on_ack(1000, 29_000, MSS), 334);
    }

    #[test]
    fn ssrb_phase_regrows_toward_ssthresh_at_most_one_mss_ahead() {
        let mut p = Prr::start(20_000, 10_000);
        // Heavy loss: pipe already below ssthresh.
        let n = p.on_ack(1000, 4_000, MSS);
        // limit = max(1000 - 0, 1000) + MSS = 2000; ssthresh - pipe = 6000.
        assert_eq!(n, 2_000);
        p.on_sent(n);
        // Close to ssthresh: capped by ssthresh - pipe.
        assert_eq!(p.on_ack(1000, 9_500, MSS), 500);
    }

    #[test]
    fn nothing_sent_when_already_ahead() {
        let mut p = Prr::start(10_000, 5_000);
        p.on_sent(10_000);
        assert_eq!(p.on_ack(1000, 8_000, MSS), 0);
    }

    #[test]
    fn extreme_values_saturate() {
        let mut p = Prr::start(0, u32::MAX);
        p.on_sent(u64::MAX);
        assert_eq!(p.on_ack(u64::MAX, u64::MAX, u32::MAX), 0);
        let mut p = Prr::start(u64::MAX, u32::MAX);
        let _ = p.on_ack(u64::MAX, 0, u32::MAX);
    }
}
