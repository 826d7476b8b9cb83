//! The part of a connection needed only while data is buffered or in flight:
//! the send and receive rings, the SACK scoreboard and loss-recovery state.
//!
//! It lives in one box, allocated on first use (the first segment, `send`,
//! `recv` or timer that needs it) and dropped when the connection goes idle
//! (the stack's buffer-release FIFO calls [`Connection::release_idle_buffers`]
//! ≥ 1 s after the buffers drained). What must survive idle — where each
//! stream stands and the buffer limits — is kept beside the box, so the box
//! can be rebuilt exactly.
//!
//! [`Connection::release_idle_buffers`]: super::connection::Connection::release_idle_buffers

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

use crate::tcp::cc::Controller;
use crate::tcp::rack::Rack;
use crate::tcp::recv::RecvBuffer;
use crate::tcp::send::{Scoreboard, SendBuffer};
use crate::tcp::SeqNum;
use crate::time::Instant;

/// Eifel state of a retransmission timeout (RFC 3522, RFC 4015 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum RtoEifel {
    #[default]
    Idle,
    /// Detection armed: the TSval of the first timeout's retransmission.
    Armed(u32),
    /// Undone as spurious: the first RTT sample of data sent after `after`
    /// (SND.MAX then) sets SRTT/RTTVAR from these (step 5; microseconds).
    Rebase {
        after: SeqNum,
        srtt_prev_us: u32,
        rttvar_prev_us: u32,
    },
}

/// Buffers and per-flight state (see the module docs).
#[derive(Debug)]
pub(crate) struct InFlight {
    pub sendbuf: SendBuffer,
    pub recvbuf: RecvBuffer,
    /// RFC 6675 scoreboard.
    pub scoreboard: Scoreboard,
    /// Karn timing of one segment: (sequence that must be acked, time sent).
    pub rtt_probe: Option<(SeqNum, Instant)>,
    /// A retransmission to send before new data (fast retransmit, partial ACK).
    pub rexmit_seq: Option<SeqNum>,
    /// RFC 6675 HighRxt (a stream offset).
    pub high_rxt: u64,
    /// RFC 6937 PRR state.
    pub recover_fs: u32,
    pub prr_delivered: u32,
    pub prr_out: u32,
    /// Eifel detection (RFC 3522): TSval when SACK recovery began, and the
    /// congestion state before it, to undo a recovery that reordering caused.
    pub eifel_ts: Option<u32>,
    /// Boxed: allocated once per recovery.
    pub cc_before_recovery: Option<Box<Controller>>,
    /// Eifel state of a retransmission timeout (RFC 3522, RFC 4015); the
    /// congestion state before it is in `cc_before_recovery` while armed.
    pub rto_eifel: RtoEifel,
    /// A duplicate range to report first in the next SACK option (RFC 2883).
    pub pending_dsack: Option<(u64, u64)>,
    /// TSval of our last retransmission timeout: an ACK echoing an older TSval
    /// is ambiguous (the original or a duplicate was acked), so no RTT sample.
    pub ts_rto_floor: Option<u32>,
    /// Retransmission timer (RFC 6298 §5), also used for SYN and FIN.
    pub rexmit: Instant,
    /// Persist timer for zero-window probes (RFC 9293 §3.8.6.1).
    pub persist: Instant,
    /// Delayed-ACK timer (RFC 9293 §3.8.6.3).
    pub delack: Instant,
    /// Bytes received since our last ACK (delayed-ACK rule, RFC 5681 §4.2).
    pub unacked_rcv_bytes: u32,
    /// Sequence number of the peer's FIN when it arrived ahead of RCV.NXT.
    pub peer_fin_seq: Option<SeqNum>,
    /// An RST to send: (seq, ack, with ACK flag).
    pub pending_rst: Option<(SeqNum, SeqNum, bool)>,
    /// RACK-TLP state with its two timers (RFC 8985).
    pub rack: Rack,
}

impl InFlight {
    const fn resumed(send_limit: u32, send_start: u64, recv_limit: u32, recv_next: u64) -> Self {
        InFlight {
            sendbuf: SendBuffer::resumed(send_limit as usize, send_start),
            recvbuf: RecvBuffer::resumed(recv_limit as usize, recv_next),
            scoreboard: Scoreboard::new(),
            rtt_probe: None,
            rexmit_seq: None,
            high_rxt: 0,
            recover_fs: 1,
            prr_delivered: 0,
            prr_out: 0,
            eifel_ts: None,
            cc_before_recovery: None,
            rto_eifel: RtoEifel::Idle,
            pending_dsack: None,
            ts_rto_floor: None,
            rexmit: Instant::MAX,
            persist: Instant::MAX,
            delack: Instant::MAX,
            unacked_rcv_bytes: 0,
            peer_fin_seq: None,
            pending_rst: None,
            rack: Rack::new(),
        }
    }

