//! RACK-TLP loss detection (RFC 8985) for SACK connections: per-segment
//! transmit times, time-based loss marking, the reordering window with
//! D-SACK adaptation, and the tail loss probe.
//!
//! Bookkeeping, all bounded and without per-packet allocation:
//! - `segs`: transmitted ranges in sequence order (stream offsets, like the
//!   send ring). Consecutive first transmissions sent at the same `now` share
//!   one entry (RFC 8985 needs a transmit time per segment; segments with the
//!   same time can share it), so a burst costs one record. An entry is split
//!   where a SACK block or a retransmission cuts it, so every decision still
//!   applies per segment; ties in time are broken by (order, end) as RFC 8985
//!   breaks them by end_seq. Popped/trimmed as the cumulative ACK passes.
//! - Segments sent once are in time order already (new data leaves in
//!   sequence order), so loss detection walks them with a cursor that only
//!   moves forward. Retransmitted segments leave that order; each
//!   retransmission is queued in `rexmits`, which is in time order by
//!   construction. Both walks stop at the first segment that is not yet
//!   due, so each segment is passed O(1) times: no rescan of the window per ACK.
//! - `lost`: segments marked lost that wait for their retransmission.
//!
//! Pipe is counted as Linux does (RFC 6675 §4 in spirit):
//! in flight = outstanding - SACKed - lost + retransmitted-in-flight.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use crate::tcp::connection::Connection;
use crate::time::{Duration, Instant};

/// SACKed by the peer.
const SACKED: u8 = 1;
/// Marked lost and not SACKed since.
const LOST: u8 = 2;
/// A retransmission of it is in flight (counts in pipe).
const RETRANS: u8 = 4;
/// Its transmit time was updated in place: it is walked through `rexmits`.
const MOVED: u8 = 8;
/// Sent more than once: an ACK of it gives an ambiguous RTT (RFC 8985 §6.2 step 2).
const AMBIGUOUS: u8 = 16;

/// Most segments tracked per connection; beyond that, segments go untracked
/// (counted in flight, repaired by RFC 6675 rules or the RTO, never wrong).
pub const MAX_TRACKED: usize = 1024;
/// DupThresh, for the reordering window rule (RFC 8985 §6.2 step 4).
const DUP_THRESH: u32 = 3;
/// Recoveries without D-SACK before the reordering window multiplier resets (RFC 8985 §6.2 step 4).
const REO_WND_PERSIST: u8 = 16;
/// Largest reordering window multiplier; reo_wnd is capped by SRTT anyway.
const MAX_REO_WND_MULT: u8 = 64;
/// Worst-case delayed ACK time added to the PTO when one segment is in flight (RFC 8985 §7.2).
const WC_DEL_ACK_T: Duration = Duration::from_millis(200);
/// PTO before any RTT sample (RFC 8985 §7.2).
const PTO_WITHOUT_SRTT: Duration = Duration::from_secs(1);

/// One transmitted segment: stream offsets `[start, end)` (a FIN counts one).
#[derive(Clone, Copy, Debug)]
struct TxSeg {
    start: u64,
    end: u64,
    xmit: Instant,
    /// Transmission order: breaks ties between equal times exactly (RFC 8985
    /// uses end_seq for that, which misorders a retransmission sent in the
    /// same clock tick as higher new data).
    order: u64,
    /// While SACKed: the segments it stands for, len / largest segment
    /// rounded up (Linux's pcount), for the SACKed-segments count.
    nseg: u32,
    flags: u8,
}

impl TxSeg {
    fn len(&self) -> u64 {
        self.end - self.start
    }
    /// Transmission order of the range's last segment (RACK_sent_after, RFC 8985 §6.2).
    fn key(&self) -> (u64, u64) {
        (self.order, self.end)
    }
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// RFC 8985 §6.2 step 5 for `s`, scanned in time order: whether it is lost
/// now. If not, the scan stops here: a segment sent after RACK.segment
/// cannot be judged yet, and one still within its reordering window arms
/// the reordering timer for the moment it can.
#[inline(always)]
fn lost_now(
    s: &TxSeg,
    rack_key: (u64, u64),
    now: Instant,
    wait: Duration,
    d: &mut Detection,
) -> bool {
    if s.key() >= rack_key {
        return false;
    }
    let due = s.xmit + wait;
    if due > now {
        d.timer = Some(d.timer.map_or(due, |t| t.min(due)));
        return false;
    }
    true
}

/// What the loss detection of one ACK or timer found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Detection {
    /// Segments were newly marked lost.
    pub newly_lost: bool,
    /// When the reordering timer must run detection again, if ever.
    pub timer: Option<Instant>,
}

/// RACK-TLP state of one connection (RFC 8985 §6.1, §7.1), kept in one
/// struct so it can move with the in-flight part of a connection. What
/// outlives a flight (min_RTT, reordering knowledge) is inline and small;
/// the per-segment log is boxed, allocated on the first send and freed when
/// the connection is idle.
#[derive(Clone, Debug)]
pub struct Rack {
    /// RACK reordering timer (RFC 8985 §6.3); `Instant::MAX` when not armed.
    pub reo_timer: Instant,
    /// Tail loss probe timeout, PTO (RFC 8985 §7.2).
    pub pto: Instant,
    /// RACK.reordering_seen.
    reord: bool,
    reo_wnd_mult: u8,
    reo_wnd_persist: u8,
    /// The PTO fired: the next transmission is the probe.
    probe_due: bool,
    /// The probe is being sent: new data may ignore cwnd (RFC 8985 §7.3).
    probe_sending: bool,
    /// RACK.min_RTT (Duration::MAX until a sample).
    min_rtt: Duration,
    flight: Option<Box<Flight>>,
    /// An emptied log kept from an earlier connection (a pooled in-flight
    /// box): the next first send takes it instead of allocating.
    spare: Option<Box<Flight>>,
}

