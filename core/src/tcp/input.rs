//! SEGMENT ARRIVES (RFC 9293 §3.10.7) with RFC 5961, RFC 7323 and RFC 2018.

use crate::tcp::cc::CongestionControl;
use crate::tcp::connection::{CloseReason, Connection, EV_CONNECTED, EV_PEER_CLOSED};
use crate::tcp::inflight::RtoEifel;
use crate::tcp::segment::{BadChecksum, Segment, SegmentOutcome};
use crate::tcp::state::State;
use crate::tcp::timers::{Dur32, Ms32};
use crate::tcp::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::checksum;
use crate::wire::TcpFlags;

/// Whether header prediction may be used: always, except in the unit test
/// that runs the same segments through the full eight steps to compare.
#[inline(always)]
fn fast_path_enabled() -> bool {
    #[cfg(test)]
    {
        !tests::GENERAL_ONLY.with(|g| g.get())
    }
    #[cfg(not(test))]
    {
        true
    }
}

/// TS.Recent older than this is invalid for PAWS (RFC 7323 §5.5: 24 days).
const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 3600);

impl Connection {
    /// Process one incoming segment (RFC 9293 §3.10.7).
    pub fn handle_segment(&mut self, now: Instant, seg: &Segment) -> SegmentOutcome {
        self.handle_verified_segment(now, seg)
    }

    /// [`Connection::handle_segment`], inlined into
    /// [`Connection::handle_segment_unverified`] (the stack's path): one
    /// call frame less per received segment.
    #[inline(always)]
    fn handle_verified_segment(&mut self, now: Instant, seg: &Segment) -> SegmentOutcome {
        self.fl.ensure();
        self.stats.segs_received += 1;
        self.clock = self.clock.max(now);
        let outcome = match self.state {
            State::Closed | State::Listen => SegmentOutcome::Dropped,
            State::SynSent => self.segment_in_syn_sent(now, seg),
            // Checked before entering the (large) general function.
            _ if self.is_predicted_in_order_data(seg) => {
                self.accept_predicted_in_order_data(now, seg);
                SegmentOutcome::Accepted
            }
            _ => self.segment_in_synchronized(now, seg),
        };
        // An ACK that closes the window leaves nothing to poll for: the
        // persist timer must start here, not in the output path.
        self.arm_persist_if_window_stalled(now);
        outcome
    }

    /// `handle_segment` for a segment whose checksum is summed over the
    /// pseudo-header and TCP header only (`partial`, RFC 9293 §3.1): the
    /// payload is verified here, fused with its copy into the receive ring
    /// when it is the next in-order data, so each received byte is read once.
    /// A segment failing its checksum changes nothing: `Err(BadChecksum)`.
    pub fn handle_segment_unverified(
        &mut self,
        now: Instant,
        seg: &Segment,
        partial: u32,
    ) -> Result<SegmentOutcome, BadChecksum> {
        // A released in-flight box holds no ring to place into (and touching
        // it mutably would allocate it for a segment that may fail).
        let placed = if self.fl.is_allocated() && self.payload_is_next_in_order(seg) {
            self.fl.recvbuf.place_in_order(seg.payload, partial)
        } else {
            None
        };
        let sum = placed.unwrap_or_else(|| checksum::ones_complement_sum(seg.payload, partial));
        if !checksum::verifies(sum) {
            self.forget_placed();
            return Err(BadChecksum);
        }
        let outcome = self.handle_verified_segment(now, seg);
        self.forget_placed();
        Ok(outcome)
    }

    /// Bytes placed by `place_in_order` are free space again (no allocation).
    fn forget_placed(&mut self) {
        if self.fl.is_allocated() {
            self.fl.recvbuf.forget_placed();
        }
    }

    /// Whether the segment's text would go to RCV.NXT of a connection that
    /// takes data (the common case of a bulk transfer), so it can be placed
    /// into the ring while its checksum is verified.
    fn payload_is_next_in_order(&self, seg: &Segment) -> bool {
        !seg.payload.is_empty()
            && seg.seq == self.rcv_nxt
            && !seg.flags.syn()
            && !seg.flags.rst()
            && self.state.can_receive_data()
            && !self.app_closed
    }

    /// SYN-SENT: check ACK, RST, then SYN (RFC 9293 §3.10.7.3).
    fn segment_in_syn_sent(&mut self, now: Instant, seg: &Segment) -> SegmentOutcome {
        let ack_acceptable = seg.ack > self.iss && seg.ack <= self.snd_max;
        if seg.flags.ack() && !ack_acceptable {
            if !seg.flags.rst() {
                self.reset_unacceptable_ack(seg);
            }
            return SegmentOutcome::Dropped;
        }
        if seg.flags.rst() {
            // RFC 5961 §3.2 does not change SYN-SENT: an RST acking our SYN refuses.
            if seg.flags.ack() {
                self.enter_closed(CloseReason::Refused);
                return SegmentOutcome::Accepted;
            }
            return SegmentOutcome::Dropped;
        }
        if !seg.flags.syn() {
            return SegmentOutcome::Dropped;
        }
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.rcv_adv = self.rcv_nxt;
        self.last_ack_sent = self.rcv_nxt;
        self.apply_negotiation(&seg.options);
        self.record_peer_timestamp(seg, now);
        self.last_recv = Ms32::at(now);
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack;
        if seg.flags.ack() {
            self.complete_active_open(now, seg);
            // Data or FIN riding on the SYN-ACK (sixth step onwards).
            if !seg.payload.is_empty() || seg.flags.fin() {
                let rest = Segment {
                    seq: seg.seq + 1,
                    ..*seg
                };
                self.process_text_and_fin(now, &rest);
            }
        } else {
            self.enter_simultaneous_open();
        }
        SegmentOutcome::Accepted
    }