    /// [`InFlight::resumed`] in place, keeping the memory of the rings
    /// (those within the new limits) and of RACK's log (a pooled box).
    /// Field by field, no struct moves (this runs per connection setup); the
    /// test `reuse_equals_resumed` checks no field is missed.
    fn reuse(&mut self, send_limit: u32, send_start: u64, recv_limit: u32, recv_next: u64) {
        self.sendbuf.reuse(send_limit as usize, send_start);
        self.recvbuf.reuse(recv_limit as usize, recv_next);
        self.scoreboard.reuse();
        self.rtt_probe = None;
        self.rexmit_seq = None;
        self.high_rxt = 0;
        self.recover_fs = 1;
        self.prr_delivered = 0;
        self.prr_out = 0;
        self.eifel_ts = None;
        self.cc_before_recovery = None;
        self.rto_eifel = RtoEifel::Idle;
        self.pending_dsack = None;
        self.ts_rto_floor = None;
        self.rexmit = Instant::MAX;
        self.persist = Instant::MAX;
        self.delack = Instant::MAX;
        self.unacked_rcv_bytes = 0;
        self.peer_fin_seq = None;
        self.pending_rst = None;
        self.rack.reuse();
    }

    /// No byte buffered in either direction and no SACK information: a
    /// rebuilt box would behave the same. (Recovery, RTT probe and Eifel
    /// state refer to data in flight; the connection checks there is none.)
    fn holds_no_data(&self) -> bool {
        self.pending_rst.is_none()
            && self.peer_fin_seq.is_none()
            && self.rexmit == Instant::MAX
            && self.persist == Instant::MAX
            && self.delack == Instant::MAX
            && self.sendbuf.is_empty()
            && self.recvbuf.readable() == 0
            && !self.recvbuf.has_out_of_order()
            && self.scoreboard.range_count() == 0
            && self.rack.is_idle()
    }
}

/// What a released box reads as. Only idle connections see it, and the
/// connection's `&self` entry points that may run idle (`wants_transmit`,
/// `info`, buffer limits) use the saved values of [`InFlightBox`] instead.
static RELEASED: InFlight = InFlight::resumed(0, 0, 0, 0);

/// The box, and what survives while it is released. Derefs to the box; a
/// mutable access to a released box rebuilds it.
#[derive(Debug)]
pub(crate) struct InFlightBox {
    inner: Option<Box<InFlight>>,
    /// Stream offset of the next byte the application sends (saved on release).
    send_start: u64,
    /// RCV.NXT as a stream offset (saved on release).
    recv_next: u64,
    send_limit: u32,
    recv_limit: u32,
}

impl InFlightBox {
    /// Nothing allocated yet: the first use allocates.
    pub fn new(send_limit: u32, recv_limit: u32) -> Self {
        InFlightBox {
            inner: None,
            send_start: 0,
            recv_next: 0,
            send_limit,
            recv_limit,
        }
    }

    #[inline]
    pub fn is_allocated(&self) -> bool {
        self.inner.is_some()
    }

    /// Rebuild a released box now from `pool`'s memory if it has a box:
    /// what [`InFlightBox::ensure`] would do next, without an allocation.
    /// Whether it did.
    #[inline]
    pub fn prefill(&mut self, pool: &mut InFlightPool) -> bool {
        // Asked before every segment and most commands; the box is there
        // for all but the first of a connection (or after an idle release).
        if self.inner.is_some() {
            return false;
        }
        self.fill_from(pool)
    }

    /// [`InFlightBox::prefill`] of a released box (out of line: rare).
    #[inline(never)]
    fn fill_from(&mut self, pool: &mut InFlightPool) -> bool {
        let Some(b) = pool.take() else {
            return false;
        };
        let b = self.inner.insert(b);
        b.reuse(
            self.send_limit,
            self.send_start,
            self.recv_limit,
            self.recv_next,
        );
        true
    }