/// Per-flight RACK state: the transmission log and RACK.xmit_ts & co.
#[derive(Clone, Debug, Default)]
struct Flight {
    segs: VecDeque<TxSeg>,
    /// Retransmissions in time order: (start offset, order).
    rexmits: VecDeque<(u64, u64)>,
    lost: VecDeque<u64>,
    /// Segments sent once and ending at or below this offset need no more detection.
    cursor: u64,
    next_order: u64,
    sacked_bytes: u64,
    /// Largest segment logged (the unit of `nseg`).
    seg_len: u64,
    lost_bytes: u64,
    retrans_bytes: u64,
    segs_sacked: u32,
    /// (order, end) of the most recently sent segment delivered (RACK.xmit_ts / RACK.end_seq).
    rack_key: Option<(u64, u64)>,
    /// RACK.rtt: the RTT of that delivery.
    rtt: Duration,
    /// RACK.fack: highest end of a delivered segment.
    fack: u64,
    /// D-SACK round: ends once SND.UNA reaches this offset.
    dsack_round: Option<u64>,
    /// TLP.end_seq as an offset, while a probe is outstanding.
    tlp_end: Option<u64>,
    tlp_is_retrans: bool,
}

impl Flight {
    /// [`Flight::default`], keeping the queues' memory.
    fn reuse(&mut self) {
        self.segs.clear();
        self.rexmits.clear();
        self.lost.clear();
        *self = Flight {
            segs: core::mem::take(&mut self.segs),
            rexmits: core::mem::take(&mut self.rexmits),
            lost: core::mem::take(&mut self.lost),
            ..Flight::default()
        };
    }

    fn uncount(&mut self, s: &TxSeg) {
        if s.has(SACKED) {
            self.sacked_bytes -= s.len();
            self.segs_sacked -= s.nseg;
            return;
        }
        if s.has(LOST) {
            self.lost_bytes -= s.len();
        }
        if s.has(RETRANS) {
            self.retrans_bytes -= s.len();
        }
    }

    fn count(&mut self, s: &TxSeg) {
        if s.has(SACKED) {
            self.sacked_bytes += s.len();
            self.segs_sacked += s.nseg;
            return;
        }
        if s.has(LOST) {
            self.lost_bytes += s.len();
        }
        if s.has(RETRANS) {
            self.retrans_bytes += s.len();
        }
    }

    /// Change one tracked segment, keeping the byte counters exact.
    fn update(&mut self, i: usize, f: impl FnOnce(&mut TxSeg)) {
        let Some(old) = self.segs.get(i).copied() else {
            return;
        };
        self.uncount(&old);
        let mut new = old;
        f(&mut new);
        self.count(&new);
        if let Some(slot) = self.segs.get_mut(i) {
            *slot = new;
        }
    }

    /// Record a transmission of `[start, end)` at `now`: new segments are
    /// appended, resent ones get the new time (RFC 8985 §6.1 per-segment state).
    fn on_send(&mut self, now: Instant, start: u64, end: u64, retransmission: bool) {
        let log_end = self.segs.back().map_or(0, |s| s.end);
        if self.segs.is_empty() || start >= log_end {
            self.append(now, start, end, retransmission);
            return;
        }
        self.resend(now, start, end, log_end, retransmission);
    }

    /// A resend of logged data: the ranges it covers get the new time and
    /// go to `rexmits`; a range it covers in part is split first.
    #[cold]
    #[inline(never)]
    fn resend(&mut self, now: Instant, start: u64, end: u64, log_end: u64, retransmission: bool) {
        let first = self.segs.partition_point(|s| s.end <= start);
        self.split_at(first, start);
        let mut i = self.segs.partition_point(|s| s.end <= start);
        while let Some(s) = self.segs.get(i).copied() {
            if s.start >= end {
                break;
            }
            self.split_at(i, end);
            let Some(s) = self.segs.get(i).copied() else {
                break;
            };
            if !s.has(SACKED) {
                let order = self.next_order;
                self.next_order += 1;
                self.update(i, |s| {
                    s.xmit = now;
                    s.order = order;
                    s.flags |= RETRANS | MOVED | AMBIGUOUS;
                });
                if self.rexmits.len() < MAX_TRACKED {
                    self.rexmits.push_back((s.start, order));
                }
            }
            i += 1;
        }
        if end > log_end {
            self.append(now, log_end, end, retransmission);
        }
        self.prune_lost();
    }

    #[inline]
    fn append(&mut self, now: Instant, start: u64, end: u64, retransmission: bool) {
        if !retransmission {
            if let Some(last) = self.segs.back_mut() {
                // Same time, contiguous, untouched, and nothing (no resend) sent
                // since: one more segment of the burst, same transmission order.
                if last.xmit == now
                    && last.end == start
                    && last.flags == 0
                    && last.order + 1 == self.next_order
                {
                    last.end = end;
                    self.seg_len = self.seg_len.max(end - start);
                    return;
                }
            }
        }
        self.push_new(now, start, end, retransmission);
    }

    fn push_new(&mut self, now: Instant, start: u64, end: u64, retransmission: bool) {
        if self.segs.len() >= MAX_TRACKED {
            return;
        }
        if self.segs.capacity() == 0 {
            // One allocation, not one per segment; small (640 bytes), so the
            // stack's in-flight pool keeps the logs of many quiet connections
            // within its budget. A bulk flow doubles it a few times, once.
            self.segs.reserve(16);
        }
        let flags = if retransmission { AMBIGUOUS } else { 0 };
        let order = self.next_order;
        self.next_order += 1;
        self.segs.push_back(TxSeg {
            start,
            end,
            xmit: now,
            order,
            nseg: 1,
            flags,
        });
        self.seg_len = self.seg_len.max(end - start);
    }

