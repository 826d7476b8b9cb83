//! Loss recovery: fast retransmit and NewReno fast recovery (RFC 5681 §3.2,
//! RFC 6582), limited transmit (RFC 3042).

use crate::tcp::cc::CongestionControl;
use crate::tcp::connection::Connection;
use crate::tcp::segment::Segment;
use crate::time::Instant;

/// Duplicate ACKs that signal a loss (RFC 5681 §3.2).
const DUP_THRESH: u32 = 3;

impl Connection {
    /// Bytes in flight as RFC 5681 counts them (SND.MAX - SND.UNA).
    pub(super) fn flight_size(&self) -> u32 {
        self.snd_max - self.snd_una
    }

    /// Duplicate ACK: limited transmit on the first two, fast retransmit on
    /// the third, window inflation after (RFC 3042 §2, RFC 5681 §3.2, RFC 6582 §3.2).
    pub(super) fn on_duplicate_ack(&mut self, now: Instant, _seg: &Segment) {
        self.dupacks = self.dupacks.saturating_add(1);
        let mss = u32::from(self.eff_mss);
        if self.in_recovery {
            self.inflate_window_on_dupack(mss);
        } else if self.dupacks == DUP_THRESH {
            self.enter_fast_recovery(now, mss);
        }
    }

    /// Each further duplicate ACK in recovery adds one MSS (RFC 5681 §3.2 step 4).
    fn inflate_window_on_dupack(&mut self, mss: u32) {
        let cwnd = self.cc.cwnd().saturating_add(mss);
        self.cc.set_cwnd(cwnd);
    }

    /// Third duplicate ACK: ssthresh from flight size, retransmit SND.UNA,
    /// cwnd = ssthresh + 3 MSS, unless an earlier recovery still covers it (RFC 6582 §3.2 steps 2-3).
    fn enter_fast_recovery(&mut self, now: Instant, mss: u32) {
        if self.snd_una <= self.recover {
            return;
        }
        self.in_recovery = true;
        self.recover = self.snd_max;
        let flight = self.flight_size();
        self.cc.on_congestion_event(now, flight);
        let cwnd = self.cc.ssthresh().saturating_add(DUP_THRESH * mss);
        self.cc.set_cwnd(cwnd);
        self.rexmit_seq = Some(self.snd_una);
        self.rtt_probe = None;
    }

    /// Allowance beyond cwnd for the first two duplicate ACKs (RFC 3042 §2).
    pub(super) fn limited_transmit_allowance(&self) -> u32 {
        if self.in_recovery || self.dupacks == 0 || self.dupacks >= DUP_THRESH {
            return 0;
        }
        self.dupacks * u32::from(self.eff_mss)
    }

    /// New data acked: partial ACKs retransmit and deflate, a full ACK ends
    /// recovery (RFC 6582 §3.2 steps 5-6); outside recovery grow cwnd (RFC 5681 §3.1).
    pub(super) fn recovery_on_new_ack(&mut self, now: Instant, seg: &Segment, data_acked: u32) {
        let mss = u32::from(self.eff_mss);
        self.dupacks = 0;
        if !self.in_recovery {
            // Keep `recover` trailing SND.UNA so circular comparison stays valid.
            if self.snd_una > self.recover + 1 {
                self.recover = self.snd_una - 1;
            }
            let srtt = self.rtt.srtt();
            self.cc.on_ack(now, data_acked, srtt);
            return;
        }
        if seg.ack >= self.recover {
            self.exit_fast_recovery(mss);
        } else {
            self.partial_ack(data_acked, mss);
        }
    }

    /// Full ACK: cwnd = min(ssthresh, FlightSize + MSS) (RFC 6582 §3.2 step 5 option 1).
    fn exit_fast_recovery(&mut self, mss: u32) {
        self.in_recovery = false;
        let cwnd = self
            .cc
            .ssthresh()
            .min(self.flight_size().saturating_add(mss));
        self.cc.set_cwnd(cwnd.max(mss));
    }

    /// Partial ACK: retransmit the next hole, deflate by the amount acked, add back one MSS (RFC 6582 §3.2 step 6).
    fn partial_ack(&mut self, data_acked: u32, mss: u32) {
        self.rexmit_seq = Some(self.snd_una);
        let cwnd = self.cc.cwnd().saturating_sub(data_acked);
        let cwnd = if data_acked >= mss {
            cwnd.saturating_add(mss)
        } else {
            cwnd
        };
        self.cc.set_cwnd(cwnd.max(mss));
    }

    /// An ACK that changes nothing but carries SACK blocks (SACK recovery hooks in here).
    pub(super) fn on_sack_only(&mut self, _now: Instant, _seg: &Segment) {}

    /// After an RTO the scoreboard is no longer trusted (RFC 6675 §5.1).
    pub(super) fn on_rto_scoreboard(&mut self) {}
}