    /// The box, allocated (from the saved offsets and limits) if released.
    /// Small and inlined (every buffer, timer and SACK access of the data
    /// path comes here); the allocation is out of line.
    #[inline]
    pub fn ensure(&mut self) -> &mut InFlight {
        if self.inner.is_none() {
            self.rebuild();
        }
        // Some by now; the fallback only satisfies the type.
        self.inner.get_or_insert_with(Self::released_box)
    }

    /// Allocates the box from the saved offsets and limits.
    #[cold]
    #[inline(never)]
    fn rebuild(&mut self) {
        let b = InFlight::resumed(
            self.send_limit,
            self.send_start,
            self.recv_limit,
            self.recv_next,
        );
        self.inner = Some(Box::new(b));
    }

    #[cold]
    #[inline(never)]
    fn released_box() -> Box<InFlight> {
        Box::new(InFlight::resumed(0, 0, 0, 0))
    }

    /// Disarm the timers kept in the box (a released box has none).
    pub fn clear_timers(&mut self) {
        if let Some(b) = self.inner.as_mut() {
            b.rexmit = Instant::MAX;
            b.persist = Instant::MAX;
            b.delack = Instant::MAX;
            b.rack.clear_timers();
        }
    }

    /// The earliest timer kept in the box.
    pub fn earliest_timer(&self) -> Instant {
        self.inner.as_ref().map_or(Instant::MAX, |b| {
            b.rexmit
                .min(b.persist)
                .min(b.delack)
                .min(b.rack.earliest_timer())
        })
    }

    /// Whether the box holds no data (true when released).
    pub fn holds_no_data(&self) -> bool {
        match &self.inner {
            Some(b) => b.holds_no_data(),
            None => true,
        }
    }

    /// Give the box up to `pool`, keeping where each stream stands. The caller
    /// checked that nothing is buffered or in flight. Its buffers' memory
    /// may stay with the box (within the pool's budget) for the next
    /// connection that needs one. `ended`: the connection is over (CLOSED or
    /// TIME-WAIT); an idle connection's memory is freed by
    /// [`InFlightPool::trim_idle`] once the stack has gone idle.
    pub fn release(&mut self, pool: &mut InFlightPool, ended: bool) {
        if let Some(b) = self.inner.take() {
            self.send_start = b.sendbuf.end_offset();
            self.recv_next = b.recvbuf.next_offset();
            self.send_limit = u32::try_from(b.sendbuf.limit()).unwrap_or(u32::MAX);
            self.recv_limit = u32::try_from(b.recvbuf.limit()).unwrap_or(u32::MAX);
            pool.put(b, ended);
        }
    }

    /// The connection is being dropped: its box (if any) goes to `pool`.
    pub fn recycle(&mut self, pool: &mut InFlightPool) {
        if let Some(b) = self.inner.take() {
            pool.put(b, true);
        }
    }

    pub fn send_limit(&self) -> usize {
        self.inner
            .as_ref()
            .map_or(self.send_limit as usize, |b| b.sendbuf.limit())
    }

    pub fn recv_limit(&self) -> usize {
        self.inner
            .as_ref()
            .map_or(self.recv_limit as usize, |b| b.recvbuf.limit())
    }

    /// Change the send buffer limit without allocating the box.
    pub fn set_send_limit(&mut self, limit: u32) {
        self.send_limit = limit;
        if let Some(b) = self.inner.as_mut() {
            b.sendbuf.set_limit(limit as usize);
        }
    }

    /// Change the receive buffer limit without allocating the box.
    pub fn set_recv_limit(&mut self, limit: u32) {
        self.recv_limit = limit;
        if let Some(b) = self.inner.as_mut() {
            b.recvbuf.set_limit(limit as usize);
        }
    }

    /// Stream offset one past the last byte the application sent.
    pub fn send_end_offset(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(self.send_start, |b| b.sendbuf.end_offset())
    }

    /// RCV.NXT as a stream offset: in-order bytes received so far.
    pub fn recv_next_offset(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(self.recv_next, |b| b.recvbuf.next_offset())
    }

    /// Room to advertise.
    pub fn recv_window(&self) -> usize {
        self.inner
            .as_ref()
            .map_or(self.recv_limit as usize, |b| b.recvbuf.window())
    }

    /// Whether the box's buffers hold memory (beyond the box itself).
    pub fn holds_buffer_memory(&self) -> bool {
        // Asked after every segment: the ring capacities decide at once while data flows.
        self.inner.as_ref().is_some_and(|b| {
            b.sendbuf.heap_bytes() > 0
                || b.recvbuf.heap_bytes() > 0
                || b.scoreboard.heap_bytes() > 0
                || b.cc_before_recovery.is_some()
        })
    }