    /// Split the entry `i` at offset `at` (strictly inside it) into two with
    /// the same time, order and flags, so a SACK or a resend can apply to one
    /// part only. A split-off part that waits for retransmission is queued.
    #[cold]
    #[inline(never)]
    fn split_at(&mut self, i: usize, at: u64) {
        let Some(s) = self.segs.get(i).copied() else {
            return;
        };
        if at <= s.start || at >= s.end || self.segs.len() >= 2 * MAX_TRACKED {
            return;
        }
        let mut left = s;
        left.end = at;
        left.nseg = self.pcount(left.len());
        let mut right = s;
        right.start = at;
        right.nseg = self.pcount(right.len());
        // Counters: uncount the whole, count both halves.
        self.uncount(&s);
        self.count(&left);
        self.count(&right);
        if let Some(slot) = self.segs.get_mut(i) {
            *slot = left;
        }
        self.segs.insert(i + 1, right);
        if s.has(LOST) && !s.has(RETRANS | SACKED) && self.lost.len() < 2 * MAX_TRACKED {
            self.lost.push_front(at);
        }
        if s.has(MOVED) && s.has(RETRANS) {
            // The right part is walked with the left one, right after it (same time).
            if let Some(p) = self
                .rexmits
                .iter()
                .position(|&(st, o)| st == s.start && o == s.order)
            {
                self.rexmits.insert(p + 1, (at, s.order));
            }
        }
    }

    /// One segment newly delivered (cumulatively or selectively): RACK.fack
    /// and reordering (RFC 8985 §6.2 step 3), then the RTT candidate (step 2).
    fn deliver(&mut self, ack: &AckInfo, s: &TxSeg, ctx: &mut DeliveryCtx) {
        if s.end > self.fack {
            self.fack = s.end;
        } else if s.end < self.fack && !s.has(AMBIGUOUS) {
            ctx.reordering = true;
        }
        let rtt = ack.now.saturating_duration_since(s.xmit);
        if s.has(AMBIGUOUS) {
            // A retransmitted segment counts only if the ACK is surely for this transmission.
            let echo_older = match (ack.ecr, ack.ts_offset) {
                (Some(ecr), Some(off)) => {
                    let sent = (s.xmit.as_millis() as u32).wrapping_add(off);
                    (ecr.wrapping_sub(sent) as i32) < 0
                }
                _ => false,
            };
            if echo_older || rtt < ctx.min_rtt {
                return;
            }
        }
        if ctx.latest.map_or(true, |(k, _)| s.key() > k) {
            ctx.latest = Some((s.key(), s.xmit));
        }
    }

    /// RACK_update (RFC 8985 §6.2 step 2) once per ACK: RACK.rtt from the
    /// most recently sent segment delivered, and RACK.xmit_ts.
    fn finish_deliveries(&mut self, now: Instant, latest: Option<((u64, u64), Instant)>) {
        let Some((key, t)) = latest else {
            return;
        };
        self.rtt = now.saturating_duration_since(t);
        if self.rack_key.map_or(true, |k| key > k) {
            self.rack_key = Some(key);
        }
    }

    /// Pop the segments the cumulative ACK covers; trim a partly acked one.
    fn on_cumulative_ack(&mut self, ack: &AckInfo, ctx: &mut DeliveryCtx) {
        while let Some(front) = self.segs.front().copied() {
            if front.end <= ack.una {
                self.segs.pop_front();
                self.uncount(&front);
                if !front.has(SACKED) {
                    self.deliver(ack, &front, ctx);
                }
                continue;
            }
            if front.start < ack.una {
                // Part of a range: its segments below SND.UNA are delivered.
                let mut done = front;
                done.end = ack.una;
                if front.flags == 0 {
                    // Counted nowhere: trim in place.
                    if let Some(f) = self.segs.front_mut() {
                        f.start = ack.una;
                    }
                    self.deliver(ack, &done, ctx);
                } else {
                    self.trim_front(ack, &done, ctx);
                }
            }
            break;
        }
        if self.segs.is_empty() {
            self.rexmits.clear();
            self.lost.clear();
        }
    }

    /// Trim a counted front range to SND.UNA.
    #[cold]
    #[inline(never)]
    fn trim_front(&mut self, ack: &AckInfo, done: &TxSeg, ctx: &mut DeliveryCtx) {
        let Some(front) = self.segs.front().copied() else {
            return;
        };
        let rest = self.pcount(front.end - ack.una);
        self.update(0, |s| {
            s.start = ack.una;
            s.nseg = rest;
        });
        if !front.has(SACKED) {
            self.deliver(ack, done, ctx);
        }
    }

    /// Segments that `len` bytes stand for: len / largest segment sent, rounded up.
    fn pcount(&self, len: u64) -> u32 {
        u32::try_from(len.div_ceil(self.seg_len.max(1))).unwrap_or(u32::MAX)
    }

    /// Mark tracked segments inside `[start, end)` SACKed, visiting only the
    /// gaps between ranges SACKed before (RFC 2018 §3 blocks, RFC 8985 §6.2).
    fn on_sack_block(
        &mut self,
        ack: &AckInfo,
        block: (u64, u64),
        known: &[(u64, u64)],
        ctx: &mut DeliveryCtx,
    ) {
        let (start, end) = block;
        let mut cur = start;
        let first = known.partition_point(|r| r.1 <= start);
        for r in known.iter().skip(first) {
            if r.0 >= end {
                break;
            }
            if r.0 > cur {
                self.sack_gap(ack, (cur, r.0), block, ctx);
            }
            cur = cur.max(r.1);
        }
        if cur < end {
            self.sack_gap(ack, (cur, end), block, ctx);
        }
    }