    /// SYN-ACK acknowledging our SYN: ESTABLISHED, Connected (RFC 9293 §3.10.7.3).
    fn complete_active_open(&mut self, now: Instant, seg: &Segment) {
        self.sample_rtt_on_ack(now, seg);
        self.snd_una = seg.ack;
        self.snd_una_off = 0;
        if self.snd_nxt < self.snd_una {
            self.snd_nxt = self.snd_una;
        }
        self.retries = 0;
        self.fl.rexmit = Instant::MAX;
        self.state = State::Established;
        self.raise(EV_CONNECTED);
        self.ack_now = true;
        self.after_handshake(now);
    }

    /// SYN without ACK in SYN-SENT: simultaneous open, send SYN-ACK (RFC 9293 §3.10.7.3, figure 8).
    fn enter_simultaneous_open(&mut self) {
        self.state = State::SynReceived;
        self.snd_nxt = self.iss;
        self.fl.rexmit = Instant::MAX;
        self.fl.rtt_probe = None;
    }

    /// Common work once a connection becomes synchronized.
    fn after_handshake(&mut self, now: Instant) {
        if self.fin_queued {
            self.state = State::FinWait1;
        }
        self.unacked_since = now;
        self.arm_keepalive(now);
    }

    /// An ACK for something never sent gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.3, §3.10.7.4).
    #[cold]
    #[inline(never)]
    fn reset_unacceptable_ack(&mut self, seg: &Segment) {
        self.fl.pending_rst = Some((seg.ack, SeqNum(0), false));
    }

    /// SYN-RECEIVED and synchronized states: the eight steps of RFC 9293 §3.10.7.4.
    fn segment_in_synchronized(&mut self, now: Instant, seg: &Segment) -> SegmentOutcome {
        if self.state == State::TimeWait && seg.flags.syn() && !seg.flags.ack() && !seg.flags.rst()
        {
            if let Some(outcome) = self.syn_in_time_wait(seg) {
                return outcome;
            }
        }
        if self.state == State::SynReceived
            && seg.flags.syn()
            && seg.flags.ack()
            && seg.seq == self.irs
            && !seg.flags.rst()
        {
            return self.syn_ack_in_simultaneous_open(now, seg);
        }
        if self.paws_rejects(now, seg) {
            self.ack_now = true;
            return SegmentOutcome::Dropped;
        }
        if !self.segment_is_acceptable(seg) {
            if let Some(ack_only) = self.ack_part_of_zero_window_segment(seg) {
                let outcome = self.segment_in_synchronized(now, &ack_only);
                self.ack_now = true;
                return outcome;
            }
            return self.drop_unacceptable(now, seg);
        }
        self.last_recv = Ms32::at(now);
        self.probes = 0;
        self.update_ts_recent(now, seg);
        if seg.flags.rst() {
            return self.rst_in_window(now, seg);
        }
        if seg.flags.syn() {
            return self.syn_in_window(now, seg);
        }
        if !seg.flags.ack() {
            return SegmentOutcome::Dropped;
        }
        if self.state == State::SynReceived && !self.ack_completes_passive_open(now, seg) {
            return SegmentOutcome::Dropped;
        }
        if !self.process_ack(now, seg) {
            return SegmentOutcome::Dropped;
        }
        if self.state == State::Closed {
            return SegmentOutcome::Accepted;
        }
        self.arm_keepalive(now);
        self.process_text_and_fin(now, seg);
        SegmentOutcome::Accepted
    }

    /// Header prediction (RFC 9293 §3.10.7.4 in the order Linux's
    /// tcp_rcv_established checks it): the next in-order data of an
    /// ESTABLISHED connection that has nothing outstanding, with only
    /// ACK (and PSH) set, acknowledging SND.UNA, the same send window, no
    /// SACK blocks, a timestamp not older than TS.Recent, and room in the
    /// receive window. For such a segment the eight steps come down to
    /// `accept_predicted_in_order_data`; anything else takes them all.
    #[inline]
    fn is_predicted_in_order_data(&self, seg: &Segment) -> bool {
        let flags = seg.flags.0 & !TcpFlags::PSH.0;
        let ts_ok = match (self.neg.timestamps, seg.options.timestamps) {
            // PAWS passes (RFC 7323 §5.3): not older than TS.Recent.
            (true, Some((val, _))) => (val.wrapping_sub(self.ts_recent) as i32) >= 0,
            _ => true,
        };
        self.state == State::Established
            && flags == TcpFlags::ACK.0
            && seg.seq == self.rcv_nxt
            && !seg.payload.is_empty()
            && seg.ack == self.snd_una
            && self.snd_max == self.snd_una
            && !self.in_recovery
            && self.dupacks == 0
            && seg.options.sack_block_count == 0
            && (u32::from(seg.window) << self.neg.snd_shift) == self.snd_wnd
            && ts_ok
            && self.fl.scoreboard.range_count() == 0
            && !self.fl.rack.has_flight()
            && self.receive_window_open()
            && fast_path_enabled()
    }

    /// The eight steps of RFC 9293 §3.10.7.4 for a segment that passed
    /// `is_predicted_in_order_data`: acceptable (first step), no RST or SYN,
    /// an ACK of nothing new that is no duplicate (RFC 5681 §2: it carries
    /// data) and leaves SACK, RACK and recovery state as it is (no flight,
    /// no scoreboard, not in recovery); what remains is TS.Recent, the
    /// window update rule, RACK's clean-path reset, keep-alive and the text.
    fn accept_predicted_in_order_data(&mut self, now: Instant, seg: &Segment) {
        self.last_recv = Ms32::at(now);
        self.probes = 0;
        self.update_ts_recent(now, seg);
        self.update_send_window(seg);
        // What `rack_detect_loss` does with nothing to detect.
        if self.rack_active() {
            self.fl.rack.reo_timer = Instant::MAX;
        }
        self.arm_keepalive(now);
        self.process_predicted_text(now, seg);
    }

