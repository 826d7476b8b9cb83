//! Segment emission: SYN, data with Nagle and SWS avoidance, FIN, ACKs,
//! probes and RSTs (RFC 9293 §3.8.6, §3.10; RFC 896; RFC 7323; RFC 2018).

use crate::tcp::cc::CongestionControl;
use crate::tcp::connection::Connection;
use crate::tcp::options;
use crate::tcp::segment::{OutHead, OutOptions, OutSegment};
use crate::tcp::state::State;
use crate::tcp::timers::Ms32;
use crate::tcp::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::tcp::{TcpFlags, TcpOptions};

/// What `poll_transmit` decided to send (payload is taken from the send ring
/// last, options in `build`): small, as it is moved through every planner.
struct Plan {
    seq: SeqNum,
    flags: TcpFlags,
    data_off: u64,
    len: usize,
}

impl Connection {
    /// The next segment to send, if any (RFC 9293 §3.10, output side).
    pub fn poll_transmit(&mut self, now: Instant, max_payload: usize) -> Option<OutSegment<'_>> {
        let mut spill = TcpOptions::default();
        let head = self.poll_transmit_head(now, max_payload, &mut spill)?;
        Some(head.into_segment(&spill))
    }

    /// `poll_transmit` for the stack: options other than none or timestamps
    /// only are written to `spill`, not carried in the result by value (its
    /// copy out would load the options' fresh narrow stores wide and stall).
    pub(crate) fn poll_transmit_head(
        &mut self,
        now: Instant,
        max_payload: usize,
        spill: &mut TcpOptions,
    ) -> Option<OutHead<'_>> {
        self.clock = self.clock.max(now);
        // No floor here: `segment_limit` applies it.
        self.payload_cap = u16::try_from(max_payload).unwrap_or(u16::MAX);
        if let Some(rst) = self.take_pending_rst() {
            return Some(rst);
        }
        self.fl.ensure();
        let plan = match self.state {
            State::Closed | State::Listen => None,
            State::SynSent => self.plan_syn(now, false),
            State::SynReceived => self.plan_syn(now, true).or_else(|| self.plan_pure_ack()),
            _ => self.plan_synchronized(now, max_payload),
        }?;
        Some(self.build(now, plan, spill))
    }

    /// Queued RST: <SEQ=x><CTL=RST> or <SEQ=x><ACK=y><CTL=RST,ACK> (RFC 9293 §3.10.7.1).
    /// The test inline, the rare RST out of line (keeps the poll's hot code dense).
    #[inline(always)]
    fn take_pending_rst(&mut self) -> Option<OutHead<'static>> {
        if !self.fl.is_allocated() || self.fl.pending_rst.is_none() {
            return None;
        }
        self.build_pending_rst()
    }

    #[cold]
    #[inline(never)]
    fn build_pending_rst(&mut self) -> Option<OutHead<'static>> {
        let (seq, ack, with_ack) = self.fl.pending_rst.take()?;
        self.stats.segs_sent += 1;
        let flags = if with_ack {
            TcpFlags::RST | TcpFlags::ACK
        } else {
            TcpFlags::RST
        };
        Some(OutHead {
            seq,
            ack: if with_ack { ack } else { SeqNum(0) },
            flags,
            window: 0,
            options: OutOptions::None,
            payload: (&[], &[]),
        })
    }

    /// SYN (or SYN-ACK) when it has not been sent or must be resent (RFC 9293 §3.10.1, §3.10.7.2).
    fn plan_syn(&mut self, now: Instant, with_ack: bool) -> Option<Plan> {
        if self.snd_nxt != self.iss {
            return None;
        }
        let retransmission = self.snd_max != self.iss;
        if retransmission {
            self.stats.segs_retransmitted += 1;
        } else {
            self.fl.rtt_probe = Some((self.iss + 1, now));
        }
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_nxt;
        if self.fl.rexmit == Instant::MAX {
            self.fl.rexmit = now + self.rto();
        }
        let flags = if with_ack {
            TcpFlags::SYN | TcpFlags::ACK
        } else {
            TcpFlags::SYN
        };
        Some(Plan {
            seq: self.iss,
            flags,
            data_off: 0,
            len: 0,
        })
    }

    /// A bare ACK if one is owed.
    /// A bare ACK carries the highest sequence number sent: after an RTO pulls
    /// SND.NXT back, an older one would be unacceptable to the peer, which
    /// would drop its ACK information and answer with an ACK of its own, for ever
    /// (RFC 9293 §3.10.7.4 acceptability; Linux sends SND.NXT = our SND.MAX).
    fn plan_pure_ack(&mut self) -> Option<Plan> {
        if !self.ack_now {
            return None;
        }
        Some(Plan {
            seq: self.snd_max,
            flags: TcpFlags::ACK,
            data_off: 0,
            len: 0,
        })
    }

    /// Synchronized states: retransmission, new data, FIN, probe, or ACK.
    fn plan_synchronized(&mut self, now: Instant, _max_payload: usize) -> Option<Plan> {
        let limit = self.segment_limit();
        // A loss probe with new data goes through the one call of
        // plan_new_data below, so that it stays inlined here (bulk hot path).
        let mut probe_fresh = None;
        if self.probe_due() {
            match self.plan_loss_probe(now, limit) {
                LossProbe::Sent(plan) => return Some(plan),
                LossProbe::Fresh(force) => probe_fresh = Some(force),
                LossProbe::Nothing => {}
            }
        }
        if probe_fresh.is_none() && self.retransmission_may_be_due() {
            if let Some(plan) = self.plan_retransmission(now, limit) {
                return Some(plan);
            }
        }
        if let Some(plan) = self.plan_new_data(now, limit) {
            if probe_fresh.is_some() {
                self.end_probe(now, true, false);
            }
            return Some(plan);
        }
        if let Some(force) = probe_fresh {
            self.force_send = force;
            if let Some(plan) = self.plan_loss_probe_resend(now, limit) {
                return Some(plan);
            }
            if let Some(plan) = self.plan_retransmission(now, limit) {
                return Some(plan);
            }
        }
        if self.probe_pending {
            self.probe_pending = false;
            return Some(self.plan_window_probe());
        }
        self.plan_pure_ack()
    }

    /// Cheap pre-check for `plan_retransmission`: each of its three sources
    /// needs one of these flags, and in bulk transfer none is set.
    #[inline]
    fn retransmission_may_be_due(&self) -> bool {
        self.fl.rexmit_seq.is_some() || self.in_recovery || self.rack_rto_recovery()
    }

    /// Retransmissions in their order of precedence: the RTO's or a partial
    /// ACK's, SACK recovery, RACK's after an RTO.
    #[inline(never)]
    fn plan_retransmission(&mut self, now: Instant, limit: usize) -> Option<Plan> {
        if let Some(seq) = self.fl.rexmit_seq.take() {
            if let Some(plan) = self.plan_resend(now, seq, limit) {
                return Some(plan);
            }
        }
        if let Some(plan) = self.plan_sack_recovery(now, limit) {
            return Some(plan);
        }
        if let Some((seq, len)) = self.rack_rto_retransmission() {
            if let Some(plan) = self.plan_resend(now, seq, limit.min(len as usize)) {
                return Some(plan);
            }
        }
        None
    }

    /// Tail loss probe: one segment of new data if the receive window allows
    /// (`Fresh`, with the force_send to restore: the caller plans it), else
    /// the last segment sent, again (RFC 8985 §7.3); in recovery, the segment
    /// at SND.UNA instead.
    #[cold]
    #[inline(never)]
    fn plan_loss_probe(&mut self, now: Instant, limit: usize) -> LossProbe {
        self.begin_probe();
        let unsent = self.unsent_bytes();
        let rwnd_room = self.snd_wnd.saturating_sub(self.snd_nxt - self.snd_una) > 0;
        let fresh = (unsent > 0 || self.fin_pending()) && rwnd_room;
        if fresh && self.snd_nxt == self.snd_max {
            let force = self.force_send;
            self.force_send = true;
            return LossProbe::Fresh(force);
        }
        match self.plan_loss_probe_resend(now, limit) {
            Some(plan) => LossProbe::Sent(plan),
            None => LossProbe::Nothing,
        }
    }

    /// The probe resends the tail (or SND.UNA in recovery) (RFC 8985 §7.3).
    #[cold]
    #[inline(never)]
    fn plan_loss_probe_resend(&mut self, now: Instant, limit: usize) -> Option<Plan> {
        let outstanding = self.snd_max - self.snd_una;
        let back = outstanding.min(u32::try_from(limit).unwrap_or(u32::MAX));
        // In recovery the silence most likely means the retransmission at
        // SND.UNA (or its ACK) was lost: probe with it rather than with the tail.
        let seq = if self.in_recovery {
            self.snd_una
        } else {
            self.snd_max - back
        };
        let plan = if back == 0 {
            None
        } else {
            self.plan_resend(now, seq, limit)
        };
        self.end_probe(now, plan.is_some(), true);
        plan
    }

    /// In SACK recovery, while pipe < cwnd: NextSeg rule 1 (a lost hole), then
    /// rule 2 (new data, left to the caller), then rule 3 (any hole) (RFC 6675 §5 step C).
    fn plan_sack_recovery(&mut self, now: Instant, limit: usize) -> Option<Plan> {
        if !(self.in_recovery && self.neg.sack) || self.sack_pipe() >= self.cc.cwnd() {
            return None;
        }
        if let Some((seq, len)) = self.sack_next_retransmission(false) {
            return self.plan_resend(now, seq, limit.min(len as usize));
        }
        let unsent = usize::try_from(self.unsent_bytes()).unwrap_or(usize::MAX);
        let rwnd_room = self.snd_wnd.saturating_sub(self.snd_nxt - self.snd_una) > 0;
        if unsent > 0 && rwnd_room {
            return None;
        }
        let (seq, len) = self.sack_next_retransmission(true)?;
        self.plan_resend(now, seq, limit.min(len as usize))
    }

    /// Exactly the decision of `plan_sack_recovery`, without side effects, so
    /// `wants_transmit` never promises a segment `poll_transmit` will not give.
    #[inline]
    fn sack_recovery_would_send(&self) -> bool {
        if !(self.in_recovery && self.neg.sack) {
            return false;
        }
        self.sack_recovery_would_send_in_recovery()
    }

    #[inline(never)]
    fn sack_recovery_would_send_in_recovery(&self) -> bool {
        if self.sack_pipe() >= self.cc.cwnd() {
            return false;
        }
        if self.sack_next_retransmission(false).is_some() {
            return true;
        }
        let unsent = self.unsent_bytes();
        let rwnd_room = self.snd_wnd.saturating_sub(self.snd_nxt - self.snd_una) > 0;
        if unsent > 0 && rwnd_room {
            return false;
        }
        self.sack_next_retransmission(true).is_some()
    }

    /// Retransmit from `seq`: fast retransmit, partial ACK, or a SACK hole (RFC 5681 §3.2, RFC 6582, RFC 6675).
    fn plan_resend(&mut self, now: Instant, seq: SeqNum, limit: usize) -> Option<Plan> {
        if seq < self.snd_una || seq >= self.snd_max {
            return None;
        }
        let off = self.seq_to_send_off(seq);
        let data_left = self.fl.send_end_offset().saturating_sub(off);
        let len = usize::try_from(data_left)
            .unwrap_or(usize::MAX)
            .min(limit)
            .min((self.snd_max - seq) as usize);
        let fin =
            self.fin_queued && seq + len as u32 == self.fin_seq() && self.snd_max > self.fin_seq();
        if len == 0 && !fin {
            return None;
        }
        self.stats.segs_retransmitted += 1;
        // The FIN counts as one byte of sequence space, so HighRxt moves past it.
        self.note_recovery_send(off, len + usize::from(fin), true);
        self.rack_on_send(now, off, (len + usize::from(fin)) as u64, true);
        let mut flags = TcpFlags::ACK;
        if fin {
            flags |= TcpFlags::FIN;
        }
        if len > 0 {
            flags |= TcpFlags::PSH;
        }
        if self.fl.rexmit == Instant::MAX {
            self.fl.rexmit = now + self.rto();
        }
        Some(Plan {
            seq,
            flags,
            data_off: off,
            len,
        })
    }

    /// New (or go-back-N) data and FIN within min(cwnd, rwnd), with Nagle and
    /// sender SWS avoidance (RFC 9293 §3.8.6.2.1, RFC 896, RFC 5681 §3.1).
    fn plan_new_data(&mut self, now: Instant, limit: usize) -> Option<Plan> {
        let unsent = usize::try_from(self.unsent_bytes()).unwrap_or(usize::MAX);
        if unsent == 0 && !self.fin_pending_at_nxt(0) {
            return None;
        }
        let in_flight = self.snd_nxt - self.snd_una;
        let nothing_outstanding = self.snd_max == self.snd_una;
        if nothing_outstanding {
            self.restart_after_idle(now);
        }
        let (len, fin) = self.sendable(limit, unsent);
        if len == 0 && !fin {
            self.arm_persist_if_stalled(now, unsent, in_flight);
            return None;
        }
        self.force_send = false;
        let seq = self.snd_nxt;
        let retransmission = seq < self.snd_max;
        let mut flags = TcpFlags::ACK;
        if len > 0 && len == unsent {
            flags |= TcpFlags::PSH;
        }
        if fin {
            flags |= TcpFlags::FIN;
        }
        let seq_len = len as u32 + u32::from(fin);
        self.snd_nxt = seq + seq_len;
        if retransmission {
            self.stats.segs_retransmitted += 1;
        } else if self.fl.rtt_probe.is_none() && !self.neg.timestamps {
            self.fl.rtt_probe = Some((self.snd_nxt, now));
        }
        if self.snd_nxt > self.snd_max {
            self.snd_max = self.snd_nxt;
        }
        let off = self.seq_to_send_off(seq);
        self.note_recovery_send(off, len, retransmission);
        self.rack_on_send(now, off, u64::from(seq_len), retransmission);
        if nothing_outstanding {
            self.unacked_since = now;
        }
        if self.fl.rexmit == Instant::MAX {
            self.fl.rexmit = now + self.rto();
        }
        self.fl.persist = Instant::MAX;
        Some(Plan {
            seq,
            flags,
            data_off: self.seq_to_send_off(seq),
            len,
        })
    }

    /// How much data (and whether the FIN) may go now: min(cwnd, rwnd), sender
    /// SWS avoidance (RFC 9293 §3.8.6.2.1) and Nagle (RFC 896, RFC 9293 §3.7.4).
    #[inline(always)]
    fn sendable(&self, limit: usize, unsent: usize) -> (usize, bool) {
        let fin_pending = self.fin_pending_at_nxt(unsent);
        let in_flight = self.snd_nxt - self.snd_una;
        let cwnd = self
            .cc
            .cwnd()
            .saturating_add(self.limited_transmit_allowance());
        let mut cwnd_room = cwnd.saturating_sub(self.cwnd_flight());
        if self.probe_ignores_cwnd() {
            // The loss probe's one segment goes regardless of cwnd (RFC 8985 §7.3).
            cwnd_room = cwnd_room.max(u32::try_from(limit).unwrap_or(u32::MAX));
        }
        let rwnd_room = self.snd_wnd.saturating_sub(in_flight);
        let usable = cwnd_room.min(rwnd_room) as usize;
        let mut len = unsent.min(usable).min(limit);
        if !self.force_send && len < limit {
            if len < unsent {
                len = self.sws_sender_len(len);
            } else if self.nagle_holds(in_flight, fin_pending) {
                len = 0;
            }
        }
        (len, fin_pending && len == unsent)
    }

    /// Nagle: no new small segment while data is unacknowledged (RFC 896).
    fn nagle_holds(&self, in_flight: u32, fin_pending: bool) -> bool {
        in_flight > 0 && !self.opts.nodelay && !fin_pending
    }

    /// FIN goes out once all data before it is sent (RFC 9293 §3.10.4).
    #[inline(always)]
    fn fin_pending_at_nxt(&self, unsent: usize) -> bool {
        self.fin_queued && self.state.fin_queued() && {
            let fin = self.fin_seq();
            self.snd_nxt + unsent as u32 == fin && self.snd_nxt <= fin
        }
    }

    /// Sender SWS avoidance when the window cuts a segment short: send only
    /// at least half the largest window the peer offered (RFC 9293 §3.8.6.2.1).
    fn sws_sender_len(&self, len: usize) -> usize {
        let half_max_wnd = (self.max_snd_wnd / 2) as usize;
        if len > 0 && len >= half_max_wnd {
            len
        } else {
            0
        }
    }

    /// Payload per segment: the effective MSS less the SACK option bytes the
    /// next segment will carry (RFC 6691 §2: options reduce the data), capped
    /// by the stack's last payload limit.
    #[inline]
    pub(super) fn segment_limit(&self) -> usize {
        let mss = usize::from(self.eff_mss).saturating_sub(self.sack_option_bytes());
        mss.min(usize::from(self.payload_cap)).max(1)
    }

    /// Bytes of the SACK option the next segment carries: 2 NOPs, kind,
    /// length and 8 per block (RFC 2018 §3), as `data_options` builds it.
    #[inline]
    fn sack_option_bytes(&self) -> usize {
        // In-order data and no D-SACK (the common case): no blocks at all.
        if !self.neg.sack
            || (self.fl.pending_dsack.is_none() && !self.fl.recvbuf.has_out_of_order())
        {
            return 0;
        }
        self.sack_option_bytes_with_blocks()
    }

    #[cold]
    #[inline(never)]
    fn sack_option_bytes_with_blocks(&self) -> usize {
        let ranges = if self.fl.recvbuf.has_out_of_order() {
            let mut r = [(0u64, 0u64); 4];
            self.fl.recvbuf.sack_ranges(&mut r)
        } else {
            0
        };
        let blocks = ranges + usize::from(self.fl.pending_dsack.is_some());
        let cap = if self.neg.timestamps { 3 } else { 4 };
        match blocks.min(cap) {
            0 => 0,
            n => 4 + 8 * n,
        }
    }

    /// Data waits, nothing is in flight and nothing may go now (window below
    /// the SWS threshold or zero): start the persist timer, since no output
    /// poll will come to do it (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17).
    #[inline]
    pub(super) fn arm_persist_if_window_stalled(&mut self, now: Instant) {
        // Checked inline: called per segment received; in bulk transfer the
        // sender always has something in flight, the receiver nothing unsent.
        if self.snd_max != self.snd_una
            || !self.state.is_synchronized()
            || self.unsent_bytes() == 0
            || self.fl.persist != Instant::MAX
            || self.probe_pending
            || self.force_send
        {
            return;
        }
        self.arm_persist_if_nothing_sendable(now);
    }

    /// The rest of `arm_persist_if_window_stalled`: is anything sendable now?
    #[inline(never)]
    fn arm_persist_if_nothing_sendable(&mut self, now: Instant) {
        let unsent = usize::try_from(self.unsent_bytes()).unwrap_or(usize::MAX);
        let (len, fin) = self.sendable(self.segment_limit(), unsent);
        if len == 0 && !fin {
            self.arm_persist_if_stalled(now, unsent, self.snd_nxt - self.snd_una);
        }
    }

    /// Nothing can go out but data waits: probe the window later (RFC 9293 §3.8.6.1).
    fn arm_persist_if_stalled(&mut self, now: Instant, unsent: usize, in_flight: u32) {
        if unsent == 0 || in_flight != 0 || self.fl.persist != Instant::MAX {
            return;
        }
        let shift = self.persist_backoff.min(16);
        let base = self.rto();
        let interval = base
            .saturating_mul(1u64 << shift)
            .min(Duration::from_secs(60).max(base));
        self.fl.persist = now + interval;
        if self.probes == 0 {
            self.unacked_since = now;
        }
    }

    /// Restart after idle: cwnd back to the initial window when idle longer than an RTO (RFC 5681 §4.1).
    fn restart_after_idle(&mut self, now: Instant) {
        let rto = self.rto();
        if self.last_send.elapsed(now) > rto && self.stats.segs_sent > 0 {
            self.cc.on_idle_restart(now, rto);
        }
    }

    /// Window or keep-alive probe: <SEQ=SND.UNA-1><ACK> with no data, which
    /// makes the peer answer with its current window (Linux practice; RFC 9293 §3.8.4, §3.8.6.1).
    fn plan_window_probe(&mut self) -> Plan {
        Plan {
            seq: self.snd_una - 1,
            flags: TcpFlags::ACK,
            data_off: 0,
            len: 0,
        }
    }

    /// The window to advertise, with receiver SWS avoidance (RFC 9293 §3.8.6.2.2).
    fn window_to_advertise(&mut self) -> u32 {
        let room = u32::try_from(self.fl.recv_window()).unwrap_or(u32::MAX);
        let max = 0xffffu32 << self.neg.rcv_shift;
        let room = room.min(max);
        let current = if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        let threshold = self.receiver_sws_threshold();
        if room >= current.saturating_add(threshold) || room >= max {
            room
        } else {
            current
        }
    }

    /// min(buffer/2, MSS): the smallest worthwhile window increase (RFC 9293 §3.8.6.2.2).
    fn receiver_sws_threshold(&self) -> u32 {
        let half = u32::try_from(self.fl.recv_limit() / 2).unwrap_or(u32::MAX);
        half.min(u32::from(self.rcv_mss)).max(1)
    }

    /// The application read enough that a window update is worth a segment (RFC 9293 §3.8.6.2.2).
    pub(super) fn window_update_worth_sending(&self) -> bool {
        let room = u32::try_from(self.fl.recv_window()).unwrap_or(u32::MAX);
        let room = room.min(0xffffu32 << self.neg.rcv_shift);
        let current = if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        room >= current.saturating_add(self.receiver_sws_threshold()) && current <= room / 2
    }

    /// Fill in ACK, window, options; record what was sent.
    fn build(&mut self, now: Instant, plan: Plan, spill: &mut TcpOptions) -> OutHead<'_> {
        let syn = plan.flags.syn();
        let has_ack = plan.flags.ack();
        // First: the options' narrow stores are copied out with wide loads
        // at the end, which stall unless the stores have left the store
        // buffer by then (nothing below depends on them).
        let options = if syn {
            *spill = self.syn_options(now, has_ack);
            OutOptions::Spilled
        } else {
            self.data_out_options(now, spill)
        };
        let window = if syn {
            // The window in a SYN or SYN-ACK is never scaled (RFC 7323 §2.2).
            u32::try_from(self.fl.recv_window())
                .unwrap_or(u32::MAX)
                .min(0xffff)
        } else {
            self.window_to_advertise()
        };
        let wire_window = if syn {
            window as u16
        } else {
            u16::try_from(window >> self.neg.rcv_shift).unwrap_or(u16::MAX)
        };
        if has_ack {
            let edge =
                self.rcv_nxt + (u32::from(wire_window) << if syn { 0 } else { self.neg.rcv_shift });
            if edge > self.rcv_adv || self.rcv_adv < self.rcv_nxt {
                self.rcv_adv = edge;
            }
            self.last_ack_sent = self.rcv_nxt;
            self.ack_now = false;
            self.fl.unacked_rcv_bytes = 0;
            self.fl.delack = Instant::MAX;
        }
        self.stats.segs_sent += 1;
        self.stats.bytes_sent += plan.len as u64;
        if plan.len > 0 || syn || plan.flags.fin() {
            self.last_send = Ms32::at(now);
        }
        let ack = if has_ack { self.rcv_nxt } else { SeqNum(0) };
        let payload = if plan.len > 0 {
            self.fl.sendbuf.slices(plan.data_off, plan.len)
        } else {
            (&[][..], &[][..])
        };
        OutHead {
            seq: plan.seq,
            ack,
            flags: plan.flags,
            window: wire_window,
            options,
            payload,
        }
    }

    /// The options of a SYN (our offer) or SYN-ACK (the answer to the peer's).
    #[cold]
    #[inline(never)]
    fn syn_options(&self, now: Instant, with_ack: bool) -> TcpOptions {
        let ts_val = self.ts_val(now);
        if with_ack {
            options::syn_ack_options(self.offer.mss, &self.neg, Some((ts_val, self.ts_recent)))
        } else {
            options::syn_options(&self.offer, ts_val)
        }
    }

    /// `data_options` as `OutOptions`: with SACK blocks to send, written to
    /// `spill`; otherwise the timestamps (or nothing) by value.
    #[inline]
    pub(super) fn data_out_options(&mut self, now: Instant, spill: &mut TcpOptions) -> OutOptions {
        if self.neg.sack && (self.fl.pending_dsack.is_some() || self.fl.recvbuf.has_out_of_order())
        {
            *spill = self.data_options(now);
            return OutOptions::Spilled;
        }
        // `data_options` takes the D-SACK note even when it sends no block.
        if self.fl.pending_dsack.is_some() {
            self.fl.pending_dsack = None;
        }
        if self.neg.timestamps {
            OutOptions::Timestamps(self.ts_val(now), self.ts_recent)
        } else {
            OutOptions::None
        }
    }

    /// Timestamps on every segment (RFC 7323 §3.2), SACK blocks when data is out of order (RFC 2018 §4).
    #[inline(never)]
    pub(super) fn data_options(&mut self, now: Instant) -> TcpOptions {
        let mut o = TcpOptions::default();
        if self.neg.timestamps {
            o.timestamps = Some((self.ts_val(now), self.ts_recent));
        }
        let dsack = self.fl.pending_dsack.take();
        if self.neg.sack && (dsack.is_some() || self.fl.recvbuf.has_out_of_order()) {
            let mut ranges = [(0u64, 0u64); 4];
            let n = self.fl.recvbuf.sack_ranges(&mut ranges);
            // 40 option bytes: 3 blocks fit beside timestamps, 4 without (RFC 2018 §3).
            let cap = if self.neg.timestamps { 3 } else { 4 };
            let base = self.fl.recvbuf.next_offset();
            let blocks = dsack
                .into_iter()
                .chain(ranges.iter().take(n).copied())
                .take(cap);
            let mut count = 0usize;
            for (start, end) in blocks {
                let left = self.rcv_seq_of(start, base);
                let right = self.rcv_seq_of(end, base);
                if let Some(slot) = o.sack_blocks.get_mut(count) {
                    *slot = (left.0, right.0);
                    count += 1;
                }
            }
            o.sack_block_count = count as u8;
        }
        o
    }

    /// Receive sequence number of a stream offset (possibly below RCV.NXT for D-SACK).
    fn rcv_seq_of(&self, off: u64, base: u64) -> SeqNum {
        if off >= base {
            self.rcv_nxt + (off - base) as u32
        } else {
            self.rcv_nxt - (base - off) as u32
        }
    }

    /// Something is ready for `poll_transmit` (used by the stack's ready list).
    pub fn wants_transmit(&self) -> bool {
        // The common answer (asked after nearly every segment and command):
        // synchronized, no ACK, probe, RST or retransmission asked for,
        // nothing outstanding and nothing unsent. Then only a FIN can be
        // due: the answer the full test below gives, in a few loads.
        if self.state.is_synchronized()
            && !self.ack_now
            && !self.probe_pending
            && self.snd_una == self.snd_max
        {
            let fl = &*self.fl;
            if fl.pending_rst.is_none() && fl.rexmit_seq.is_none() && self.unsent_bytes() == 0 {
                let fin = self.fin_pending_at_nxt(0);
                // Every test run checks the shortcut against the full answer.
                debug_assert_eq!(fin, self.wants_transmit_full());
                return fin;
            }
        }
        self.wants_transmit_full()
    }

    /// [`Connection::wants_transmit`] in every case (out of line). The
    /// state's answers and the flags asked first; the tests of data in
    /// flight or unsent, which need many registers, further out of line.
    #[inline(never)]
    fn wants_transmit_full(&self) -> bool {
        if self.fl.pending_rst.is_some() {
            return true;
        }
        match self.state {
            State::Closed | State::Listen => false,
            State::SynSent => self.snd_nxt == self.iss,
            State::SynReceived => self.snd_nxt == self.iss || self.ack_now,
            _ => {
                self.ack_now
                    || self.fl.rexmit_seq.is_some()
                    || self.probe_pending
                    || self.probe_due()
                    || self.wants_to_send_data()
            }
        }
    }

    /// The rest of [`Connection::wants_transmit_full`] for a synchronized
    /// state with no ACK, probe or retransmission asked for: a SACK or RACK
    /// retransmission, new data, or a FIN.
    #[inline(never)]
    fn wants_to_send_data(&self) -> bool {
        // Both retransmit only from [SND.UNA, SND.MAX): skip them when
        // nothing is outstanding (most calls, e.g. every pure ACK).
        if self.snd_una != self.snd_max
            && (self.sack_recovery_would_send() || self.rack_rto_retransmission().is_some())
        {
            return true;
        }
        let unsent = usize::try_from(self.unsent_bytes()).unwrap_or(usize::MAX);
        if unsent == 0 {
            // What `sendable` answers with no data (the common case, asked per packet).
            return self.fin_pending_at_nxt(0);
        }
        let (len, fin) = self.sendable(self.segment_limit(), unsent);
        len > 0 || fin
    }
}

/// What planning the tail loss probe gave.
enum LossProbe {
    Sent(Plan),
    /// New data is to be the probe; holds the force_send to restore if it cannot go.
    Fresh(bool),
    Nothing,
}