    /// Segments overlapping `gap` and inside `block` become SACKed; a range
    /// the block covers in part is split at the block's edges first.
    #[cold]
    #[inline(never)]
    fn sack_gap(
        &mut self,
        ack: &AckInfo,
        gap: (u64, u64),
        block: (u64, u64),
        ctx: &mut DeliveryCtx,
    ) {
        let mut i = self.segs.partition_point(|s| s.end <= gap.0);
        while let Some(s) = self.segs.get(i).copied() {
            if s.start >= gap.1 {
                break;
            }
            if !s.has(SACKED) && s.start < block.0 {
                self.split_at(i, block.0);
                i += 1;
                continue;
            }
            if !s.has(SACKED) && s.end > block.1 {
                self.split_at(i, block.1);
            }
            let Some(s) = self.segs.get(i).copied() else {
                break;
            };
            if !s.has(SACKED) && block.0 <= s.start && s.end <= block.1 {
                let n = self.pcount(s.len());
                self.update(i, |s| {
                    s.flags = (s.flags | SACKED) & !(LOST | RETRANS);
                    s.nseg = n;
                });
                self.deliver(ack, &s, ctx);
            }
            i += 1;
        }
    }

    /// Segments sent once, in sequence (= time) order from the cursor.
    fn detect_in_first_transmissions(&mut self, now: Instant, wait: Duration, d: &mut Detection) {
        let Some(rack_key) = self.rack_key else {
            return;
        };
        let mut i = self.segs.partition_point(|s| s.end <= self.cursor);
        while let Some(s) = self.segs.get(i).copied() {
            if s.has(SACKED | LOST | MOVED) {
                self.cursor = s.end;
                i += 1;
                continue;
            }
            if !lost_now(&s, rack_key, now, wait, d) {
                return;
            }
            self.mark_lost(i, d);
            self.cursor = s.end;
            i += 1;
        }
    }

    /// Retransmissions, in the time order they were queued.
    fn detect_in_retransmissions(&mut self, now: Instant, wait: Duration, d: &mut Detection) {
        let Some(rack_key) = self.rack_key else {
            return;
        };
        while let Some(&(start, order)) = self.rexmits.front() {
            let i = self.segs.partition_point(|s| s.end <= start);
            let seg = self
                .segs
                .get(i)
                .copied()
                .filter(|s| s.order == order && s.has(RETRANS) && !s.has(SACKED));
            let Some(s) = seg else {
                self.rexmits.pop_front();
                continue;
            };
            if !lost_now(&s, rack_key, now, wait, d) {
                return;
            }
            self.rexmits.pop_front();
            self.mark_lost(i, d);
        }
    }

    /// Segment.lost = TRUE (RFC 8985 §6.2 step 5); it waits in `lost` for its retransmission.
    #[cold]
    #[inline(never)]
    fn mark_lost(&mut self, i: usize, d: &mut Detection) {
        let Some(start) = self.segs.get(i).map(|s| s.start) else {
            return;
        };
        self.update(i, |s| s.flags = (s.flags | LOST) & !RETRANS);
        if self.lost.len() < MAX_TRACKED {
            self.lost.push_back(start);
        }
        d.newly_lost = true;
    }

    /// The tracked segment containing `start`, if it still waits for a retransmission.
    fn pending_lost(&self, start: u64) -> Option<TxSeg> {
        let i = self.segs.partition_point(|s| s.end <= start);
        self.segs
            .get(i)
            .copied()
            .filter(|s| s.has(LOST) && !s.has(RETRANS) && !s.has(SACKED))
    }

    /// Drop queue heads that were retransmitted, SACKed or acknowledged meanwhile.
    /// The deliveries of an ACK's SACK blocks, in ascending order as RFC
    /// 8985 §6.2 step 3 processes them. Out of line: most ACKs carry none.
    #[inline(never)]
    fn on_sack_blocks(
        &mut self,
        ack: &AckInfo,
        blocks: &[(u64, u64)],
        known: &[(u64, u64)],
        ctx: &mut DeliveryCtx,
    ) {
        let mut sorted = [(0u64, 0u64); 4];
        let n = blocks.len().min(sorted.len());
        for (slot, b) in sorted.iter_mut().zip(blocks) {
            *slot = *b;
        }
        let sorted = sorted.get_mut(..n).unwrap_or(&mut []);
        sorted.sort_unstable();
        for &(s, e) in sorted.iter() {
            if s < e && e > ack.una {
                self.on_sack_block(ack, (s.max(ack.una), e), known, ctx);
            }
        }
    }

    fn prune_lost(&mut self) {
        while let Some(&start) = self.lost.front() {
            if self.pending_lost(start).is_some() {
                return;
            }
            self.lost.pop_front();
        }
    }
}

/// Inputs and outputs of the deliveries of one ACK.
struct DeliveryCtx {
    min_rtt: Duration,
    reordering: bool,
    /// ((order, end), xmit) of the most recently sent segment delivered.
    latest: Option<((u64, u64), Instant)>,
}

impl Default for Rack {
    fn default() -> Self {
        Rack::new()
    }
}

impl Rack {
    /// Fresh state; nothing allocated until the first segment is logged.
    pub const fn new() -> Rack {
        Rack {
            reo_timer: Instant::MAX,
            pto: Instant::MAX,
            reord: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: REO_WND_PERSIST,
            probe_due: false,
            probe_sending: false,
            min_rtt: Duration::MAX,
            flight: None,
            spare: None,
        }
    }

    /// [`Rack::new`] for a new connection, keeping the log's memory as the
    /// spare (a pooled in-flight box).
    /// Field by field (no struct moves: this runs per connection setup).
    pub(crate) fn reuse(&mut self) {
        if let Some(mut f) = self.flight.take() {
            f.reuse();
            self.spare = Some(f);
        }
        self.reo_timer = Instant::MAX;
        self.pto = Instant::MAX;
        self.reord = false;
        self.reo_wnd_mult = 1;
        self.reo_wnd_persist = REO_WND_PERSIST;
        self.probe_due = false;
        self.probe_sending = false;
        self.min_rtt = Duration::MAX;
    }

    /// Nothing tracked and no timer armed (the in-flight box may go).
    pub fn is_idle(&self) -> bool {
        self.reo_timer == Instant::MAX
            && self.pto == Instant::MAX
            && self.flight.as_ref().map_or(true, |f| f.segs.is_empty())
    }

    pub fn clear_timers(&mut self) {
        self.reo_timer = Instant::MAX;
        self.pto = Instant::MAX;
    }