    /// `process_text_and_fin` for a segment that passed
    /// `is_predicted_in_order_data` (ESTABLISHED, text at RCV.NXT, no FIN,
    /// the window open): `receive_data` with nothing ahead or behind to cut.
    #[inline]
    fn process_predicted_text(&mut self, now: Instant, seg: &Segment) {
        if self.app_closed {
            self.reset_data_after_close();
            return;
        }
        let base = self.fl.recvbuf.next_offset();
        // Never take more than the window we advertised (RFC 9293 §3.10.7.4).
        let keep = self.window_take(seg.payload.len());
        let payload = seg.payload.get(..keep).unwrap_or(&[]);
        if payload.is_empty() {
            self.ack_now = true;
        } else {
            self.receive_in_order(now, base, payload);
        }
        if self.fl.peer_fin_seq == Some(self.rcv_nxt) {
            self.accept_fin(now);
        }
    }

    /// Simultaneous open: the peer's SYN-ACK repeats its SYN; drop the SYN
    /// (already seen) and use the ACK (RFC 9293 §3.5 figure 8; trimming per §3.10.7.4).
    #[cold]
    #[inline(never)]
    fn syn_ack_in_simultaneous_open(&mut self, now: Instant, seg: &Segment) -> SegmentOutcome {
        let trimmed = Segment {
            seq: seg.seq + 1,
            flags: crate::wire::TcpFlags(seg.flags.0 & !crate::wire::TcpFlags::SYN.0),
            ..*seg
        };
        let outcome = self.segment_in_synchronized(now, &trimmed);
        if outcome == SegmentOutcome::Accepted {
            self.ack_now = true;
        }
        outcome
    }

    /// A new SYN in TIME-WAIT above the old sequence space may reopen (RFC 9293 §3.10.7.4 note, RFC 6191).
    #[cold]
    #[inline(never)]
    fn syn_in_time_wait(&mut self, seg: &Segment) -> Option<SegmentOutcome> {
        let ts_newer = match (self.neg.timestamps, seg.options.timestamps) {
            (true, Some((val, _))) => (val.wrapping_sub(self.ts_recent) as i32) > 0,
            _ => seg.seq > self.rcv_nxt,
        };
        ts_newer.then_some(SegmentOutcome::ReopenFromTimeWait)
    }

    /// PAWS: a timestamp older than TS.Recent marks an old duplicate (RFC 7323 §5.3).
    fn paws_rejects(&self, now: Instant, seg: &Segment) -> bool {
        if !self.neg.timestamps || seg.flags.rst() {
            return false;
        }
        let Some((val, _)) = seg.options.timestamps else {
            return false;
        };
        let older = (val.wrapping_sub(self.ts_recent) as i32) < 0;
        older && self.ts_recent_at.elapsed(now) < PAWS_IDLE_LIMIT
    }

    /// The receive window used for acceptability: never less than what we advertised.
    pub(super) fn acceptance_window(&self) -> u32 {
        let advertised = if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        let room = u32::try_from(self.fl.recv_window()).unwrap_or(u32::MAX);
        advertised.max(room.min(0xffff << self.neg.rcv_shift))
    }

    /// `acceptance_window() > 0`, decided by RCV.ADV ahead of RCV.NXT
    /// (then the window is at least that) before the buffer is asked.
    fn receive_window_open(&self) -> bool {
        self.rcv_adv > self.rcv_nxt || self.acceptance_window() > 0
    }

    /// How much of `len` bytes of text at RCV.NXT the receive window takes,
    /// `len.min(acceptance_window())`: all of it when what we advertised
    /// covers it (the window is at least that), else the window decides.
    fn window_take(&self, len: usize) -> usize {
        if self.rcv_adv > self.rcv_nxt && (self.rcv_adv - self.rcv_nxt) as usize >= len {
            return len;
        }
        len.min(self.acceptance_window() as usize)
    }

    /// The four-case acceptability test (RFC 9293 §3.10.7.4, first step).
    fn segment_is_acceptable(&self, seg: &Segment) -> bool {
        let len = seg.seq_len();
        let wnd = self.acceptance_window();
        let seq = seg.seq;
        match (len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => seq.in_window(self.rcv_nxt, wnd),
            (_, 0) => false,
            (_, _) => {
                let last = seq + (len - 1);
                seq.in_window(self.rcv_nxt, wnd) || last.in_window(self.rcv_nxt, wnd)
            }
        }
    }