    /// Heap bytes: the box and what its buffers hold.
    pub fn heap_bytes(&self) -> usize {
        self.inner.as_ref().map_or(0, |b| {
            core::mem::size_of::<InFlight>() + b.owned_heap_bytes()
        })
    }
}

impl InFlight {
    /// Heap bytes owned by the box's parts (buffers, scoreboard, RACK, saved
    /// congestion state), not counting the box.
    fn owned_heap_bytes(&self) -> usize {
        self.sendbuf.heap_bytes()
            + self.recvbuf.heap_bytes()
            + self.scoreboard.heap_bytes()
            + self.rack.heap_bytes()
            + self
                .cc_before_recovery
                .as_ref()
                .map_or(0, |_| core::mem::size_of::<Controller>())
    }
}

/// A few released boxes kept by the stack so that connection setup and
/// teardown, and an idle connection waking up, reuse their memory instead
/// of a `malloc`/`free` pair each time (a connect + close cycle used to
/// build a box five times, and to allocate both rings and RACK's log once;
/// a request/response on an idle-released connection allocated both rings
/// and the log at each end). Bounded in boxes and in the buffer memory they
/// keep. Memory that idle connections gave back is only kept while some
/// connection still waits for its idle release: once none does, the stack
/// calls [`InFlightPool::trim_idle`], so the memory of an idle stack is what
/// it was without the pool.
#[derive(Debug, Default)]
pub(crate) struct InFlightPool {
    // The boxes themselves are the point: they move in and out of connections.
    #[allow(clippy::vec_box)]
    boxes: Vec<Box<InFlight>>,
    /// Buffer memory (rings, RACK log, ranges) the pooled boxes keep.
    bytes: usize,
    /// Of `bytes`, at most this much came from idle (not ended) connections.
    idle_bytes: usize,
}

impl InFlightPool {
    /// Boxes kept at most (the rest are freed), except during a burst of
    /// idle releases.
    pub const CAP: usize = 8;
    /// Boxes kept at most while idle connections give theirs back: idle
    /// releases come in batches, one per release tick, of every connection
    /// that went quiet in the tick before, and as many may wake in the next.
    pub const BURST_CAP: usize = 32;
    /// Buffer memory kept at most over all pooled boxes; a box that would
    /// exceed it has its buffers freed (large bulk rings are not kept).
    pub const BYTE_BUDGET: usize = 64 * 1024;

    /// Keep `b` for reuse if there is room, with its buffers' memory if that
    /// fits the budget; otherwise that memory is freed now. `ended`: `b`
    /// served a connection that is over (else an idle one, whose memory
    /// [`InFlightPool::trim_idle`] may free later).
    fn put(&mut self, mut b: Box<InFlight>, ended: bool) {
        let cap = if ended { Self::CAP } else { Self::BURST_CAP };
        if self.boxes.len() >= cap {
            return;
        }
        let owned = b.owned_heap_bytes();
        if owned > 0 {
            if self.bytes + owned <= Self::BYTE_BUDGET {
                self.bytes += owned;
                if !ended {
                    self.idle_bytes += owned;
                }
            } else {
                *b = InFlight::resumed(0, 0, 0, 0);
            }
        }
        if self.boxes.capacity() == 0 {
            self.boxes.reserve_exact(Self::CAP);
        }
        self.boxes.push(b);
    }

    /// No connection waits for its idle release any more: free the buffer
    /// memory idle connections gave back (all pooled buffers, if any of it
    /// is still here) and the boxes beyond [`InFlightPool::CAP`], so an
    /// idle stack holds what it held before idle memory was pooled.
    pub fn trim_idle(&mut self) {
        // Boxes beyond CAP came with a burst of idle releases, with or
        // without the buffers the budget had room for.
        if self.boxes.len() > Self::CAP {
            for b in self.boxes.drain(Self::CAP..) {
                self.bytes = self.bytes.saturating_sub(b.owned_heap_bytes());
            }
            self.boxes.shrink_to(Self::CAP);
        }
        if self.idle_bytes == 0 {
            return;
        }
        // Idle memory may sit in any remaining box: free every pooled buffer.
        for b in &mut self.boxes {
            if b.owned_heap_bytes() > 0 {
                **b = InFlight::resumed(0, 0, 0, 0);
            }
        }
        self.bytes = 0;
        self.idle_bytes = 0;
    }