    pub fn earliest_timer(&self) -> Instant {
        self.reo_timer.min(self.pto)
    }

    /// The reordering window multiplier (grows with D-SACK rounds).
    pub fn reo_wnd_mult(&self) -> u32 {
        u32::from(self.reo_wnd_mult)
    }

    /// Whether reordering was observed on this connection.
    pub fn reordering_seen(&self) -> bool {
        self.reord
    }

    /// RACK.min_RTT, if known.
    pub fn min_rtt(&self) -> Option<Duration> {
        (self.min_rtt != Duration::MAX).then_some(self.min_rtt)
    }

    /// Bytes marked lost and not yet retransmitted or SACKed.
    /// A flight record exists (data was sent and RACK tracks it).
    pub fn has_flight(&self) -> bool {
        self.flight.is_some()
    }

    /// Nothing an ACK could act on: no logged segment, retransmission, loss,
    /// D-SACK round or probe outstanding, no reordering timer. An ACK with
    /// no new cumulative ACK and no SACK block then changes nothing here
    /// (`on_ack`, `on_dsack`, `tlp_on_ack` and `detect_loss` do nothing).
    pub(super) fn idle(&self) -> bool {
        self.reo_timer == Instant::MAX
            && self.flight.as_deref().map_or(true, |f| {
                f.segs.is_empty()
                    && f.rexmits.is_empty()
                    && f.lost.is_empty()
                    && f.lost_bytes == 0
                    && f.dsack_round.is_none()
                    && f.tlp_end.is_none()
            })
    }

    pub fn lost_bytes(&self) -> u64 {
        self.flight.as_ref().map_or(0, |f| f.lost_bytes)
    }

    /// One more segment of the current burst (same time, contiguous, nothing
    /// sent in between, not larger than a segment seen): extend its record.
    fn extend_burst(&mut self, now: Instant, start: u64, end: u64) -> bool {
        let Some(f) = self.flight.as_deref_mut() else {
            return false;
        };
        let next = f.next_order;
        let seg_len = f.seg_len;
        let Some(last) = f.segs.back_mut() else {
            return false;
        };
        let same_burst = last.xmit == now
            && last.end == start
            && last.flags == 0
            && last.order + 1 == next
            && end - start <= seg_len;
        if same_burst {
            last.end = end;
        }
        same_burst
    }

    /// Record a transmission of `[start, end)` at `now` (RFC 8985 §6.1).
    pub(super) fn on_send(&mut self, now: Instant, start: u64, end: u64, retransmission: bool) {
        if start >= end {
            return;
        }
        let f = match &mut self.flight {
            Some(f) => f,
            None => self.flight.insert(self.spare.take().unwrap_or_default()),
        };
        f.on_send(now, start, end, retransmission);
    }

    /// A connection RTT sample (RFC 6298 / RFC 7323) updates RACK.min_RTT (RFC 8985 §6.2 step 1).
    pub(super) fn on_rtt_sample(&mut self, rtt: Duration) {
        self.min_rtt = self.min_rtt.min(rtt);
    }

    /// Process one ACK's delivery information: the cumulative ACK `una` and
    /// the SACK `blocks` (offsets), given the scoreboard's ranges before this
    /// ACK so that only newly SACKed segments are visited (RFC 8985 §6.2 steps 2-3).
    pub(super) fn on_ack(&mut self, ack: &AckInfo, blocks: &[(u64, u64)], known: &[(u64, u64)]) {
        let Some(f) = self.flight.as_deref_mut() else {
            return;
        };
        let mut ctx = DeliveryCtx {
            min_rtt: self.min_rtt,
            reordering: false,
            latest: None,
        };
        f.on_cumulative_ack(ack, &mut ctx);
        if !blocks.is_empty() {
            f.on_sack_blocks(ack, blocks, known, &mut ctx);
        }
        f.finish_deliveries(ack.now, ctx.latest);
        if !f.lost.is_empty() {
            f.prune_lost();
        }
        self.reord |= ctx.reordering;
    }

