//! Loss recovery: fast retransmit and NewReno fast recovery (RFC 5681 §3.2,
//! RFC 6582), limited transmit (RFC 3042), SACK recovery (RFC 6675) with PRR
//! (RFC 6937), and RACK-TLP (RFC 8985, `rack.rs`) as its loss detector.

use alloc::boxed::Box;

use crate::tcp::cc::{initial_window, CongestionControl};
use crate::tcp::connection::Connection;
use crate::tcp::inflight::RtoEifel;
use crate::tcp::rack::AckInfo;
use crate::tcp::segment::Segment;
use crate::tcp::send::SackUpdate;
use crate::tcp::SeqNum;
use crate::time::{Duration, Instant};

/// Duplicate ACKs that signal a loss (RFC 5681 §3.2).
const DUP_THRESH: u32 = 3;

impl Connection {
    /// Bytes in flight as RFC 5681 counts them (SND.MAX - SND.UNA).
    pub(super) fn flight_size(&self) -> u32 {
        self.snd_max - self.snd_una
    }

    /// Duplicate ACK: limited transmit on the first two, fast retransmit on
    /// the third, window inflation after (RFC 3042 §2, RFC 5681 §3.2, RFC 6582 §3.2).
    #[inline(never)]
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
        // `recover` holds SND.MAX, one past the highest sequence sent, so an
        // ACK of it already "covers more than recover" (RFC 6582 §3.2 step 2).
        if self.snd_una < self.recover {
            return;
        }
        self.in_recovery = true;
        self.recover = self.snd_max;
        let flight = self.flight_size();
        self.cc.on_congestion_event(now, flight);
        let cwnd = self.cc.ssthresh().saturating_add(DUP_THRESH * mss);
        self.cc.set_cwnd(cwnd);
        self.fl.rexmit_seq = Some(self.snd_una);
        self.fl.rtt_probe = None;
    }

    /// Allowance beyond cwnd for the first two duplicate ACKs (RFC 3042 §2).
    #[inline]
    pub(super) fn limited_transmit_allowance(&self) -> u32 {
        if self.in_recovery || self.dupacks == 0 || self.dupacks >= DUP_THRESH {
            return 0;
        }
        self.dupacks * u32::from(self.eff_mss)
    }

    /// New data acked: partial ACKs retransmit and deflate, a full ACK ends
    /// recovery (RFC 6582 §3.2 steps 5-6); outside recovery grow cwnd (RFC 5681 §3.1).
    #[inline(never)]
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
        self.fl.rexmit_seq = Some(self.snd_una);
        let cwnd = self.cc.cwnd().saturating_sub(data_acked);
        let cwnd = if data_acked >= mss {
            cwnd.saturating_add(mss)
        } else {
            cwnd
        };
        self.cc.set_cwnd(cwnd.max(mss));
    }

    /// After an RTO the scoreboard is no longer trusted (RFC 6675 §5.1, RFC 2018 §8).
    pub(super) fn on_rto_scoreboard(&mut self) {
        self.fl.scoreboard.clear();
        self.fl.high_rxt = 0;
        self.fl.rack.on_rto();
        self.fl.rack.reo_timer = Instant::MAX;
        self.fl.rack.pto = Instant::MAX;
    }

    /// Stream offset of a sequence number that may lie below SND.UNA (D-SACK), clamped at 0.
    fn send_off_signed(&self, seq: SeqNum) -> u64 {
        let diff = i64::from(seq.diff(self.snd_una));
        if diff >= 0 {
            self.snd_una_off.wrapping_add(diff as u64)
        } else {
            self.snd_una_off.saturating_sub(diff.unsigned_abs())
        }
    }

    /// The ACK's SACK blocks as stream offsets (at most four), and how many.
    #[inline(never)]
    fn sack_offsets(&self, raw: &[(u32, u32)]) -> ([(u64, u64); 4], usize) {
        let mut blocks = [(0u64, 0u64); 4];
        let mut n = 0;
        for &(l, r) in raw {
            if let Some(slot) = blocks.get_mut(n) {
                *slot = (
                    self.send_off_signed(SeqNum(l)),
                    self.send_off_signed(SeqNum(r)),
                );
                n += 1;
            }
        }
        (blocks, n)
    }

    /// An ACK that moves nothing while nothing is outstanding, with no SACK
    /// block, on a connection whose scoreboard, RACK log (RFC 8985) and
    /// recovery state are empty: `update_scoreboard` and
    /// `sack_recovery_on_ack` would change nothing, so they are skipped (as
    /// for a header-predicted segment). Every ACK to a sender that is
    /// waiting for data, e.g. the peer's data or FIN after ours was acked.
    #[inline]
    pub(super) fn ack_teaches_recovery_nothing(&self, advanced: bool, seg: &Segment) -> bool {
        !advanced
            && self.snd_una == self.snd_max
            && !self.in_recovery
            && self.dupacks < DUP_THRESH
            && seg.options.sack_block_count == 0
            && self.fl.scoreboard.range_count() == 0
            && self.fl.rack.idle()
    }

    /// A hash of the printed form of everything `update_scoreboard` and
    /// `sack_recovery_on_ack` may change: debug builds compare it around an
    /// ACK whose work the release build skips
    /// ([`Connection::ack_teaches_recovery_nothing`]). Hashed as it is
    /// printed, so the check allocates nothing (tests count allocations).
    #[cfg(debug_assertions)]
    pub(super) fn recovery_snapshot(&self) -> u64 {
        use core::fmt::Write;
        /// FNV-1a over the bytes written.
        struct Fnv(u64);
        impl Write for Fnv {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                for b in s.bytes() {
                    self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
                Ok(())
            }
        }
        let fl = &*self.fl;
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        let _ = write!(
            h,
            "{:?}",
            (
                (
                    &fl.rack,
                    &fl.scoreboard,
                    &self.cc,
                    self.in_recovery,
                    self.dupacks
                ),
                (
                    self.recover,
                    fl.high_rxt,
                    fl.recover_fs,
                    fl.prr_delivered,
                    fl.prr_out
                ),
                (fl.rexmit_seq, fl.eifel_ts, fl.cc_before_recovery.is_some()),
                self.stats.sack_recoveries,
            )
        );
        h.0
    }

    /// Record the ACK's SACK blocks; returns bytes newly SACKed (RFC 2018 §5).
    /// RACK sees the cumulative ACK and the blocks first (it needs the
    /// scoreboard as it was), then the D-SACK and TLP outcome (RFC 8985 §6.2, §7.4).
    pub(super) fn update_scoreboard(&mut self, now: Instant, seg: &Segment) -> u32 {
        if self.snd_una_off == u64::MAX {
            return 0;
        }
        // Most ACKs carry no block: no offsets array to fill then.
        let raw = seg.options.sack_blocks();
        let offsets;
        let blocks = if raw.is_empty() {
            &[][..]
        } else {
            offsets = self.sack_offsets(raw);
            offsets.0.get(..offsets.1).unwrap_or(&[])
        };
        let n = blocks.len();
        let rack = self.rack_active();
        if rack {
            let ack = AckInfo {
                now,
                una: self.snd_una_off,
                ecr: seg.options.timestamps.map(|(_, ecr)| ecr),
                ts_offset: self.neg.timestamps.then_some(self.ts_offset),
            };
            let fl = &mut *self.fl;
            fl.rack.on_ack(&ack, blocks, fl.scoreboard.ranges());
        }
        let max_off = self.seq_to_send_off(self.snd_max);
        let upd = if n == 0 && self.fl.scoreboard.range_count() == 0 {
            SackUpdate::default()
        } else {
            self.fl.scoreboard.on_ack(self.snd_una_off, blocks, max_off)
        };
        if rack {
            self.fl.rack.on_dsack(upd.dsack, self.snd_una_off, max_off);
            if self.fl.rack.tlp_on_ack(self.snd_una_off, upd.dsack) {
                self.tlp_loss_response(now);
            }
        }
        u32::try_from(upd.newly_sacked).unwrap_or(u32::MAX)
    }

    /// A tail loss probe repaired a loss: reduce cwnd once as for a fast
    /// recovery that already ended (RFC 8985 §7.4.2).
    #[cold]
    #[inline(never)]
    fn tlp_loss_response(&mut self, now: Instant) {
        if self.in_recovery {
            return;
        }
        let flight = self.flight_size();
        self.cc.on_congestion_event(now, flight);
        let ssthresh = self.cc.ssthresh();
        self.cc.set_cwnd(ssthresh.max(u32::from(self.eff_mss)));
    }

    /// RFC 6675 pipe over the scoreboard.
    #[inline(never)]
    pub(super) fn sack_pipe(&self) -> u32 {
        let una = self.snd_una_off;
        let max = self.seq_to_send_off(self.snd_max);
        if self.rack_active() {
            let pipe = self.fl.rack.pipe(max.saturating_sub(una));
            return u32::try_from(pipe).unwrap_or(u32::MAX);
        }
        let pipe =
            self.fl
                .scoreboard
                .pipe(una, max, self.fl.high_rxt.max(una), u32::from(self.eff_mss));
        u32::try_from(pipe).unwrap_or(u32::MAX)
    }

    /// SACK-based loss recovery per ACK: enter on DupThresh or IsLost(SND.UNA),
    /// PRR cwnd while in it, leave at RecoveryPoint (RFC 6675 §5, RFC 6937 §3).
    pub(super) fn sack_recovery_on_ack(
        &mut self,
        now: Instant,
        advanced: bool,
        duplicate: bool,
        data_acked: u32,
        newly_sacked: u32,
        tsecr: Option<u32>,
    ) {
        if self.in_recovery && advanced && self.recovery_was_spurious(tsecr) {
            self.undo_spurious_recovery();
            return;
        }
        let rack = self.rack_active();
        let rack_lost = rack && self.rack_detect_loss(now);
        let delivered = data_acked.saturating_add(newly_sacked);
        if self.in_recovery {
            if self.snd_una >= self.recover {
                self.exit_sack_recovery();
            } else {
                if advanced && !rack {
                    // A partial ACK: the next hole is lost too (RFC 6675 §5 step C).
                    self.fl.high_rxt = self.fl.high_rxt.max(self.snd_una_off);
                }
                self.prr_on_ack(delivered);
            }
            if !self.in_recovery && rack_lost {
                self.start_recovery_on_rack_loss(now, delivered);
            }
            return;
        }
        if advanced {
            self.dupacks = 0;
            if self.snd_una > self.recover + 1 {
                self.recover = self.snd_una - 1;
            }
            let srtt = self.rtt.srtt();
            self.cc.on_ack(now, data_acked, srtt);
        } else if duplicate && newly_sacked > 0 {
            // Only a duplicate ACK bringing new SACK information counts (RFC 6675 §5).
            self.dupacks = self.dupacks.saturating_add(1);
        }
        if rack {
            // RACK replaces DupThresh: recovery starts when it marks a loss (RFC 8985 §2, §6).
            if self.fl.rack.lost_bytes() > 0 {
                self.start_recovery_on_rack_loss(now, delivered);
            }
            return;
        }
        let lost = self.fl.scoreboard.range_count() > 0
            && self
                .fl
                .scoreboard
                .is_lost(self.snd_una_off, u32::from(self.eff_mss));
        // RecoveryPoint is stored as HighData + 1: a new episode may start once
        // HighACK reaches it (RFC 6675 §5, §5.1).
        if (self.dupacks >= DUP_THRESH || lost) && self.snd_una >= self.recover {
            self.enter_sack_recovery(now, newly_sacked);
        }
    }

    /// RACK marked a segment lost outside recovery: start fast recovery,
    /// unless the current recovery point is not reached yet (RFC 8985 §6.2, RFC 6675 §5).
    /// `delivered` is what the starting ACK delivered (0 from the timer): PRR
    /// counts it (RFC 6937 §3, as Linux), so new data can follow the
    /// retransmission and RACK can see that one lost too, not only the RTO.
    #[cold]
    #[inline(never)]
    pub(super) fn start_recovery_on_rack_loss(&mut self, now: Instant, delivered: u32) {
        if self.in_recovery || self.snd_una < self.recover || self.fl.rack.lost_bytes() == 0 {
            return;
        }
        self.enter_sack_recovery(now, delivered);
    }

    /// Start SACK recovery: RecoveryPoint = HighData, ssthresh from FlightSize,
    /// retransmit the first hole; PRR state from RecoverFS (RFC 6675 §5 step 4, RFC 6937 §3).
    fn enter_sack_recovery(&mut self, now: Instant, delivered: u32) {
        if self.neg.timestamps {
            self.fl.eifel_ts = Some(self.ts_val(now));
            self.fl.cc_before_recovery = Some(Box::new(self.cc.clone()));
        } else {
            self.fl.eifel_ts = None;
            self.fl.cc_before_recovery = None;
        }
        self.in_recovery = true;
        self.recover = self.snd_max;
        self.stats.sack_recoveries = self.stats.sack_recoveries.saturating_add(1);
        let flight = self.flight_size();
        self.fl.recover_fs = flight.max(1);
        self.cc.on_congestion_event(now, flight);
        self.fl.prr_delivered = 0;
        self.fl.prr_out = 0;
        self.fl.high_rxt = self.snd_una_off;
        if !self.rack_active() {
            // With RACK the segments marked lost are resent through NextSeg instead.
            self.fl.rexmit_seq = Some(self.snd_una);
        }
        self.fl.rtt_probe = None;
        self.prr_on_ack(delivered);
        self.schedule_loss_probe(now);
    }

    /// Eifel detection: the first ACK advancing SND.UNA in recovery echoes a
    /// TSval older than the retransmission, so the original arrived and the
    /// "loss" was reordering (RFC 3522 §2).
    #[inline(never)]
    fn recovery_was_spurious(&mut self, tsecr: Option<u32>) -> bool {
        let Some(retransmit_ts) = self.fl.eifel_ts.take() else {
            return false;
        };
        tsecr.is_some_and(|ecr| ecr != 0 && (ecr.wrapping_sub(retransmit_ts) as i32) < 0)
    }

    /// Spurious fast retransmit: restore the congestion state from before the
    /// recovery and leave it (RFC 3522 §1, RFC 4015 §3 response, simplified).
    #[cold]
    #[inline(never)]
    fn undo_spurious_recovery(&mut self) {
        if let Some(cc) = self.fl.cc_before_recovery.take() {
            self.cc = *cc;
        }
        self.in_recovery = false;
        self.dupacks = 0;
        self.fl.rexmit_seq = None;
        self.recover = self.snd_una - 1;
        self.stats.spurious_recoveries = self.stats.spurious_recoveries.saturating_add(1);
    }

    /// Eifel detection for a timeout, set up before the congestion state
    /// changes: the retransmission's TSval and the state to return to
    /// (RFC 3522 §2, RFC 4015 §3 step 0). Only the first timeout of data:
    /// after a second one the original may have been lost too, and undoing
    /// a SYN's or a lone FIN's timeout has no congestion state to restore.
    #[cold]
    #[inline(never)]
    pub(super) fn arm_spurious_rto_detection(&mut self, now: Instant) {
        let first_timeout = self.rto_backoff == 0;
        let data_outstanding = self.snd_una_off < self.fl.send_end_offset();
        if !(self.neg.timestamps
            && self.state.is_synchronized()
            && first_timeout
            && !self.in_recovery
            && data_outstanding)
        {
            self.fl.rto_eifel = RtoEifel::Idle;
            return;
        }
        // The fast-recovery detection ends with the recovery the timeout ends.
        self.fl.eifel_ts = None;
        match self.fl.cc_before_recovery.as_deref_mut() {
            Some(saved) => *saved = self.cc.clone(),
            None => self.fl.cc_before_recovery = Some(Box::new(self.cc.clone())),
        }
        self.fl.rto_eifel = RtoEifel::Armed(self.ts_val(now));
    }

    /// An ACK advancing SND.UNA after a first timeout: detection on the
    /// first one, then the RTO adaptation on the first that times new data.
    #[cold]
    #[inline(never)]
    pub(super) fn eifel_on_ack_after_rto(&mut self, now: Instant, seg: &Segment, acked: u32) {
        let tsecr = seg.options.timestamps.map(|(_, ecr)| ecr);
        match self.fl.rto_eifel {
            RtoEifel::Idle => {}
            RtoEifel::Armed(retransmit_ts) => {
                self.fl.rto_eifel = RtoEifel::Idle;
                if self.rto_was_spurious(retransmit_ts, tsecr) {
                    self.undo_spurious_rto(now, acked);
                } else if !self.in_recovery {
                    self.fl.cc_before_recovery = None;
                }
            }
            RtoEifel::Rebase {
                after,
                srtt_prev_us,
                rttvar_prev_us,
            } => {
                if seg.ack > after {
                    self.rebase_rto_after_spurious_timeout(
                        now,
                        tsecr,
                        srtt_prev_us,
                        rttvar_prev_us,
                    );
                }
            }
        }
    }

    /// The first ACK after the timeout echoes a TSval older than the
    /// retransmission's: the original arrived (RFC 3522 §2). Not when this
    /// very ACK started a recovery (that one owns the saved state now).
    fn rto_was_spurious(&self, retransmit_ts: u32, tsecr: Option<u32>) -> bool {
        !self.in_recovery
            && tsecr.is_some_and(|ecr| ecr != 0 && (ecr.wrapping_sub(retransmit_ts) as i32) < 0)
    }

    /// Eifel response to a spurious timeout (RFC 4015 §3): resume with new
    /// data, restore the congestion state without a burst, end the backoff.
    #[cold]
    #[inline(never)]
    fn undo_spurious_rto(&mut self, now: Instant, acked: u32) {
        // Step 2: no go-back-N, what was sent before the timeout is in flight.
        let resent_to = self.snd_nxt.max(self.snd_una);
        self.snd_nxt = self.snd_max;
        if self.rack_active() {
            // The timeout emptied RACK's log: log the rest of the flight again
            // (as sent now, the latest it can have been) so that a real loss in
            // it is still detected by RACK, not by the next timeout.
            let from = self.seq_to_send_off(resent_to);
            let to = self.seq_to_send_off(self.snd_max);
            self.fl.rack.on_send(now, from, to, false);
        }
        // Step 3: the saved controller (NewReno or CUBIC state), with
        // cwnd = FlightSize + min(bytes_acked, IW) against a burst.
        if let Some(cc) = self.fl.cc_before_recovery.take() {
            self.cc = *cc;
        }
        let mss = u32::from(self.eff_mss);
        let iw = initial_window(mss, u32::from(self.opts.initial_cwnd_segments));
        let cwnd = self.flight_size().saturating_add(acked.min(iw));
        self.cc.set_cwnd(cwnd.max(mss));
        // Recovery may start again for losses in this flight (RFC 6582 §3.2 held it off).
        self.recover = self.snd_una - 1;
        // This ACK times the original, so Karn's rule gives no sample from it;
        // the backoff ends, and the first sample of data sent from now on
        // adapts the RTO (step 5).
        self.rto_backoff = 0;
        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        self.fl.rto_eifel = RtoEifel::Rebase {
            after: self.snd_max,
            srtt_prev_us: self.rtt.srtt().map_or(0, us),
            rttvar_prev_us: us(self.rtt.rttvar()),
        };
        if self.snd_una != self.snd_max {
            self.fl.rexmit = now + self.rto();
        }
        self.stats.spurious_rtos = self.stats.spurious_rtos.saturating_add(1);
    }

    /// RFC 4015 §3 step 5: the first ACK of data sent after the spurious
    /// timeout with an unambiguous TSecr gives R; SRTT and RTTVAR become
    /// at least what they were before the timeout, at least R and R/2.
    fn rebase_rto_after_spurious_timeout(
        &mut self,
        now: Instant,
        tsecr: Option<u32>,
        srtt_prev_us: u32,
        rttvar_prev_us: u32,
    ) {
        let Some(ecr) = tsecr.filter(|&e| e != 0 && self.tsecr_unambiguous(e)) else {
            return;
        };
        let ms = self.ts_val(now).wrapping_sub(ecr);
        if ms >= 0x7fff_ffff {
            return;
        }
        self.fl.rto_eifel = RtoEifel::Idle;
        let rtt = Duration::from_millis(u64::from(ms.max(1)));
        self.rtt
            .rebase_after_spurious_timeout(srtt_prev_us, rttvar_prev_us, rtt);
        self.rto_backoff = 0;
    }

    /// PRR: send in proportion to delivery while pipe > ssthresh, then slow
    /// start back up to ssthresh (PRR-SSRB) (RFC 6937 §3).
    fn prr_on_ack(&mut self, delivered: u32) {
        let mss = u32::from(self.eff_mss);
        self.fl.prr_delivered = self.fl.prr_delivered.saturating_add(delivered);
        let pipe = self.sack_pipe();
        let ssthresh = self.cc.ssthresh();
        let sndcnt = if pipe > ssthresh {
            let target = (u64::from(self.fl.prr_delivered) * u64::from(ssthresh))
                .div_ceil(u64::from(self.fl.recover_fs.max(1)));
            u32::try_from(target)
                .unwrap_or(u32::MAX)
                .saturating_sub(self.fl.prr_out)
        } else {
            let limit = self
                .fl
                .prr_delivered
                .saturating_sub(self.fl.prr_out)
                .max(delivered)
                .saturating_add(mss);
            ssthresh.saturating_sub(pipe).min(limit)
        };
        // With RACK no forced fast retransmit precedes PRR: let the first
        // segment of the episode go (Linux does the same).
        let sndcnt = if self.fl.prr_out == 0 && self.rack_active() {
            sndcnt.max(mss)
        } else {
            sndcnt
        };
        self.cc.set_cwnd(pipe.saturating_add(sndcnt));
    }

    /// Leave recovery with cwnd = ssthresh (RFC 6937 §3, RFC 6675 §5).
    #[cold]
    #[inline(never)]
    fn exit_sack_recovery(&mut self) {
        self.in_recovery = false;
        let ssthresh = self.cc.ssthresh();
        self.cc.set_cwnd(ssthresh.max(u32::from(self.eff_mss)));
        self.dupacks = 0;
        self.fl.rack.on_recovery_exit();
    }

    /// Count a segment sent during recovery (RFC 6937 prr_out).
    #[inline]
    pub(super) fn note_recovery_send(&mut self, off: u64, len: usize, retransmission: bool) {
        if self.in_recovery {
            self.note_send_in_recovery(off, len, retransmission);
        }
    }

    /// [`Connection::note_recovery_send`] in recovery (out of line: the
    /// send path outside recovery stays short).
    #[inline(never)]
    fn note_send_in_recovery(&mut self, off: u64, len: usize, retransmission: bool) {
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        self.fl.prr_out = self.fl.prr_out.saturating_add(len32);
        if retransmission && self.neg.sack {
            self.fl.high_rxt = self.fl.high_rxt.max(off.saturating_add(len as u64));
        }
    }

    /// The window that cwnd is compared against: pipe in SACK recovery, else bytes outstanding.
    #[inline(always)]
    pub(super) fn cwnd_flight(&self) -> u32 {
        if self.in_recovery && self.neg.sack {
            self.sack_pipe()
        } else if self.rack_rto_recovery() {
            self.rack_rto_pipe()
        } else {
            self.snd_nxt - self.snd_una
        }
    }

    /// After an RTO, segments RACK found lost again leave the pipe (RFC 8985
    /// §6.2 step 5). Out of line: asked per segment sent only then.
    #[inline(never)]
    fn rack_rto_pipe(&self) -> u32 {
        let una = self.snd_una_off;
        let nxt = self.seq_to_send_off(self.snd_nxt);
        u32::try_from(self.fl.rack.pipe(nxt.saturating_sub(una))).unwrap_or(u32::MAX)
    }

    /// The go-back-N after an RTO is still under way (SND.UNA below the
    /// recovery point RFC 6582 §3.2 step 4 set) on a RACK connection.
    #[inline]
    pub(super) fn rack_rto_recovery(&self) -> bool {
        !self.in_recovery && self.rack_active() && self.snd_una < self.recover
    }

    /// A segment resent after an RTO that RACK found lost again goes out
    /// again within cwnd, without another cwnd reduction (RFC 8985 §6.2, Linux's Loss state).
    #[inline]
    pub(super) fn rack_rto_retransmission(&self) -> Option<(SeqNum, u32)> {
        if !self.rack_rto_recovery() {
            return None;
        }
        self.rack_rto_retransmission_after_rto()
    }

    #[cold]
    #[inline(never)]
    fn rack_rto_retransmission_after_rto(&self) -> Option<(SeqNum, u32)> {
        if self.cwnd_flight() >= self.cc.cwnd() {
            return None;
        }
        let una = self.snd_una_off;
        let nxt = self.seq_to_send_off(self.snd_nxt);
        let (off, len) = self.fl.rack.next_lost()?;
        if off < una || off >= nxt {
            return None;
        }
        let seq = self.snd_una + u32::try_from(off - una).unwrap_or(0);
        let mss = u32::from(self.eff_mss);
        Some((seq, u32::try_from(len).unwrap_or(mss).min(mss)))
    }

    /// NextSeg rules 1 and 3 when pipe allows (RFC 6675 §4-5); rule 2 (new data) is
    /// tried between them by the caller via `rule3 = false/true`.
    pub(super) fn sack_next_retransmission(&self, rule3: bool) -> Option<(SeqNum, u32)> {
        if !(self.in_recovery && self.neg.sack) {
            return None;
        }
        let una = self.snd_una_off;
        let max = self.seq_to_send_off(self.snd_max);
        let mss = u32::from(self.eff_mss);
        if self.rack_active() {
            // RACK's lost segments are rule 1; rule 3 is left to the TLP (RFC 8985 §7).
            if rule3 {
                return None;
            }
            let (off, len) = self.fl.rack.next_lost()?;
            if off < una || off >= max {
                return None;
            }
            let seq = self.snd_una + u32::try_from(off - una).unwrap_or(0);
            return Some((seq, u32::try_from(len).unwrap_or(mss).min(mss)));
        }
        let high = self.fl.high_rxt.max(una);
        let hole = if rule3 {
            self.fl.scoreboard.next_seg(una, max, high, mss)
        } else {
            self.fl.scoreboard.next_lost_seg(una, max, high, mss)
        }?;
        let seq = self.snd_una + u32::try_from(hole.0.saturating_sub(una)).unwrap_or(0);
        Some((seq, hole.1))
    }
}