    /// A pooled box (its state stale: the caller resets it with `reuse`).
    fn take(&mut self) -> Option<Box<InFlight>> {
        let b = self.boxes.pop()?;
        self.bytes = self.bytes.saturating_sub(b.owned_heap_bytes());
        self.idle_bytes = self.idle_bytes.min(self.bytes);
        Some(b)
    }

    /// Heap bytes held by the pool.
    pub fn heap_bytes(&self) -> usize {
        self.boxes.capacity() * core::mem::size_of::<Box<InFlight>>()
            + self.boxes.len() * core::mem::size_of::<InFlight>()
            + self.bytes
    }
}

impl Deref for InFlightBox {
    type Target = InFlight;
    #[inline]
    fn deref(&self) -> &InFlight {
        self.inner.as_deref().unwrap_or(&RELEASED)
    }
}

impl DerefMut for InFlightBox {
    #[inline]
    fn deref_mut(&mut self) -> &mut InFlight {
        self.ensure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    /// A used box, every field away from its `resumed` value.
    fn dirty() -> Box<InFlight> {
        let mut b = Box::new(InFlight::resumed(8192, 100, 8192, 200));
        assert_eq!(b.sendbuf.push(&[7u8; 1000]), 1000);
        assert_eq!(b.recvbuf.write(200, &[9u8; 500]), 500);
        assert_eq!(b.recvbuf.write(1200, &[9u8; 10]), 0);
        assert!(b.recvbuf.has_out_of_order());
        b.scoreboard.on_ack(100, &[(300, 400)], 1100);
        b.rack.on_send(Instant::from_millis(5), 100, 1100, false);
        b.rack.reo_timer = Instant::from_millis(9);
        b.rack.pto = Instant::from_millis(9);
        b.rack.on_rtt_sample(crate::time::Duration::from_millis(3));
        b.rtt_probe = Some((SeqNum(1), Instant::from_millis(1)));
        b.rexmit_seq = Some(SeqNum(2));
        b.high_rxt = 3;
        b.recover_fs = 4;
        b.prr_delivered = 5;
        b.prr_out = 6;
        b.eifel_ts = Some(7);
        b.cc_before_recovery = Some(Box::new(Controller::new(
            crate::tcp::cc::Congestion::default(),
            1460,
            10,
        )));
        b.rto_eifel = RtoEifel::Armed(13);
        b.pending_dsack = Some((1, 2));
        b.ts_rto_floor = Some(8);
        b.rexmit = Instant::from_millis(1);
        b.persist = Instant::from_millis(2);
        b.delack = Instant::from_millis(3);
        b.unacked_rcv_bytes = 9;
        b.peer_fin_seq = Some(SeqNum(10));
        b.pending_rst = Some((SeqNum(11), SeqNum(12), true));
        b
    }

    #[test]
    fn reuse_equals_resumed_and_keeps_memory() {
        let mut b = dirty();
        let before = b.owned_heap_bytes();
        assert!(before > 0);
        b.reuse(4096, 5000, 16384, 6000);
        // The rings (within the new limits), the range lists and RACK's log stay.
        assert!(b.sendbuf.heap_bytes() > 0);
        assert!(b.recvbuf.heap_bytes() > 0);
        assert!(b.rack.heap_bytes() > 0);
        // Everything else reads exactly as a new box (Debug shows every
        // field; the kept memory is capacity, which it does not show, and
        // the RACK spare, dropped here for the comparison).
        b.rack.release_if_empty();
        let fresh = InFlight::resumed(4096, 5000, 16384, 6000);
        assert_eq!(format!("{b:?}"), format!("{fresh:?}"));
    }

    #[test]
    fn reuse_drops_a_ring_larger_than_the_new_limit() {
        let mut b = dirty();
        let recv_before = b.recvbuf.heap_bytes();
        b.reuse(512, 0, 512, 0);
        assert_eq!(b.sendbuf.heap_bytes(), 0);
        // Only the out-of-order range list is left of the receive side.
        assert!(b.recvbuf.heap_bytes() + 512 < recv_before);
    }

    #[test]
    fn pool_keeps_memory_within_its_budget() {
        let mut pool = InFlightPool::default();
        let mut kept = 0;
        for _ in 0..InFlightPool::CAP {
            let b = dirty();
            let owned = b.owned_heap_bytes();
            if kept + owned <= InFlightPool::BYTE_BUDGET {
                kept += owned;
            }
            pool.put(b, true);
        }
        assert!(kept > 0);
        let boxes = InFlightPool::CAP
            * (core::mem::size_of::<InFlight>() + core::mem::size_of::<Box<InFlight>>());
        assert_eq!(pool.heap_bytes(), boxes + kept);
        assert!(pool.heap_bytes() - boxes <= InFlightPool::BYTE_BUDGET);
        // Taking every box back leaves no memory counted.
        while pool.take().is_some() {}
        assert_eq!(pool.bytes, 0);
        // A box released by an idle (not ended) connection keeps its memory
        // too, until `trim_idle`.
        pool.put(dirty(), false);
        assert!(pool.bytes > 0);
        assert_eq!(pool.idle_bytes, pool.bytes);
        assert!(pool.take().is_some_and(|b| b.owned_heap_bytes() > 0));
        assert_eq!((pool.bytes, pool.idle_bytes), (0, 0));
    }

    #[test]
    fn trim_idle_frees_what_idle_connections_gave_back() {
        let mut pool = InFlightPool::default();
        // Only ended connections' memory: nothing to trim.
        pool.put(dirty(), true);
        let kept = pool.heap_bytes();
        pool.trim_idle();
        assert_eq!(pool.heap_bytes(), kept);
        // A burst of idle releases, more boxes than kept when idle.
        for _ in 0..InFlightPool::BURST_CAP + 4 {
            pool.put(dirty(), false);
        }
        assert_eq!(pool.boxes.len(), InFlightPool::BURST_CAP);
        assert!(pool.idle_bytes > 0 && pool.bytes <= InFlightPool::BYTE_BUDGET);
        pool.trim_idle();
        assert_eq!(pool.boxes.len(), InFlightPool::CAP);
        assert_eq!((pool.bytes, pool.idle_bytes), (0, 0));
        assert!(pool.boxes.iter().all(|b| b.owned_heap_bytes() == 0));
        let boxes = InFlightPool::CAP
            * (core::mem::size_of::<InFlight>() + core::mem::size_of::<Box<InFlight>>());
        assert_eq!(pool.heap_bytes(), boxes);
    }

    /// The pool's invariants: `bytes` is exactly what its boxes own,
    /// `idle_bytes` at most that, both within the budget, at most
    /// `BURST_CAP` boxes.
    fn check_accounting(pool: &InFlightPool) {
        let owned: usize = pool.boxes.iter().map(|b| b.owned_heap_bytes()).sum();
        assert_eq!(pool.bytes, owned, "bytes counted = bytes owned");
        assert!(pool.idle_bytes <= pool.bytes);
        assert!(pool.bytes <= InFlightPool::BYTE_BUDGET);
        assert!(pool.boxes.len() <= InFlightPool::BURST_CAP);
    }

    #[test]
    fn trim_idle_drops_burst_boxes_even_without_idle_memory() {
        let mut pool = InFlightPool::default();
        // Ended connections leave too little of the byte budget for
        // another box's memory...
        let owned = dirty().owned_heap_bytes();
        for _ in 0..InFlightPool::CAP {
            let mut big = Box::new(InFlight::resumed(32768, 0, 32768, 0));
            assert_eq!(big.sendbuf.push(&[1u8; 20000]), 20000);
            pool.put(big, true);
        }
        assert!(pool.bytes + owned > InFlightPool::BYTE_BUDGET);
        // ...so a burst of idle releases keeps boxes, but no idle memory.
        for _ in 0..InFlightPool::BURST_CAP {
            pool.put(dirty(), false);
        }
        check_accounting(&pool);
        assert_eq!(pool.idle_bytes, 0);
        assert_eq!(pool.boxes.len(), InFlightPool::BURST_CAP);
        // Once no connection waits for its release, the burst's extra boxes
        // go: an idle stack holds what it held before idle boxes were pooled.
        pool.trim_idle();
        check_accounting(&pool);
        assert!(
            pool.boxes.len() <= InFlightPool::CAP,
            "{} boxes",
            pool.boxes.len()
        );
    }

    #[test]
    fn pool_accounting_holds_under_mixed_puts_takes_and_trims() {
        let mut pool = InFlightPool::default();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 7 {
                0 | 1 => pool.put(dirty(), true),
                2 | 3 => pool.put(dirty(), false),
                4 => pool.put(Box::new(InFlight::resumed(0, 0, 0, 0)), x & 8 == 0),
                5 => {
                    let _ = pool.take();
                }
                _ => {
                    pool.trim_idle();
                    assert!(pool.boxes.len() <= InFlightPool::CAP);
                }
            }
            check_accounting(&pool);
        }
    }
}