    /// D-SACK adaptation of the reordering window (RFC 8985 §6.2 step 4):
    /// one step per round trip that sees a D-SACK.
    pub(super) fn on_dsack(&mut self, dsack: bool, una: u64, snd_max: u64) {
        let Some(f) = self.flight.as_deref_mut() else {
            return;
        };
        if f.dsack_round.is_some_and(|r| una >= r) {
            f.dsack_round = None;
        }
        if dsack {
            // A D-SACK shows a spurious retransmission: reordering exists (Linux does the same).
            self.reord = true;
            if f.dsack_round.is_none() {
                f.dsack_round = Some(snd_max);
                self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1).min(MAX_REO_WND_MULT);
                self.reo_wnd_persist = REO_WND_PERSIST;
            }
        }
    }

    /// Leaving recovery without D-SACKs: after 16 of them the multiplier resets (RFC 8985 §6.2 step 4).
    pub(super) fn on_recovery_exit(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// RACK.reo_wnd (RFC 8985 §6.2 step 4): zero while no reordering was seen
    /// and DupThresh logic would already call it a loss, else
    /// min(mult · min_RTT / 4, SRTT).
    pub fn reo_wnd(&self, in_recovery: bool, srtt: Option<Duration>) -> Duration {
        let sacked = self.flight.as_ref().map_or(0, |f| f.segs_sacked);
        if !self.reord && (in_recovery || sacked >= DUP_THRESH) {
            return Duration::ZERO;
        }
        // Without a sample since the in-flight state was rebuilt, SRTT stands in.
        let Some(min_rtt) = self.min_rtt().or(srtt) else {
            return Duration::ZERO;
        };
        let wnd = Duration::from_micros(
            min_rtt
                .as_micros()
                .saturating_mul(u64::from(self.reo_wnd_mult))
                / 4,
        );
        srtt.map_or(wnd, |s| wnd.min(s))
    }

    /// Whether RACK_detect_loss cannot mark anything nor arm the timer, in
    /// O(1): no retransmission waits to be judged, and the lowest logged
    /// range was sent after the most recently delivered segment (ranges sent
    /// once are in transmission order, so then all of them were).
    #[inline]
    pub(super) fn nothing_to_detect(&self) -> bool {
        let Some(f) = self.flight.as_deref() else {
            return true;
        };
        let (Some(key), Some(front)) = (f.rack_key, f.segs.front()) else {
            return f.rexmits.is_empty();
        };
        f.rexmits.is_empty() && !front.has(MOVED) && front.key() >= key
    }

    /// RACK_detect_loss (RFC 8985 §6.2 step 5): a segment sent before the
    /// most recently delivered one is lost once RACK.rtt + reo_wnd has passed
    /// since it was sent; otherwise the reordering timer waits for it.
    pub(super) fn detect_loss(&mut self, now: Instant, reo_wnd: Duration) -> Detection {
        let mut d = Detection::default();
        let Some(f) = self.flight.as_deref_mut() else {
            return d;
        };
        let wait = f.rtt.saturating_add(reo_wnd);
        f.detect_in_first_transmissions(now, wait, &mut d);
        f.detect_in_retransmissions(now, wait, &mut d);
        f.prune_lost();
        d
    }

    /// The first segment marked lost and not retransmitted since, as
    /// (offset, length) (RFC 6675 NextSeg rule 1 with RACK's notion of lost).
    pub(super) fn next_lost(&self) -> Option<(u64, u64)> {
        let f = self.flight.as_deref()?;
        let start = *f.lost.front()?;
        let s = f.pending_lost(start)?;
        Some((s.start, s.len()))
    }

    /// Bytes in flight: outstanding - SACKed - lost + retransmitted and not lost again.
    pub(super) fn pipe(&self, outstanding: u64) -> u64 {
        let Some(f) = self.flight.as_deref() else {
            return outstanding;
        };
        outstanding
            .saturating_sub(f.sacked_bytes)
            .saturating_sub(f.lost_bytes)
            .saturating_add(f.retrans_bytes)
    }

    /// After an RTO everything is resent from SND.UNA: forget the per-segment
    /// state (the SACK scoreboard is cleared too), keep RTT and reordering knowledge.
    pub(super) fn on_rto(&mut self) {
        if let Some(f) = self.flight.as_deref_mut() {
            f.segs.clear();
            f.rexmits.clear();
            f.lost.clear();
            // Keep the queues' allocations and the transmission order.
            *f = Flight {
                segs: core::mem::take(&mut f.segs),
                rexmits: core::mem::take(&mut f.rexmits),
                lost: core::mem::take(&mut f.lost),
                next_order: f.next_order,
                ..Flight::default()
            };
        }
        self.probe_due = false;
        self.probe_sending = false;
    }

    /// Free the log when nothing is tracked (idle connections hold no memory for it).
    pub fn release_if_empty(&mut self) {
        if self.flight.as_ref().is_some_and(|f| f.segs.is_empty()) {
            self.flight = None;
        }
        self.spare = None;
    }

    /// The log is allocated but tracks nothing.
    pub fn holds_idle_memory(&self) -> bool {
        self.flight.as_ref().is_some_and(|f| f.segs.is_empty()) || self.spare.is_some()
    }

    pub fn heap_bytes(&self) -> usize {
        let log = |f: &Flight| {
            core::mem::size_of::<Flight>()
                + f.segs.capacity() * core::mem::size_of::<TxSeg>()
                + f.rexmits.capacity() * core::mem::size_of::<(u64, u64)>()
                + f.lost.capacity() * core::mem::size_of::<u64>()
        };
        self.flight.as_deref().map_or(0, log) + self.spare.as_deref().map_or(0, log)
    }

    /// PTO (RFC 8985 §7.2): 2·SRTT, plus the worst-case delayed ACK when one
    /// segment is in flight, 1 s before any sample; never past the RTO.
    pub fn pto(srtt: Option<Duration>, one_segment: bool, rto_left: Duration) -> Duration {
        let pto = match srtt {
            Some(s) if one_segment => s.saturating_mul(2).saturating_add(WC_DEL_ACK_T),
            Some(s) => s.saturating_mul(2),
            None => PTO_WITHOUT_SRTT,
        };
        pto.min(rto_left)
    }

    /// Whether a probe was sent and its outcome is not known yet.
    fn tlp_outstanding(&self) -> bool {
        self.flight.as_ref().is_some_and(|f| f.tlp_end.is_some())
    }

    /// TLP_process_ack (RFC 8985 §7.4): returns true when the probe repaired
    /// a loss (the ACK passed TLP.end_seq without a D-SACK for the probe),
    /// which calls for a congestion response.
    pub(super) fn tlp_on_ack(&mut self, ack: u64, dsack: bool) -> bool {
        let Some(f) = self.flight.as_deref_mut() else {
            return false;
        };
        let Some(end) = f.tlp_end else {
            return false;
        };
        if ack < end {
            return false;
        }
        if !f.tlp_is_retrans || dsack {
            f.tlp_end = None;
            return false;
        }
        if ack > end {
            f.tlp_end = None;
            return true;
        }
        false
    }

    /// The probe went out: TLP.end_seq and TLP.is_retrans (RFC 8985 §7.3).
    fn tlp_sent(&mut self, end: u64, retransmission: bool) {
        if let Some(f) = self.flight.as_deref_mut() {
            f.tlp_end = Some(end);
            f.tlp_is_retrans = retransmission;
        }
    }
}

/// What RACK needs of one ACK.
pub(super) struct AckInfo {
    pub now: Instant,
    /// SND.UNA as a stream offset after this ACK.
    pub una: u64,
    /// TSecr of the ACK, and our timestamp clock offset, when timestamps are on.
    pub ecr: Option<u32>,
    pub ts_offset: Option<u32>,
}

impl Connection {
    /// RACK-TLP runs on SACK connections when configured (RFC 8985 §2 needs SACK).
    #[inline]
    pub(super) fn rack_active(&self) -> bool {
        self.opts.rack && self.neg.sack
    }