    /// With a zero receive window, valid ACKs must still be processed
    /// (RFC 9293 §3.10.7.4): keep the ACK of an in-sequence segment, drop its text and FIN.
    #[cold]
    #[inline(never)]
    fn ack_part_of_zero_window_segment<'a>(&self, seg: &Segment<'a>) -> Option<Segment<'a>> {
        let zero_window = self.acceptance_window() == 0;
        let ackable = seg.flags.ack() && !seg.flags.syn() && !seg.flags.rst();
        if !(zero_window && ackable && seg.seq == self.rcv_nxt && seg.seq_len() > 0) {
            return None;
        }
        let flags = crate::wire::TcpFlags(seg.flags.0 & !crate::wire::TcpFlags::FIN.0);
        Some(Segment {
            flags,
            payload: &[],
            ..*seg
        })
    }

    /// Unacceptable: ACK it unless it is a RST (RFC 9293 §3.10.7.4; RFC 5961 §3.2 drops the RST).
    #[cold]
    #[inline(never)]
    fn drop_unacceptable(&mut self, now: Instant, seg: &Segment) -> SegmentOutcome {
        if seg.flags.rst() {
            return SegmentOutcome::Dropped;
        }
        if self.state == State::SynReceived && seg.flags.syn() && seg.seq == self.irs {
            // The peer lost our SYN-ACK and retransmitted its SYN: send it again.
            self.snd_nxt = self.iss;
            return SegmentOutcome::Dropped;
        }
        if self.neg.sack && !seg.payload.is_empty() {
            self.note_old_duplicate(seg);
        }
        if self.state == State::TimeWait && seg.flags.fin() {
            // A retransmitted FIN in TIME-WAIT: ACK it and restart 2×MSL (RFC 9293 §3.10.7.4).
            self.timers.close = now + self.opts.time_wait;
        }
        self.ack_now = true;
        SegmentOutcome::Dropped
    }

    /// Data entirely below RCV.NXT is a duplicate: report it as a D-SACK (RFC 2883 §4).
    fn note_old_duplicate(&mut self, seg: &Segment) {
        let len = u32::try_from(seg.payload.len()).unwrap_or(u32::MAX);
        let end = seg.seq + len;
        if end > self.rcv_nxt || self.rcv_nxt - seg.seq > 0x4000_0000 {
            return;
        }
        let base = self.fl.recvbuf.next_offset();
        let back = u64::from(self.rcv_nxt - seg.seq);
        if let Some(start) = base.checked_sub(back) {
            self.fl.pending_dsack = Some((start, start + u64::from(len)));
        }
    }

    /// Keep TS.Recent from segments covering Last.ACK.sent (RFC 7323 §4.3).
    fn update_ts_recent(&mut self, now: Instant, seg: &Segment) {
        if !self.neg.timestamps {
            return;
        }
        let Some((val, _)) = seg.options.timestamps else {
            return;
        };
        if seg.seq <= self.last_ack_sent && (val.wrapping_sub(self.ts_recent) as i32) >= 0 {
            self.ts_recent = val;
            self.ts_recent_at = Ms32::at(now);
        }
    }

    /// In-window RST: exact match resets, otherwise a challenge ACK (RFC 5961 §3.2).
    #[cold]
    #[inline(never)]
    fn rst_in_window(&mut self, now: Instant, seg: &Segment) -> SegmentOutcome {
        if seg.seq != self.rcv_nxt {
            self.send_challenge_ack(now);
            return SegmentOutcome::Dropped;
        }
        match self.state {
            // RFC 1337: ignore RST in TIME-WAIT (TIME-WAIT assassination).
            State::TimeWait => return SegmentOutcome::Dropped,
            State::SynReceived if !self.passive => self.enter_closed(CloseReason::Refused),
            _ => self.enter_closed(CloseReason::Reset),
        }
        SegmentOutcome::Accepted
    }

    /// SYN in a synchronized state: challenge ACK, never reset (RFC 5961 §4.2).
    #[cold]
    #[inline(never)]
    fn syn_in_window(&mut self, now: Instant, _seg: &Segment) -> SegmentOutcome {
        self.send_challenge_ack(now);
        SegmentOutcome::Dropped
    }

    /// SYN-RECEIVED: an ACK of our SYN establishes, any other ACK gets a RST (RFC 9293 §3.10.7.4, fifth step).
    fn ack_completes_passive_open(&mut self, now: Instant, seg: &Segment) -> bool {
        if !(seg.ack > self.snd_una && seg.ack <= self.snd_max) {
            self.reset_unacceptable_ack(seg);
            return false;
        }
        self.state = State::Established;
        self.snd_wnd = u32::from(seg.window) << self.neg.snd_shift;
        self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack;
        self.raise(EV_CONNECTED);
        self.after_handshake(now);
        true
    }

    /// ACK processing with RFC 5961 §5.2 range validation; false = drop the segment.
    fn process_ack(&mut self, now: Instant, seg: &Segment) -> bool {
        let ack = seg.ack;
        if ack > self.snd_max {
            // Acks something not yet sent (RFC 9293 §3.10.7.4, RFC 5961 §5.2).
            self.send_challenge_ack(now);
            return false;
        }
        let oldest_valid = self.snd_una - self.max_snd_wnd.min(0x7fff_ffff);
        if ack < oldest_valid {
            // Too old to be a valid ACK: likely blind injection (RFC 5961 §5.2).
            self.send_challenge_ack(now);
            return false;
        }
        let window_before = self.snd_wnd;
        self.update_send_window(seg);
        let advanced = ack > self.snd_una;
        let duplicate = !advanced && self.is_duplicate_ack(seg, window_before);
        let data_acked = if advanced {
            self.on_new_ack(now, seg)
        } else {
            0
        };
        if self.neg.sack {
            let skip = self.ack_teaches_recovery_nothing(advanced, seg);
            // Debug builds run the skipped work anyway and check that it
            // changed nothing (every test exercises the shortcut).
            if !skip || cfg!(debug_assertions) {
                #[cfg(debug_assertions)]
                let before = skip.then(|| self.recovery_snapshot());
                let newly_sacked = self.update_scoreboard(now, seg);
                let tsecr = seg.options.timestamps.map(|(_, ecr)| ecr);
                self.sack_recovery_on_ack(
                    now,
                    advanced,
                    duplicate,
                    data_acked,
                    newly_sacked,
                    tsecr,
                );
                #[cfg(debug_assertions)]
                if let Some(before) = before {
                    assert_eq!(
                        before,
                        self.recovery_snapshot(),
                        "skipped ACK work changed state"
                    );
                }
            }
        } else if advanced {
            self.recovery_on_new_ack(now, seg, data_acked);
        } else if duplicate {
            self.on_duplicate_ack(now, seg);
        }
        if advanced && self.fl.rto_eifel != RtoEifel::Idle {
            self.eifel_on_ack_after_rto(now, seg, data_acked);
        }
        if advanced || self.in_recovery {
            // A cumulative ACK restarts the tail loss probe (RFC 8985 §7.2);
            // in recovery any ACK does: the probe is for feedback that stopped.
            self.schedule_loss_probe(now);
        }
        // An emptied send ring is kept for the next send; the stack frees it once idle.
        self.ack_state_transitions(now)
    }

    /// Send window update when the segment is newer (RFC 9293 §3.10.7.4: SND.WL1/SND.WL2 rule).
    fn update_send_window(&mut self, seg: &Segment) {
        let newer = self.snd_wl1 < seg.seq || (self.snd_wl1 == seg.seq && self.snd_wl2 <= seg.ack);
        if !newer {
            return;
        }
        let wnd = u32::from(seg.window) << self.neg.snd_shift;
        let was_zero = self.snd_wnd == 0;
        self.snd_wnd = wnd;
        self.max_snd_wnd = self.max_snd_wnd.max(wnd);
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack;
        if wnd > 0 && was_zero {
            // Window opened: stop probing (RFC 9293 §3.8.6.1).
            self.fl.persist = Instant::MAX;
            self.persist_backoff = 0;
            self.probe_pending = false;
        }
    }

    /// RFC 5681 §2 duplicate ACK: no data, no SYN/FIN, same ACK and window, data outstanding.
    fn is_duplicate_ack(&self, seg: &Segment, window_before: u32) -> bool {
        seg.ack == self.snd_una
            && seg.payload.is_empty()
            && !seg.flags.syn()
            && !seg.flags.fin()
            && self.snd_max != self.snd_una
            && (u32::from(seg.window) << self.neg.snd_shift) == window_before
    }

    /// New data acknowledged: advance SND.UNA, free buffer, sample RTT,
    /// restart the timer (RFC 9293 §3.10.7.4, RFC 6298 §5.2-5.3); returns data bytes acked.
    fn on_new_ack(&mut self, now: Instant, seg: &Segment) -> u32 {
        let acked = seg.ack - self.snd_una;
        let old_off = self.snd_una_off;
        self.sample_rtt_on_ack(now, seg);
        self.snd_una = seg.ack;
        self.snd_una_off = self.snd_una_off.wrapping_add(u64::from(acked));
        if self.snd_nxt < self.snd_una {
            self.snd_nxt = self.snd_una;
        }
        self.cc.on_ack_round(seg.ack, self.snd_nxt);
        let end = self.fl.send_end_offset();
        let data_acked = self
            .snd_una_off
            .min(end)
            .saturating_sub(old_off.min(end).max(self.fl.sendbuf.start_offset()));
        self.fl.sendbuf.release_to(self.snd_una_off.min(end));
        self.retries = 0;
        self.probes = 0;
        self.unacked_since = now;
        if self.snd_una == self.snd_max {
            self.fl.rexmit = Instant::MAX;
        } else {
            self.fl.rexmit = now + self.rto();
        }
        self.raise_writable_if_room();
        u32::try_from(data_acked).unwrap_or(u32::MAX)
    }

    /// RTT sample from TSecr (RFC 7323 §4.1) or from the timed segment (RFC 6298 §3, Karn).
    fn sample_rtt_on_ack(&mut self, now: Instant, seg: &Segment) {
        if self.neg.timestamps {
            if let Some((_, ecr)) = seg.options.timestamps {
                if ecr != 0 && self.tsecr_unambiguous(ecr) {
                    let ms = self.ts_val(now).wrapping_sub(ecr);
                    if ms < 0x7fff_ffff {
                        self.take_rtt_sample(Duration::from_millis(u64::from(ms.max(1))));
                        self.fl.rtt_probe = None;
                        return;
                    }
                }
            }
        }
        if let Some((seq, sent)) = self.fl.rtt_probe {
            if seg.ack >= seq {
                let rtt = now.saturating_duration_since(sent);
                self.take_rtt_sample(rtt.max(Duration::from_micros(1)));
                self.fl.rtt_probe = None;
            }
        }
    }

    /// Karn's rule with timestamps: a TSecr from before our last RTO echoes a
    /// segment sent before the go-back (its ACK was lost, or a duplicate was
    /// answered with the old TS.Recent), so it would count the whole backoff
    /// as RTT (RFC 6298 §3, RFC 7323 §4.2).
    pub(super) fn tsecr_unambiguous(&self, ecr: u32) -> bool {
        self.fl
            .ts_rto_floor
            .map_or(true, |floor| (ecr.wrapping_sub(floor) as i32) >= 0)
    }

    /// State changes once our FIN is acknowledged (RFC 9293 §3.10.7.4, fifth step).
    fn ack_state_transitions(&mut self, now: Instant) -> bool {
        let fin_acked = self.fin_queued && self.snd_una == self.fin_seq() + 1;
        if !fin_acked {
            return true;
        }
        match self.state {
            State::FinWait1 => {
                self.state = State::FinWait2;
                self.fl.rexmit = Instant::MAX;
                if self.app_closed {
                    self.timers.close = now + self.opts.fin_wait2_timeout;
                }
            }
            State::Closing => self.enter_time_wait(now),
            State::LastAck => {
                self.enter_closed(CloseReason::Orderly);
            }
            _ => {}
        }
        true
    }

    /// Sixth to eighth steps: segment text, then FIN (RFC 9293 §3.10.7.4).
    pub(super) fn process_text_and_fin(&mut self, now: Instant, seg: &Segment) {
        if !seg.payload.is_empty() {
            if self.state.can_receive_data() {
                if self.app_closed {
                    self.reset_data_after_close();
                    return;
                }
                self.receive_data(now, seg);
            } else {
                // Data after the peer's FIN: nothing to do with it but ACK.
                self.ack_now = true;
            }
        }
        if seg.flags.fin() {
            let data_len = u32::try_from(seg.payload.len()).unwrap_or(u32::MAX);
            let fin_seq = seg.seq + data_len;
            if fin_seq == self.rcv_nxt {
                self.accept_fin(now);
            } else if fin_seq > self.rcv_nxt {
                self.fl.peer_fin_seq = Some(fin_seq);
                self.ack_now = true;
            } else {
                self.ack_now = true;
            }
        }
        if self.fl.peer_fin_seq == Some(self.rcv_nxt) && self.state.can_receive_data() {
            self.accept_fin(now);
        }
    }

    /// Data for an application that closed: RST (RFC 2525 §2.17, RFC 9293 §3.10.4).
    fn reset_data_after_close(&mut self) {
        self.fl.pending_rst = Some((self.snd_nxt, SeqNum(0), false));
        self.enter_closed(CloseReason::Reset);
    }

    /// Store in-window text; ACK out-of-order and hole-filling data at once,
    /// in-order data every second full segment or after the delay (RFC 9293 §3.10.7.4, RFC 5681 §4.2).
    fn receive_data(&mut self, now: Instant, seg: &Segment) {
        let base = self.fl.recvbuf.next_offset();
        let ahead = i64::from(seg.seq.diff(self.rcv_nxt));
        // Stream offset of the first byte; bytes before the stream start (the SYN) are cut.
        let (offset, payload) = if ahead >= 0 {
            (base + ahead as u64, seg.payload)
        } else {
            let back = ahead.unsigned_abs();
            match base.checked_sub(back) {
                Some(off) => (off, seg.payload),
                None => {
                    let skip = usize::try_from(back - base).unwrap_or(usize::MAX);
                    (0, seg.payload.get(skip..).unwrap_or(&[]))
                }
            }
        };
        // Never take more than the window we advertised (RFC 9293 §3.10.7.4).
        let wnd_end = base + u64::from(self.acceptance_window());
        let keep = usize::try_from(wnd_end.saturating_sub(offset)).unwrap_or(usize::MAX);
        let payload = payload.get(..payload.len().min(keep)).unwrap_or(&[]);
        if payload.is_empty() {
            self.ack_now = true;
            return;
        }
        if ahead == 0 {
            self.receive_in_order(now, offset, payload);
            return;
        }
        self.store_text(offset, payload);
        // Out-of-order or duplicate data: ACK at once (RFC 5681 §4.2).
        self.ack_now = true;
    }

    /// `receive_data` for non-empty in-window text at RCV.NXT (`offset`).
    #[inline(always)]
    fn receive_in_order(&mut self, now: Instant, offset: u64, payload: &[u8]) {
        let (had_hole, advanced) = self.store_text(offset, payload);
        if had_hole || advanced == 0 {
            // Hole-filling data (or nothing taken): ACK at once (RFC 5681 §4.2).
            self.ack_now = true;
            return;
        }
        self.schedule_delayed_ack(now, advanced);
    }

    /// Writes in-window text at stream `offset` into the receive buffer and
    /// advances RCV.NXT by what became contiguous; whether a hole was open
    /// before, and how many bytes advanced.
    #[inline(always)]
    fn store_text(&mut self, offset: u64, payload: &[u8]) -> (bool, usize) {
        let len16 = u16::try_from(payload.len()).unwrap_or(u16::MAX);
        self.rcv_mss = self.rcv_mss.max(len16.min(self.offer.mss));
        let had_hole = self.fl.recvbuf.has_out_of_order();
        let advanced = self.fl.recvbuf.write(offset, payload);
        if let Some(dup) = self.fl.recvbuf.take_dsack() {
            // Report the duplicate as the first SACK block (RFC 2883 §4).
            self.fl.pending_dsack = self.neg.sack.then_some(dup);
        }
        if advanced > 0 {
            self.rcv_nxt += advanced as u32;
            self.raise_readable();
        }
        (had_hole, advanced)
    }

    /// Delayed ACK: at least every second full-sized segment, else after the delay (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2).
    fn schedule_delayed_ack(&mut self, now: Instant, bytes: usize) {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.fl.unacked_rcv_bytes = self.fl.unacked_rcv_bytes.saturating_add(bytes);
        if self.fl.unacked_rcv_bytes >= 2 * u32::from(self.rcv_mss)
            || self.opts.delayed_ack == Dur32::ZERO
        {
            self.ack_now = true;
        } else if self.fl.delack == Instant::MAX {
            self.fl.delack = now + self.opts.delayed_ack;
        }
    }

    /// The peer's FIN, in sequence: advance RCV.NXT, ACK, change state (RFC 9293 §3.10.7.4, eighth step).
    fn accept_fin(&mut self, now: Instant) {
        self.fl.peer_fin_seq = None;
        self.rcv_nxt += 1;
        self.ack_now = true;
        self.raise(EV_PEER_CLOSED);
        self.raise_readable();
        match self.state {
            State::SynReceived | State::Established => self.state = State::CloseWait,
            // Our FIN is not acked here: an ACK of it (step five) ran first and
            // left FIN-WAIT-1 for FIN-WAIT-2 (RFC 9293 §3.10.7.4).
            State::FinWait1 => self.state = State::Closing,
            State::FinWait2 => self.enter_time_wait(now),
            State::TimeWait => self.timers.close = now + self.opts.time_wait,
            _ => {}
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    extern crate std;

    use super::*;
    use crate::tcp::connection::ConnConfig;
    use crate::tcp::segment::{OutHead, OutOptions, OutSegment};
    use crate::wire::TcpOptions;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::cell::Cell;

    std::thread_local! {
        /// Set while the reference connection takes the full eight steps.
        pub(super) static GENERAL_ONLY: Cell<bool> = const { Cell::new(false) };
    }

    /// A segment with its payload copied out of the sender's ring.
    #[derive(Clone, Debug, PartialEq)]
    struct Owned {
        seq: SeqNum,
        ack: SeqNum,
        flags: TcpFlags,
        window: u16,
        options: TcpOptions,
        payload: Vec<u8>,
    }

    impl Owned {
        fn of(s: &OutSegment) -> Owned {
            let mut payload = s.payload.0.to_vec();
            payload.extend_from_slice(s.payload.1);
            Owned {
                seq: s.seq,
                ack: s.ack,
                flags: s.flags,
                window: s.window,
                options: s.options,
                payload,
            }
        }

        fn seg(&self) -> Segment<'_> {
            Segment {
                seq: self.seq,
                ack: self.ack,
                flags: self.flags,
                window: self.window,
                options: self.options,
                payload: &self.payload,
            }
        }
    }

    fn drain(c: &mut Connection, now: Instant) -> Vec<Owned> {
        let mut out = Vec::new();
        while let Some(s) = c.poll_transmit(now, 1000) {
            out.push(Owned::of(&s));
        }
        out
    }

    /// xorshift64.
    fn next(st: &mut u64) -> u64 {
        *st ^= *st << 13;
        *st ^= *st >> 7;
        *st ^= *st << 17;
        *st
    }

    /// The whole connection, for comparing two of them.
    fn dump(c: &Connection) -> String {
        format!("{c:?}")
    }

    /// Feeds `seg` to `b1` (header prediction on) and `b2` (the eight steps
    /// only) and checks that both end in the same state; true if `b1`
    /// predicted it.
    fn feed_both(b1: &mut Connection, b2: &mut Connection, now: Instant, seg: &Segment) -> bool {
        GENERAL_ONLY.with(|g| g.set(false));
        b1.fl.ensure();
        let predicted = b1.state != State::Closed && b1.is_predicted_in_order_data(seg);
        let o1 = b1.handle_segment(now, seg);
        GENERAL_ONLY.with(|g| g.set(true));
        let o2 = b2.handle_segment(now, seg);
        GENERAL_ONLY.with(|g| g.set(false));
        assert_eq!(o1, o2);
        assert_eq!(dump(b1), dump(b2), "{seg:?}");
        predicted
    }

    /// A connected sender and two identical receivers.
    fn established(cfg: &ConnConfig, now: Instant) -> (Connection, Connection, Connection) {
        let mut a = Connection::connect(cfg, SeqNum(0xffff_f000), now);
        let syn = drain(&mut a, now);
        let syn = syn.first().expect("a SYN");
        let b1 = Connection::accept(cfg, SeqNum(77), &syn.seg(), now);
        let b2 = Connection::accept(cfg, SeqNum(77), &syn.seg(), now);
        (a, b1, b2)
    }

    /// Two receivers get every segment, one with header prediction and one
    /// through the full eight steps only; after each segment, timer and
    /// read their whole state, their outcome and what they send must be
    /// the same. The sender's segments are lost, duplicated and reordered
    /// at random, the receiver reads at random (window changes) and, late
    /// in the run, sends data of its own (something outstanding), with
    /// several option combinations. Returns how many segments were predicted.
    fn receivers_agree(cfg: &ConnConfig, seed: u64) -> usize {
        let mut st = seed;
        let mut now = Instant::from_millis(1000);
        let (mut a, mut b1, mut b2) = established(cfg, now);
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 31 + 7) as u8).collect();
        let (mut sent, mut predicted) = (0usize, 0usize);
        let mut to_b: Vec<Owned> = Vec::new();
        let mut buf = [0u8; 5000];
        for step in 0..3000 {
            let r = next(&mut st);
            if r % 3 != 0 {
                let off = sent % 60_000;
                let n = (r >> 8) as usize % 6000;
                sent += a.send(&data[off..off + n]).unwrap_or(0);
            }
            while a.recv(&mut buf).is_ok_and(|n| n > 0) {}
            if step >= 2400 && r % 17 == 0 {
                // Late in the run, the receiver sends a little data of its own.
                let n = (r >> 20) as usize % 700 + 1;
                assert_eq!(b1.send(&data[..n]).ok(), b2.send(&data[..n]).ok());
            }
            to_b.extend(drain(&mut a, now));
            // Deliver with loss, duplication and reordering.
            let mut batch = core::mem::take(&mut to_b);
            if batch.len() > 1 && r % 5 == 0 {
                let i = (r >> 32) as usize % (batch.len() - 1);
                batch.swap(i, i + 1);
            }
            for s in &batch {
                let roll = next(&mut st) % 100;
                let copies = match roll {
                    0..=7 => 0,
                    8..=11 => 2,
                    _ => 1,
                };
                for _ in 0..copies {
                    predicted += usize::from(feed_both(&mut b1, &mut b2, now, &s.seg()));
                }
            }
            // A stretch of slow reading closes the window (probes, zero-window data).
            let reads = match step {
                1000..=1400 => r % 16 == 0,
                _ => r % 4 != 0,
            };
            if reads {
                let n = (r >> 40) as usize % buf.len() + 1;
                let got1 = b1.recv(&mut buf[..n]);
                let copy1 = buf;
                let got2 = b2.recv(&mut buf[..n]);
                assert_eq!(got1, got2, "step {step}");
                assert_eq!(copy1, buf, "step {step}");
            }
            now += Duration::from_millis(next(&mut st) % 30);
            for c in [&mut a, &mut b1, &mut b2] {
                if c.poll_timeout().is_some_and(|t| t <= now) {
                    c.handle_timeout(now);
                }
            }
            let out1 = drain(&mut b1, now);
            assert_eq!(out1, drain(&mut b2, now), "step {step}");
            assert_eq!(dump(&b1), dump(&b2), "step {step}");
            for s in &out1 {
                if next(&mut st) % 10 != 0 {
                    a.handle_segment(now, &s.seg());
                }
            }
            while b1.poll_event().is_some() {}
            while b2.poll_event().is_some() {}
            while a.poll_event().is_some() {}
        }
        predicted
    }

    #[test]
    fn header_prediction_matches_the_eight_steps() {
        let base = ConnConfig {
            send_buffer: 16 * 1024,
            recv_buffer: 8 * 1024,
            ..ConnConfig::default()
        };
        let mut total = 0;
        for (i, (sack, rack, ts, ws)) in [
            (true, true, true, true),
            (true, false, true, false),
            (false, false, false, false),
            (false, false, true, true),
            (true, true, false, true),
        ]
        .into_iter()
        .enumerate()
        {
            let cfg = ConnConfig {
                enable_sack: sack,
                enable_rack: rack,
                enable_timestamps: ts,
                enable_window_scale: ws,
                ..base.clone()
            };
            let predicted = receivers_agree(&cfg, 0x1234_5678_9abc_def1 ^ (i as u64) << 7);
            // Each configuration used the fast path (and not for everything).
            assert!(predicted > 100, "config {i}: {predicted}");
            total += predicted;
        }
        assert!(total > 500, "{total}");
    }

    /// `data_out_options` (the stack's transmit path) gives the options and
    /// leaves the state exactly as `data_options` does, SACK blocks and
    /// D-SACK included: two identical receivers get out-of-order,
    /// duplicate and in-order data, and before each of their answers one
    /// takes the options one way and the other the other way.
    #[test]
    fn out_options_match_data_options() {
        let (mut spilled, mut by_value, mut none) = (0, 0, 0);
        for (sack, ts) in [(true, true), (true, false), (false, true), (false, false)] {
            let cfg = ConnConfig {
                enable_sack: sack,
                enable_timestamps: ts,
                ..ConnConfig::default()
            };
            let mut st = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(sack) ^ u64::from(ts) << 1;
            let mut now = Instant::from_millis(1000);
            let (mut a, mut b1, mut b2) = established(&cfg, now);
            let data = [3u8; 40_000];
            for _ in 0..60 {
                let _ = a.send(&data[..(next(&mut st) % 9000) as usize]);
                let mut batch = drain(&mut a, now);
                if batch.len() > 2 {
                    let i = (next(&mut st) % (batch.len() as u64 - 1)) as usize;
                    batch.swap(i, i + 1);
                }
                for s in &batch {
                    for _ in 0..1 + usize::from(next(&mut st) % 7 == 0) {
                        if next(&mut st) % 9 != 0 {
                            b1.handle_segment(now, &s.seg());
                            b2.handle_segment(now, &s.seg());
                        }
                        b1.fl.ensure();
                        b2.fl.ensure();
                        let general = b1.data_options(now);
                        // Junk, to see that a spilled result overwrites it.
                        let mut spill = TcpOptions {
                            mss: Some(1),
                            ..TcpOptions::default()
                        };
                        let head = b2.data_out_options(now, &mut spill);
                        let lean = OutHead {
                            seq: SeqNum(0),
                            ack: SeqNum(0),
                            flags: TcpFlags::ACK,
                            window: 0,
                            options: head,
                            payload: (&[], &[]),
                        };
                        assert_eq!(general, lean.tcp_options(&spill));
                        assert_eq!(dump(&b1), dump(&b2));
                        match head {
                            OutOptions::Spilled => spilled += 1,
                            OutOptions::Timestamps(..) => by_value += 1,
                            OutOptions::None => none += 1,
                        }
                    }
                }
                let out = drain(&mut b1, now);
                assert_eq!(out, drain(&mut b2, now));
                for s in &out {
                    a.handle_segment(now, &s.seg());
                }
                while b1.recv(&mut [0u8; 4096]).is_ok_and(|n| n > 0) {}
                while b2.recv(&mut [0u8; 4096]).is_ok_and(|n| n > 0) {}
                now += Duration::from_millis(5);
            }
        }
        // Every kind was exercised.
        assert!(
            spilled > 10 && by_value > 10 && none > 10,
            "{spilled} {by_value} {none}"
        );
    }

    /// `receive_window_open` answers as `acceptance_window() > 0`, and
    /// `window_take(len)` as `len.min(acceptance_window())`, with
    /// RCV.ADV behind, at and ahead of RCV.NXT (near and across the
    /// half-space) and with the receive buffer from empty to full.
    #[test]
    fn receive_window_open_matches_acceptance_window() {
        fn check(b: &mut Connection, seen: &mut [usize; 2]) {
            let saved = b.rcv_adv;
            for delta in [
                0u32,
                1,
                100,
                70_000,
                0x7fff_ffff,
                0x8000_0000,
                0xffff_ff00,
                0xffff_ffff,
            ] {
                b.rcv_adv = b.rcv_nxt + delta;
                let open = b.receive_window_open();
                let window = b.acceptance_window();
                assert_eq!(open, window > 0, "{delta:#x}");
                for len in [0usize, 1, 99, 100, 101, 1448, 4096, 70_000, 70_001] {
                    let want = len.min(window as usize);
                    assert_eq!(b.window_take(len), want, "{delta:#x} {len}");
                }
                seen[usize::from(open)] += 1;
            }
            b.rcv_adv = saved;
        }
        let cfg = ConnConfig {
            recv_buffer: 4096,
            ..ConnConfig::default()
        };
        let mut now = Instant::from_millis(1000);
        let (mut a, mut b, _) = established(&cfg, now);
        let data = [5u8; 3000];
        let mut seen = [0usize; 2];
        let mut last = None;
        for round in 0..12 {
            let _ = a.send(&data);
            for s in drain(&mut a, now) {
                b.fl.ensure();
                b.handle_segment(now, &s.seg());
                check(&mut b, &mut seen);
                last = Some(s);
            }
            if round % 3 == 1 {
                // Fill what the sender left of the window.
                if let Some(mut seg) = last.clone() {
                    seg.seq = b.rcv_nxt;
                    seg.payload = alloc::vec![6u8; b.fl.recv_window()];
                    b.handle_segment(now, &seg.seg());
                    check(&mut b, &mut seen);
                }
            }
            for s in drain(&mut b, now) {
                a.handle_segment(now, &s.seg());
            }
            if round % 3 == 2 {
                while b.recv(&mut [0u8; 4096]).is_ok_and(|n| n > 0) {}
            }
            now += Duration::from_millis(1);
        }
        // Both answers came up.
        assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
    }

    /// In-order data arriving at a closed receive window is not predicted
    /// (the eight steps keep only its ACK), and gives the same state both ways.
    #[test]
    fn data_at_a_closed_window_is_not_predicted() {
        let cfg = ConnConfig {
            recv_buffer: 4096,
            ..ConnConfig::default()
        };
        let mut now = Instant::from_millis(1000);
        let (mut a, mut b1, mut b2) = established(&cfg, now);
        let data = [5u8; 20_000];
        let mut last = None;
        let mut predicted = 0;
        for _ in 0..10 {
            let _ = a.send(&data);
            for s in drain(&mut a, now) {
                predicted += usize::from(feed_both(&mut b1, &mut b2, now, &s.seg()));
                last = Some(s);
            }
            let out = drain(&mut b1, now);
            assert_eq!(out, drain(&mut b2, now));
            for s in &out {
                a.handle_segment(now, &s.seg());
            }
            now += Duration::from_millis(1);
        }
        assert!(predicted > 0);
        // Fill what SWS avoidance left of the window (predicted: it fits).
        let mut seg = last.expect("data was sent");
        seg.seq = b1.rcv_nxt;
        seg.payload = alloc::vec![6u8; b1.acceptance_window() as usize];
        if !seg.payload.is_empty() {
            assert!(feed_both(&mut b1, &mut b2, now, &seg.seg()));
        }
        assert_eq!(b1.acceptance_window(), 0, "the window is closed");
        seg.seq = b1.rcv_nxt;
        seg.payload = alloc::vec![7u8; 100];
        assert!(!b1.is_predicted_in_order_data(&seg.seg()));
        assert!(!feed_both(&mut b1, &mut b2, now, &seg.seg()));
    }
}