    /// Record a data transmission for RACK (new data, retransmission or probe).
    pub(super) fn rack_on_send(
        &mut self,
        now: Instant,
        off: u64,
        seq_len: u64,
        retransmission: bool,
    ) {
        if !self.rack_active() {
            return;
        }
        let rack = &mut self.fl.rack;
        // The common case in bulk transfer, kept to a few comparisons; the
        // PTO is armed already (or a probe is being sent), see below.
        if !retransmission
            && (rack.pto != Instant::MAX || rack.probe_sending)
            && seq_len > 0
            && rack.extend_burst(now, off, off + seq_len)
        {
            return;
        }
        self.rack_log_send(now, off, seq_len, retransmission);
    }

    #[cold]
    #[inline(never)]
    fn rack_log_send(&mut self, now: Instant, off: u64, seq_len: u64, retransmission: bool) {
        self.fl
            .rack
            .on_send(now, off, off.saturating_add(seq_len), retransmission);
        // Armed by the first send of a flight and restarted by ACKs only:
        // moving the deadline on every send would churn the stack's timer
        // queue (each earlier deadline is a new heap entry).
        if !retransmission && !self.fl.rack.probe_sending && self.fl.rack.pto == Instant::MAX {
            self.schedule_loss_probe(now);
        }
    }

    /// Start or restart the PTO when the connection is in the open state with
    /// data in flight and no probe outstanding (RFC 8985 §7.2).
    pub(super) fn schedule_loss_probe(&mut self, now: Instant) {
        let outstanding = self.snd_max - self.snd_una;
        if outstanding == 0 {
            // Nothing in flight (every ACK of a connection that sent all it
            // had): no probe waits, none is armed.
            let rack = &mut self.fl.rack;
            rack.probe_due = false;
            rack.pto = Instant::MAX;
            return;
        }
        // In recovery too (a deviation): a retransmission that is the last
        // segment in flight, or whose ACK is lost, otherwise waits for the RTO.
        let open = self.in_recovery || self.fl.scoreboard.range_count() == 0;
        if !self.rack_active() || !open || self.fl.rack.tlp_outstanding() {
            self.fl.rack.pto = Instant::MAX;
            return;
        }
        let rto_left = if self.fl.rexmit == Instant::MAX {
            self.rto()
        } else {
            self.fl.rexmit.saturating_duration_since(now)
        };
        // The delayed-ACK allowance is for a lone tail segment; with more data
        // queued the flight grows before the probe would matter.
        let one_segment = outstanding <= u32::from(self.eff_mss) && self.unsent_bytes() == 0;
        let pto = Rack::pto(self.rtt.srtt(), one_segment, rto_left);
        self.fl.rack.pto = now + pto;
    }

    /// The PTO fired: the next transmission is a probe (RFC 8985 §7.3).
    pub(super) fn on_probe_timeout(&mut self, _now: Instant) {
        if !self.rack_active() || self.snd_max == self.snd_una {
            return;
        }
        self.fl.rack.probe_due = true;
    }

    /// Whether a probe waits to be sent.
    #[inline]
    pub(super) fn probe_due(&self) -> bool {
        self.fl.rack.probe_due && self.snd_max != self.snd_una
    }

    /// The probe is being planned: new data may exceed cwnd by this one segment.
    pub(super) fn begin_probe(&mut self) {
        self.fl.rack.probe_due = false;
        self.fl.rack.probe_sending = true;
    }

    /// The probe went out (or could not): remember TLP.end_seq, re-arm the RTO (RFC 8985 §7.3).
    pub(super) fn end_probe(&mut self, now: Instant, sent: bool, retransmission: bool) {
        self.fl.rack.probe_sending = false;
        if !sent {
            return;
        }
        let end = self.seq_to_send_off(self.snd_max);
        self.fl.rack.tlp_sent(end, retransmission);
        self.fl.rack.pto = Instant::MAX;
        self.fl.rexmit = now + self.rto();
    }

    /// Whether cwnd is waived for the probe's one segment of new data.
    #[inline]
    pub(super) fn probe_ignores_cwnd(&self) -> bool {
        self.fl.rack.probe_sending
    }

    /// RACK_detect_loss_and_arm_timer (RFC 8985 §6.2 step 5, §6.3); true when
    /// something was newly marked lost.
    #[inline]
    pub(super) fn rack_detect_loss(&mut self, now: Instant) -> bool {
        if !self.rack_active() {
            return false;
        }
        if self.fl.rack.nothing_to_detect() {
            // Clean path: each ACK costs these comparisons, and any armed
            // reordering timer has nothing left to wait for.
            self.fl.rack.reo_timer = Instant::MAX;
            return false;
        }
        self.rack_detect_loss_slow(now)
    }

    #[cold]
    #[inline(never)]
    fn rack_detect_loss_slow(&mut self, now: Instant) -> bool {
        let reo_wnd = self.fl.rack.reo_wnd(self.in_recovery, self.rtt.srtt());
        let d = self.fl.rack.detect_loss(now, reo_wnd);
        self.fl.rack.reo_timer = d.timer.unwrap_or(Instant::MAX);
        d.newly_lost
    }

    /// The reordering timer fired: detect again, and start recovery if that
    /// finds a loss (RFC 8985 §6.3).
    pub(super) fn on_rack_timeout(&mut self, now: Instant) {
        if self.rack_detect_loss(now) {
            self.start_recovery_on_rack_loss(now, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    const T0: Instant = Instant::ZERO;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ack(now: Instant, una: u64) -> AckInfo {
        AckInfo {
            now,
            una,
            ecr: None,
            ts_offset: None,
        }
    }

    fn entries(r: &Rack) -> usize {
        r.flight.as_ref().map_or(0, |f| f.segs.len())
    }

    /// Five 1000-byte segments sent in one burst share one record.
    fn burst() -> Rack {
        let mut r = Rack::new();
        for i in 0..5u64 {
            r.on_send(T0, i * 1000, (i + 1) * 1000, false);
        }
        r
    }

    #[test]
    fn a_burst_at_one_time_is_one_record_and_a_later_send_another() {
        let mut r = burst();
        assert_eq!(entries(&r), 1);
        r.on_send(T0 + ms(1), 5000, 6000, false);
        assert_eq!(entries(&r), 2);
        // A resend in between ends the burst: new data after it is sent later.
        r.on_send(T0 + ms(1), 0, 1000, true);
        r.on_send(T0 + ms(1), 6000, 7000, false);
        assert_eq!(
            entries(&r),
            4,
            "split at 1000, and a new record after the resend"
        );
    }

    #[test]
    fn a_loss_inside_a_merged_range_is_detected_per_segment() {
        let mut r = burst();
        let t1 = T0 + ms(100);
        // Segment 0 acked, 2 and 3 SACKed: 1 is lost, 4 was sent after them.
        r.on_ack(&ack(t1, 1000), &[(2000, 4000)], &[]);
        assert!(!r.nothing_to_detect());
        let d = r.detect_loss(t1, Duration::ZERO);
        assert!(d.newly_lost);
        assert_eq!(r.lost_bytes(), 1000);
        assert_eq!(r.next_lost(), Some((1000, 1000)));
        // Pipe: 4000 outstanding - 2000 SACKed - 1000 lost.
        assert_eq!(r.pipe(4000), 1000);
    }

    #[test]
    fn sacked_parts_of_a_merged_range_count_per_segment_for_dupthresh() {
        let mut r = burst();
        r.on_rtt_sample(ms(100));
        let t1 = T0 + ms(100);
        let sacked = |r: &Rack| r.flight.as_ref().map_or(0, |f| f.segs_sacked);
        r.on_ack(&ack(t1, 0), &[(1000, 3000)], &[]);
        // Two segments SACKed: below DupThresh, the window is min_RTT / 4.
        assert_eq!(sacked(&r), 2);
        assert_eq!(r.reo_wnd(false, Some(ms(100))), ms(25));
        r.on_ack(&ack(t1, 0), &[(1000, 4000)], &[(1000, 3000)]);
        assert_eq!(sacked(&r), 3);
        assert!(!r.reordering_seen());
        assert_eq!(r.reo_wnd(false, Some(ms(100))), Duration::ZERO);
        // The cumulative ACK takes the SACKed segments off the count again.
        r.on_ack(&ack(t1, 4000), &[], &[(1000, 4000)]);
        assert_eq!(sacked(&r), 0);
        assert_eq!(entries(&r), 1);
    }

    #[test]
    fn a_reordering_window_delays_the_loss_of_a_merged_segment() {
        let mut r = burst();
        let t1 = T0 + ms(100);
        r.on_ack(&ack(t1, 1000), &[(2000, 3000)], &[]);
        let d = r.detect_loss(t1, ms(25));
        assert!(!d.newly_lost);
        assert_eq!(d.timer, Some(T0 + ms(125)));
        let d = r.detect_loss(T0 + ms(125), ms(25));
        assert!(d.newly_lost);
        assert_eq!(r.next_lost(), Some((1000, 1000)));
    }

    #[test]
    fn a_retransmission_splits_a_lost_range_and_is_itself_judged_by_time() {
        let mut r = burst();
        let t1 = T0 + ms(100);
        // 0 acked, 3 SACKed: 1 and 2 lost as one range [1000, 3000).
        r.on_ack(&ack(t1, 1000), &[(3000, 4000)], &[]);
        assert!(r.detect_loss(t1, Duration::ZERO).newly_lost);
        assert_eq!(r.next_lost(), Some((1000, 2000)));
        // A smaller resend covers the front only; the rest still waits.
        r.on_send(t1, 1000, 1500, true);
        assert_eq!(r.next_lost(), Some((1500, 1500)));
        // 4000 outstanding - 1000 SACKed - 2000 lost + 500 resent.
        assert_eq!(r.pipe(4000), 1500);
        r.on_send(t1, 1500, 3000, true);
        assert_eq!(r.next_lost(), None);
        assert_eq!(r.pipe(4000), 3000);
        // New data after the resends is SACKed one RTT later; the resends were lost.
        r.on_send(t1, 5000, 6000, false);
        let t2 = t1 + ms(100);
        r.on_ack(
            &ack(t2, 1000),
            &[(5000, 6000), (3000, 4000)],
            &[(3000, 4000)],
        );
        assert!(r.detect_loss(t2, Duration::ZERO).newly_lost);
        // Both resent parts and segment 4 (sent at T0, before the SACKed new data).
        assert_eq!(r.lost_bytes(), 3000);
        assert_eq!(r.pipe(5000), 0);
        let mut resent = Vec::new();
        while let Some((off, len)) = r.next_lost() {
            resent.push((off, len));
            r.on_send(t2, off, off + len, true);
        }
        resent.sort_unstable();
        assert_eq!(resent, [(1000, 500), (1500, 1500), (4000, 1000)]);
    }

    #[test]
    fn cumulative_acks_on_a_clean_path_need_no_detection() {
        let mut r = burst();
        assert!(r.nothing_to_detect());
        let t1 = T0 + ms(100);
        r.on_ack(&ack(t1, 2000), &[], &[]);
        assert!(r.nothing_to_detect());
        assert_eq!(entries(&r), 1, "the range is trimmed, not split");
        r.on_send(t1, 5000, 6000, false);
        r.on_ack(&ack(t1 + ms(1), 5000), &[], &[]);
        assert!(r.nothing_to_detect());
        assert_eq!(
            r.detect_loss(t1 + ms(500), Duration::ZERO),
            Detection::default()
        );
        // RACK.rtt: the rest of the T0 burst, acked at 101 ms.
        assert_eq!(r.flight.as_ref().map(|f| f.rtt), Some(ms(101)));
    }
}
