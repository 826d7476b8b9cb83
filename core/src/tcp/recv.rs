//! Receive buffer with in-place out-of-order reassembly.
//!
//! One ring of at most `limit` bytes (the receive window) holds both the
//! in-order bytes the application has yet to read and out-of-order bytes,
//! each written at its own position. Holes are tracked as a small, capped set
//! of received ranges, so memory is bounded by the window we advertise,
//! never by what a sender chooses to send.
//!
//! Overlaps and duplicates: the later copy overwrites the earlier one in
//! place (a correct peer sends identical bytes; bytes already readable are
//! never rewritten because writes are trimmed at RCV.NXT).

use alloc::vec::Vec;

use super::connection::{Connection, HANDSHAKE_BOX};
use super::inflight::InFlightPool;
use super::state::State;
use crate::wire::checksum;

/// Most out-of-order ranges tracked. A segment that would need one more is
/// dropped (`write` returns 0); the sender retransmits it later.
pub const MAX_RANGES: usize = 32;
/// Ring allocations are rounded up to a multiple of this.
const ALLOC_UNIT: usize = 1024;

/// Capacity for a ring of capacity `cap` that must hold `need` bytes: at least
/// `need` in one step (rounded up to [`ALLOC_UNIT`]), at least double, so
/// repeated growth stays amortised O(1) per byte, and never above `limit`
/// unless `need` itself is.
pub(super) fn grown_capacity(cap: usize, need: usize, limit: usize) -> usize {
    let want = need.max(cap.saturating_mul(2));
    let rounded = want.div_ceil(ALLOC_UNIT).saturating_mul(ALLOC_UNIT);
    rounded.min(limit.max(need))
}

/// Index `head + rel` of a ring of capacity `cap` (> 0), wrapped. Ring
/// positions are below `2 * cap`, so one subtraction does it without the
/// division of `%` on the per-segment path.
#[inline]
pub(super) fn ring_index(head: usize, rel: usize, cap: usize) -> usize {
    let p = head.saturating_add(rel);
    if p < cap {
        p
    } else if p - cap < cap {
        p - cap
    } else {
        p % cap
    }
}

/// Write `bytes` at index `pos` of a ring whose first `buf.len()` bytes are
/// initialised: overwrite inside, append past the end, zero-fill only a gap
/// between the end and `pos` (out-of-order data), so growing never zeroes
/// the whole allocation. The caller keeps `pos + bytes.len()` within the
/// ring's capacity.
pub(super) fn put(buf: &mut Vec<u8>, pos: usize, bytes: &[u8]) {
    let len = buf.len();
    if pos > len {
        buf.resize(pos, 0);
    }
    let inside = buf.len().saturating_sub(pos).min(bytes.len());
    let (a, b) = bytes.split_at(inside);
    if let Some(dst) = buf.get_mut(pos..pos + inside) {
        dst.copy_from_slice(a);
    }
    buf.extend_from_slice(b);
}

/// [`put`] with the copy fused with the ones'-complement sum of `bytes`,
/// added to `initial` (RFC 1071 §4.1). Positions not yet initialised are
/// zeroed first (only while the ring fills for the first time).
fn put_with_checksum(buf: &mut Vec<u8>, pos: usize, bytes: &[u8], initial: u32) -> u32 {
    let end = pos.saturating_add(bytes.len());
    if end > buf.len() {
        buf.resize(end, 0);
    }
    match buf.get_mut(pos..end) {
        Some(dst) => checksum::copy_with_checksum(dst, bytes, initial),
        None => checksum::ones_complement_sum(bytes, initial),
    }
}

/// One out-of-order range `[start, end)` with the time it last changed.
#[derive(Clone, Copy, Debug)]
struct OooRange {
    start: u64,
    end: u64,
    /// Larger = changed more recently (RFC 2018 §4 ordering).
    stamp: u64,
}

/// Receive ring with in-place reassembly. Offsets are u64 stream offsets,
/// 0 = first byte after the peer's SYN.
#[derive(Debug, Default)]
pub struct RecvBuffer {
    /// Ring storage: its capacity is the ring size (set once by
    /// `Vec::with_capacity`, which is exact, and never grown past); the first
    /// `buf.len()` bytes were written at least once (the rest is never read).
    buf: Vec<u8>,
    /// Index in `buf` of the byte at `read_off`.
    head: usize,
    /// Stream offset of the next byte the application reads.
    read_off: u64,
    /// In-order bytes at `[read_off, read_off + readable)`.
    readable: usize,
    /// The window: most bytes held beyond `read_off` (u32: windows are < 2^30).
    limit: u32,
    /// Length of in-order bytes copied to RCV.NXT by `place_in_order` and
    /// not yet made readable (0: none); the next `write` of exactly them
    /// commits them without copying again.
    placed: u32,
    /// Out-of-order ranges above RCV.NXT: sorted, disjoint, non-adjacent.
    ooo: Vec<OooRange>,
    stamp: u64,
    /// Most recent duplicate range received, for a D-SACK block (RFC 2883 §4).
    dsack: Option<(u64, u64)>,
}

/// A ring's storage copied with the same capacity (a derived `Vec` clone
/// would shrink it to the length and break ring positions).
pub(super) fn clone_ring(buf: &Vec<u8>) -> Vec<u8> {
    let mut v = Vec::with_capacity(buf.capacity());
    v.extend_from_slice(buf);
    v
}

impl Clone for RecvBuffer {
    fn clone(&self) -> Self {
        RecvBuffer {
            buf: clone_ring(&self.buf),
            ooo: self.ooo.clone(),
            ..*self
        }
    }
}

impl RecvBuffer {
    /// An empty buffer whose window is `limit` bytes; allocates nothing yet.
    pub const fn new(limit: usize) -> Self {
        RecvBuffer::resumed(limit, 0)
    }

    /// An empty buffer whose next in-order byte has stream offset `next`
    /// (a connection's buffers rebuilt after they were released while idle).
    pub const fn resumed(limit: usize, next: u64) -> Self {
        RecvBuffer {
            buf: Vec::new(),
            head: 0,
            read_off: next,
            readable: 0,
            // Saturating, in a const fn (`u32::try_from` is not const).
            limit: if limit > u32::MAX as usize {
                u32::MAX
            } else {
                limit as u32
            },
            placed: 0,
            ooo: Vec::new(),
            stamp: 0,
            dsack: None,
        }
    }

    /// [`RecvBuffer::resumed`] for a new connection, keeping the ring's
    /// memory if it is within `limit` and the range list's (a pooled
    /// in-flight box). Ring bytes count as never written, as in a new
    /// allocation.
    /// Field by field (no struct moves: this runs per connection setup);
    /// `inflight`'s test checks the result equals `resumed`.
    pub(crate) fn reuse(&mut self, limit: usize, next: u64) {
        if self.buf.capacity() > limit {
            self.buf = Vec::new();
        }
        self.buf.clear();
        self.head = 0;
        self.read_off = next;
        self.readable = 0;
        self.limit = u32::try_from(limit).unwrap_or(u32::MAX);
        self.placed = 0;
        self.ooo.clear();
        self.stamp = 0;
        self.dsack = None;
    }

    /// Change the window size. Data already stored beyond a lowered limit is
    /// kept; only new writes are bounded by the new limit.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = u32::try_from(limit).unwrap_or(u32::MAX);
    }

    pub fn limit(&self) -> usize {
        self.limit as usize
    }

    /// RCV.NXT as a stream offset.
    pub fn next_offset(&self) -> u64 {
        self.read_off.saturating_add(self.readable as u64)
    }

    /// Contiguous bytes the application can read.
    pub fn readable(&self) -> usize {
        self.readable
    }

    /// Room to advertise: limit minus unread in-order bytes.
    pub fn window(&self) -> usize {
        self.limit().saturating_sub(self.readable)
    }

    /// Store the in-window part of a segment at its place (RFC 9293 §3.10.7.4
    /// "seventh, process the segment text"; RFC 9293 §3.4 window trimming).
    /// Returns how far RCV.NXT advanced. Out-of-order data returns 0; a
    /// segment that would need more than [`MAX_RANGES`] ranges is dropped.
    #[inline]
    pub fn write(&mut self, offset: u64, data: &[u8]) -> usize {
        let placed = core::mem::take(&mut self.placed) as usize;
        if placed != 0
            && placed == data.len()
            && offset == self.next_offset()
            && self.ooo.is_empty()
        {
            // Copied by `place_in_order`, which checked the window and that no
            // out-of-order data is held: nothing to trim, track or copy.
            self.readable += placed;
            return placed;
        }
        self.write_general(offset, data)
    }

    /// `write` of bytes not placed by `place_in_order` (out of line: the
    /// placed case is nearly every in-order segment).
    #[inline(never)]
    fn write_general(&mut self, offset: u64, data: &[u8]) -> usize {
        let rcv_nxt = self.next_offset();
        self.note_duplicate(offset, data.len(), rcv_nxt);
        let Some((s, e)) = self.trim_to_window(offset, data.len()) else {
            return 0;
        };
        if s > rcv_nxt && !self.can_track(s, e) {
            return 0;
        }
        // In-window, so both differences fit in usize (they are <= limit / data.len()).
        let (Ok(src_lo), Ok(src_hi), Ok(rel)) = (
            usize::try_from(s - offset),
            usize::try_from(e - offset),
            usize::try_from(s - self.read_off),
        ) else {
            return 0;
        };
        let Some(bytes) = data.get(src_lo..src_hi) else {
            return 0;
        };
        if !self.reserve(rel.saturating_add(bytes.len())) {
            return 0;
        }
        self.copy_in(rel, bytes);
        if s == rcv_nxt {
            self.readable += bytes.len();
            self.absorb_contiguous();
        } else {
            self.insert_range(s, e);
        }
        let advanced = self.next_offset() - rcv_nxt;
        usize::try_from(advanced).unwrap_or(usize::MAX)
    }

    /// Copies `data`, the next in-order bytes (at RCV.NXT), into the ring's
    /// free space with its ones'-complement sum fused into the copy
    /// (RFC 1071 §4.1), without making them readable; returns that sum added
    /// to `initial`. `write` of the same bytes at RCV.NXT, before any other
    /// call, then only commits them. None (nothing copied) when this does
    /// not apply: out-of-order data held (its bytes must not be
    /// overwritten), the data not wholly inside the window, or the ring
    /// would have to grow (a segment failing its checksum allocates nothing).
    #[inline(always)]
    pub fn place_in_order(&mut self, data: &[u8], initial: u32) -> Option<u32> {
        self.placed = 0;
        let len = u32::try_from(data.len()).ok()?;
        let cap = self.buf.capacity();
        let end = self.readable.checked_add(data.len())?;
        if len == 0 || !self.ooo.is_empty() || end > self.limit() || end > cap {
            return None;
        }
        let pos = ring_index(self.head, self.readable, cap);
        let (a, b) = data.split_at(data.len().min(cap - pos));
        let sum = put_with_checksum(&mut self.buf, pos, a, initial);
        self.placed = len;
        if b.is_empty() {
            // No wrap (nearly every segment): what `add_at_offset` gives for
            // an empty part, without the call for it.
            return Some(u32::from(checksum::fold(sum)));
        }
        let wrapped = put_with_checksum(&mut self.buf, 0, b, 0);
        // A part starting at an odd stream position sums byte-swapped (RFC 1071 §2(B)).
        Some(checksum::add_at_offset(sum, wrapped, a.len() % 2 == 1))
    }

    /// Drops the note of bytes placed by `place_in_order` (the segment was
    /// not taken, or was taken otherwise): they stay free space.
    pub fn forget_placed(&mut self) {
        self.placed = 0;
    }

    /// Remember data we already hold: the part below RCV.NXT, or a segment
    /// wholly inside an out-of-order range (RFC 2883 §4, §4.1).
    fn note_duplicate(&mut self, offset: u64, len: usize, rcv_nxt: u64) {
        if len == 0 {
            return;
        }
        let end = offset.saturating_add(len as u64);
        if offset < rcv_nxt {
            self.dsack = Some((offset, end.min(rcv_nxt)));
            return;
        }
        let i = self.ooo.partition_point(|r| r.end < end);
        if let Some(r) = self.ooo.get(i) {
            if r.start <= offset && end <= r.end {
                self.dsack = Some((offset, end));
            }
        }
    }

    /// The latest duplicate range received since the last call, as
    /// `[start, end)`, to report as the first SACK block (RFC 2883 §4).
    pub fn take_dsack(&mut self) -> Option<(u64, u64)> {
        self.dsack.take()
    }

    /// Clip `[offset, offset+len)` to `[RCV.NXT, RCV.NXT-read + limit)` (RFC 9293 §3.10.7.4 acceptability).
    fn trim_to_window(&self, offset: u64, len: usize) -> Option<(u64, u64)> {
        let end = offset.saturating_add(len as u64);
        let window_end = self.read_off.saturating_add(self.limit as u64);
        let s = offset.max(self.next_offset());
        let e = end.min(window_end);
        (s < e).then_some((s, e))
    }

    /// Whether `[s, e)` fits in the range set: it merges into an existing range or a slot is free.
    fn can_track(&self, s: u64, e: u64) -> bool {
        if self.ooo.len() < MAX_RANGES {
            return true;
        }
        let i = self.ooo.partition_point(|r| r.end < s);
        self.ooo.get(i).is_some_and(|r| r.start <= e)
    }

    /// Grow the ring so relative positions below `need` fit, never past what the window allows.
    fn reserve(&mut self, need: usize) -> bool {
        let cap = self.buf.capacity();
        if need <= cap {
            return true;
        }
        let new_cap = grown_capacity(cap, need, self.limit());
        let mut new_buf = Vec::with_capacity(new_cap);
        if self.readable > 0 || !self.ooo.is_empty() {
            // Positions never written (a ring not yet wrapped) must keep their place.
            self.buf.resize(cap, 0);
            // Rotate so that `head` becomes index 0; all live positions are < cap.
            let (a, b) = self.buf.split_at(self.head.min(cap));
            new_buf.extend_from_slice(b);
            new_buf.extend_from_slice(a);
        }
        self.buf = new_buf;
        self.head = 0;
        true
    }

    /// Copy `bytes` to relative position `rel` (caller reserved room), wrapping.
    fn copy_in(&mut self, rel: usize, bytes: &[u8]) {
        let cap = self.buf.capacity();
        if cap == 0 || bytes.is_empty() {
            return;
        }
        let pos = ring_index(self.head, rel, cap);
        let first = bytes.len().min(cap - pos);
        let (a, b) = bytes.split_at(first);
        put(&mut self.buf, pos, a);
        put(&mut self.buf, 0, b);
    }

    /// Advance RCV.NXT over out-of-order ranges that now touch it (RFC 9293 §3.10.7.4).
    fn absorb_contiguous(&mut self) {
        let mut nxt = self.next_offset();
        let mut gone = 0;
        for r in &self.ooo {
            if r.start > nxt {
                break;
            }
            nxt = nxt.max(r.end);
            gone += 1;
        }
        self.ooo.drain(..gone);
        let readable = nxt - self.read_off;
        self.readable = usize::try_from(readable).unwrap_or(usize::MAX);
    }

    /// Merge `[s, e)` into the sorted range set, stamped as most recent (RFC 2018 §4).
    fn insert_range(&mut self, s: u64, e: u64) {
        if self.ooo.capacity() == 0 {
            // One allocation at the first hole, never per segment.
            self.ooo.reserve_exact(MAX_RANGES);
        }
        self.stamp += 1;
        let i = self.ooo.partition_point(|r| r.end < s);
        let j = self.ooo.partition_point(|r| r.start <= e);
        if i < j {
            let lo = s.min(self.ooo[i].start);
            let hi = e.max(self.ooo[j - 1].end);
            self.ooo.drain(i + 1..j);
            self.ooo[i] = OooRange {
                start: lo,
                end: hi,
                stamp: self.stamp,
            };
        } else {
            let r = OooRange {
                start: s,
                end: e,
                stamp: self.stamp,
            };
            self.ooo.insert(i, r);
        }
    }

    /// Copy up to `buf.len()` in-order bytes out; returns the count.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.readable);
        let cap = self.buf.capacity();
        if n == 0 || cap == 0 {
            return 0;
        }
        let first = n.min(cap - self.head);
        buf[..first].copy_from_slice(&self.buf[self.head..self.head + first]);
        buf[first..n].copy_from_slice(&self.buf[..n - first]);
        self.head = ring_index(self.head, n, cap);
        self.readable -= n;
        self.read_off += n as u64;
        n
    }

    /// The readable bytes as up to two slices, without consuming them.
    pub fn peek(&self) -> (&[u8], &[u8]) {
        let cap = self.buf.capacity();
        if cap == 0 || self.readable == 0 {
            return (&[], &[]);
        }
        let first = self.readable.min(cap - self.head);
        (
            &self.buf[self.head..self.head + first],
            &self.buf[..self.readable - first],
        )
    }

    /// Whether data above a hole is buffered.
    pub fn has_out_of_order(&self) -> bool {
        !self.ooo.is_empty()
    }

    /// Up to 4 out-of-order ranges for SACK, most recently changed first, then
    /// the others by recency (RFC 2018 §4). The caller trims to option space.
    pub fn sack_ranges(&self, out: &mut [(u64, u64); 4]) -> usize {
        let mut n = 0;
        let mut below = u64::MAX;
        while n < out.len() {
            // Next most recent stamp below the last one taken: O(ranges) each.
            let mut best: Option<&OooRange> = None;
            for r in &self.ooo {
                if r.stamp < below && best.map_or(true, |b| r.stamp > b.stamp) {
                    best = Some(r);
                }
            }
            let Some(r) = best else { break };
            out[n] = (r.start, r.end);
            below = r.stamp;
            n += 1;
        }
        n
    }

    /// Heap memory held, for accounting.
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity() + self.ooo.capacity() * core::mem::size_of::<OooRange>()
    }

    /// Drop the allocation when nothing is buffered (idle connections).
    pub fn release_if_empty(&mut self) {
        if self.readable == 0 && self.ooo.is_empty() {
            self.buf = Vec::new();
            self.ooo = Vec::new();
            self.head = 0;
        }
    }

    /// Whether memory is held while nothing is buffered.
    pub fn holds_idle_memory(&self) -> bool {
        self.readable == 0 && self.ooo.is_empty() && self.heap_bytes() > 0
    }
}

/// Buffer memory of a connection that is not using it. Draining a buffer
/// keeps its memory (the next segment or `send` reuses it); the stack calls
/// `release_idle_buffers` once the buffers have stayed empty for a while, so
/// an idle connection still holds no buffer.
impl Connection {
    /// Whether some buffer holds memory while empty (a release candidate).
    pub fn holds_idle_buffers(&self) -> bool {
        if !self.fl.is_allocated() {
            return false;
        }
        // The cheap memory checks first; `in_flight_releasable` is the longest.
        self.fl.recvbuf.holds_idle_memory()
            || (self.fl.sendbuf.is_empty() && self.fl.sendbuf.heap_bytes() > 0)
            || self.fl.scoreboard.holds_idle_memory()
            || self.in_flight_releasable()
            || self.fl.rack.holds_idle_memory()
    }

    /// Free the in-flight box at once if it has served only the handshake and
    /// holds nothing, not even buffer memory, so a burst of new idle
    /// connections holds no boxes. After that, boxes wait for the stack's
    /// idle release tick (at most one rebuild per connection per tick).
    pub fn release_unused_in_flight(&mut self) {
        self.release_unused_in_flight_into(&mut InFlightPool::default(), None);
    }

    /// [`Connection::release_unused_in_flight`], the box going to `pool`.
    /// Also frees the box of a connection that ended (CLOSED or TIME-WAIT,
    /// see `release_buffers_now`) once nothing is left to send.
    /// `wants_transmit`: [`Connection::wants_transmit`] if the caller has
    /// just asked it (nothing changed since), else None.
    ///
    /// Asked after every segment: the cheap tests inline, the rest out of line.
    #[inline]
    pub(crate) fn release_unused_in_flight_into(
        &mut self,
        pool: &mut InFlightPool,
        wants_transmit: Option<bool>,
    ) {
        if self.events_emitted & HANDSHAKE_BOX != 0
            && self.fl.is_allocated()
            && (!self.fl.holds_buffer_memory()
                || matches!(self.state, State::Closed | State::TimeWait))
        {
            self.release_releasable_in_flight_into(pool, wants_transmit);
        }
    }

    /// The rest of [`Connection::release_unused_in_flight_into`]: nothing
    /// buffered or in flight, and no ACK waiting.
    #[inline(never)]
    fn release_releasable_in_flight_into(
        &mut self,
        pool: &mut InFlightPool,
        wants_transmit: Option<bool>,
    ) {
        if self.in_flight_releasable()
            // Not while an ACK waits: sending it would rebuild the box.
            && !wants_transmit.unwrap_or_else(|| self.wants_transmit())
        {
            // Its memory came from the pool (handshake) or served a
            // connection that is over: the pool may keep it for the next.
            self.fl.release(pool, true);
            self.events_emitted &= !HANDSHAKE_BOX;
        }
    }

    /// Free the memory of every empty buffer; buffers holding data are kept.
    pub fn release_idle_buffers(&mut self) {
        self.release_idle_buffers_into(&mut InFlightPool::default());
    }

    /// [`Connection::release_idle_buffers`], a released box going to `pool`.
    pub(crate) fn release_idle_buffers_into(&mut self, pool: &mut InFlightPool) {
        if !self.fl.is_allocated() {
            return;
        }
        if self.in_flight_releasable() {
            // Nothing buffered or in flight: the whole box goes (its
            // buffers' memory freed: the connection is idle, not over).
            self.fl.release(pool, false);
            self.events_emitted &= !HANDSHAKE_BOX;
            return;
        }
        self.fl.recvbuf.release_if_empty();
        self.fl.sendbuf.release_if_empty();
        self.fl.scoreboard.release_if_empty();
        self.fl.rack.release_if_empty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn read_all(b: &mut RecvBuffer) -> Vec<u8> {
        let mut out = vec![0u8; b.readable()];
        let n = b.read(&mut out);
        out.truncate(n);
        out
    }

    #[test]
    fn allocates_lazily_and_releases() {
        let mut b = RecvBuffer::new(65_535);
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.write(0, b""), 0);
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.write(0, b"abc"), 3);
        assert!(b.heap_bytes() > 0);
        assert_eq!(read_all(&mut b), b"abc");
        b.release_if_empty();
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.next_offset(), 3);
        assert_eq!(b.write(3, b"de"), 2);
        assert_eq!(read_all(&mut b), b"de");
    }

    #[test]
    fn placed_bytes_are_summed_and_committed_by_the_next_write_only() {
        let mut b = RecvBuffer::new(4096);
        // No ring yet: placing would have to allocate, so it declines.
        assert_eq!(b.place_in_order(b"abcd", 0), None);
        assert_eq!(b.write(0, b"0123"), 4);
        let data = [7u8, 1, 2, 3, 4];
        let sum = b.place_in_order(&data, 0x10).expect("fits the ring");
        assert_eq!(sum, checksum::ones_complement_sum(&data, 0x10));
        assert_eq!(b.readable(), 4, "placed bytes are not readable yet");
        assert_eq!(b.write(4, &data), 5);
        let mut out = [0u8; 9];
        assert_eq!(b.read(&mut out), 9);
        assert_eq!(&out, b"0123\x07\x01\x02\x03\x04");
        // Forgotten placements are copied again by `write`.
        assert!(b.place_in_order(b"zz", 0).is_some());
        b.forget_placed();
        assert_eq!(b.write(9, b"ok"), 2);
        let mut out = [0u8; 2];
        assert_eq!(b.read(&mut out), 2);
        assert_eq!(&out, b"ok");
        // Out-of-order bytes held: placing could overwrite them, so it declines.
        assert_eq!(b.write(20, b"later"), 0);
        assert!(b.has_out_of_order());
        assert_eq!(b.place_in_order(b"x", 0), None);
        // Beyond the window: declines.
        let mut small = RecvBuffer::new(8);
        assert_eq!(small.write(0, b"abcdef"), 6);
        assert_eq!(small.place_in_order(b"xyz", 0), None);
    }

    /// Placed segments sum to the checksum of their bytes whether or not
    /// they wrap the ring, at every alignment, and land where `read` finds them.
    #[test]
    fn placed_sums_match_with_and_without_a_wrap() {
        let mut b = RecvBuffer::new(1024);
        assert_eq!(b.write(0, &[1u8; 1000]), 1000);
        let cap = b.buf.capacity();
        let mut out = alloc::vec![0u8; 4096];
        assert_eq!(b.read(&mut out), 1000);
        let (mut wrapped, mut straight) = (0, 0);
        let mut off = 1000u64;
        for len in 1..300usize {
            let data: alloc::vec::Vec<u8> = (0..len).map(|i| (i * 7 + len * 13) as u8).collect();
            let initial = 0x1_2345 + len as u32;
            let pos = ring_index(b.head, b.readable, cap);
            let sum = b.place_in_order(&data, initial).expect("fits the ring");
            let want = checksum::ones_complement_sum(&data, initial);
            if pos + len > cap {
                wrapped += 1;
            } else {
                straight += 1;
            }
            assert_eq!(
                checksum::fold(sum),
                checksum::fold(want),
                "len {len} pos {pos}"
            );
            assert_eq!(b.write(off, &data), len);
            off += len as u64;
            assert_eq!(b.read(&mut out), len);
            assert_eq!(&out[..len], &data[..]);
        }
        assert!(wrapped > 0 && straight > 100, "{wrapped} {straight}");
    }

    #[test]
    fn grows_in_one_step_and_clones_keep_the_ring() {
        let mut b = RecvBuffer::new(65_535);
        assert_eq!(b.write(0, &[7; 1000]), 1000);
        assert_eq!(
            b.heap_bytes(),
            1024,
            "first use: the size needed, rounded to 1 KiB"
        );
        assert_eq!(b.write(1000, &[8; 5000]), 5000);
        assert_eq!(b.heap_bytes(), 6144, "one step to what is needed");
        let mut out = [0u8; 5500];
        assert_eq!(b.read(&mut out), 5500);
        // Wrap around the end of the ring, then clone: same bytes, same ring.
        assert_eq!(b.write(6000, &[9; 3000]), 3000);
        assert_eq!(b.heap_bytes(), 6144, "drained space is reused");
        let mut c = b.clone();
        assert_eq!(c.heap_bytes(), b.heap_bytes());
        assert_eq!(c.write(9000, &[10; 100]), 100);
        assert_eq!(b.write(9000, &[10; 100]), 100);
        assert_eq!(read_all(&mut c), read_all(&mut b));
        assert!(grown_capacity(4096, 4097, 6000) == 6000);
        assert!(grown_capacity(0, 70_000, 65_535) == 70_000);
    }

    #[test]
    fn in_order_advances_and_window_shrinks() {
        let mut b = RecvBuffer::new(10);
        assert_eq!(b.window(), 10);
        assert_eq!(b.write(0, b"0123"), 4);
        assert_eq!(b.readable(), 4);
        assert_eq!(b.window(), 6);
        // Beyond the window is trimmed.
        assert_eq!(b.write(4, b"456789abcdef"), 6);
        assert_eq!(b.window(), 0);
        assert_eq!(b.write(10, b"x"), 0);
        assert_eq!(read_all(&mut b), b"0123456789");
        assert_eq!(b.window(), 10);
    }

    #[test]
    fn out_of_order_fills_in_place() {
        let mut b = RecvBuffer::new(100);
        assert_eq!(b.write(5, b"fgh"), 0);
        assert!(b.has_out_of_order());
        assert_eq!(b.readable(), 0);
        assert_eq!(b.write(10, b"klm"), 0);
        // Filling the first hole absorbs 5..8, stops at the hole 8..10.
        assert_eq!(b.write(0, b"abcde"), 8);
        assert_eq!(b.write(8, b"ij"), 5);
        assert!(!b.has_out_of_order());
        assert_eq!(read_all(&mut b), b"abcdefghijklm");
    }

    #[test]
    fn duplicates_and_overlaps() {
        let mut b = RecvBuffer::new(100);
        b.write(0, b"abc");
        // Old duplicate: ignored.
        assert_eq!(b.write(0, b"abc"), 0);
        // Partial overlap with RCV.NXT: only the new part counts.
        assert_eq!(b.write(1, b"bcdef"), 3);
        b.write(10, b"klmn");
        b.write(8, b"ijkl"); // overlaps the OOO range
        let mut s = [(0u64, 0u64); 4];
        assert_eq!(b.sack_ranges(&mut s), 1);
        assert_eq!(s[0], (8, 14));
        assert_eq!(b.write(6, b"gh"), 8);
        assert_eq!(read_all(&mut b), b"abcdefghijklmn");
    }

    #[test]
    fn offsets_outside_window_are_ignored() {
        let mut b = RecvBuffer::new(50);
        assert_eq!(b.write(u64::MAX - 2, b"zzzzz"), 0);
        assert_eq!(b.write(50, b"x"), 0);
        assert_eq!(b.write(1_000_000, &[1; 1000]), 0);
        assert!(!b.has_out_of_order());
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.write(0, b""), 0);
        // Window edge accepted.
        assert_eq!(b.write(49, b"yz"), 0);
        assert!(b.has_out_of_order());
        let mut s = [(0u64, 0u64); 4];
        b.sack_ranges(&mut s);
        assert_eq!(s[0], (49, 50));
    }

    #[test]
    fn range_cap_drops_segment_needing_new_range() {
        let mut b = RecvBuffer::new(100_000);
        for k in 0..MAX_RANGES as u64 {
            assert_eq!(b.write(10 + k * 10, b"xx"), 0);
        }
        let heap = b.heap_bytes();
        // A 33rd disjoint range is refused.
        b.write(10_000, b"yy");
        let mut s = [(0u64, 0u64); 4];
        b.sack_ranges(&mut s);
        assert_ne!(s[0], (10_000, 10_002));
        assert_eq!(b.heap_bytes(), heap);
        // Extending an existing range is still accepted.
        b.write(12, b"zz");
        b.sack_ranges(&mut s);
        assert_eq!(s[0], (10, 14));
        // In-order data always is.
        assert_eq!(b.write(0, &[0; 10]), 14);
    }

    #[test]
    fn sack_ranges_most_recent_first() {
        let mut b = RecvBuffer::new(1000);
        b.write(100, b"a");
        b.write(300, b"b");
        b.write(200, b"c");
        b.write(400, b"d");
        b.write(500, b"e");
        let mut s = [(0u64, 0u64); 4];
        assert_eq!(b.sack_ranges(&mut s), 4);
        assert_eq!(s, [(500, 501), (400, 401), (200, 201), (300, 301)]);
        // Extending an old range makes it the first block.
        b.write(101, b"f");
        assert_eq!(b.sack_ranges(&mut s), 4);
        assert_eq!(s[0], (100, 102));
        assert_eq!(s[1], (500, 501));
    }

    #[test]
    fn wraps_around_ring() {
        const RING: usize = 4096;
        let mut b = RecvBuffer::new(RING);
        let data: Vec<u8> = (0..3 * RING).map(|i| (i % 253) as u8).collect();
        let mut got = Vec::new();
        let mut off = 0;
        while off < data.len() {
            let end = (off + 1500).min(data.len());
            // Send the second half first to exercise OOO at the wrap.
            let mid = off + (end - off) / 2;
            b.write(mid as u64, &data[mid..end]);
            b.write(off as u64, &data[off..mid]);
            off = b.next_offset() as usize;
            let mut tmp = vec![0u8; 1000];
            let n = b.read(&mut tmp);
            got.extend_from_slice(&tmp[..n]);
            assert!(b.heap_bytes() <= RING + MAX_RANGES * 24);
        }
        got.extend(read_all(&mut b));
        assert_eq!(got, data);
    }

    #[test]
    fn duplicates_are_reported_for_dsack() {
        let mut b = RecvBuffer::new(1000);
        b.write(0, b"0123456789");
        assert_eq!(b.take_dsack(), None);
        // Entirely old.
        b.write(2, b"234");
        assert_eq!(b.take_dsack(), Some((2, 5)));
        assert_eq!(b.take_dsack(), None);
        // Partly old: only the duplicate part (RFC 2883 §4.1.1).
        assert_eq!(b.write(8, b"89ab"), 2);
        assert_eq!(b.take_dsack(), Some((8, 10)));
        // Duplicate of out-of-order data; the containing block is reported first.
        b.write(20, b"klmnop");
        assert_eq!(b.take_dsack(), None);
        b.write(22, b"mn");
        assert_eq!(b.take_dsack(), Some((22, 24)));
        let mut s = [(0u64, 0u64); 4];
        b.write(40, b"z");
        b.write(22, b"mn");
        assert_eq!(b.sack_ranges(&mut s), 2);
        assert_eq!(s[0], (20, 26));
        // Partial overlap with out-of-order data is not a D-SACK.
        b.take_dsack();
        b.write(25, b"pq");
        assert_eq!(b.take_dsack(), None);
        // Empty segments never are.
        b.write(0, b"");
        assert_eq!(b.take_dsack(), None);
    }

    #[test]
    fn out_of_order_flood_stays_within_window_memory() {
        let limit = 65_535;
        let mut b = RecvBuffer::new(limit);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let payload = [0xabu8; 1460];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Offsets everywhere: inside the window, just past it, far away.
            let off = match x % 3 {
                0 => 1 + x % (limit as u64),
                1 => limit as u64 + x % 10_000,
                _ => x,
            };
            let len = (x >> 32) as usize % payload.len();
            assert_eq!(b.write(off, &payload[..len]), 0);
        }
        assert_eq!(b.readable(), 0);
        assert!(b.has_out_of_order());
        assert!(
            b.heap_bytes() <= limit + MAX_RANGES * core::mem::size_of::<OooRange>(),
            "heap {}",
            b.heap_bytes()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn random_arrival_orders_reassemble_exactly(
            len in 1usize..6000,
            limit in 1usize..9000,
            cuts in proptest::collection::vec(0usize..6000, 0..60),
            extra in proptest::collection::vec((0usize..6000, 1usize..700), 0..20),
            seed in any::<u64>(),
        ) {
            let stream: Vec<u8> = (0..len).map(|i| (i as u64 ^ seed.rotate_left(i as u32 % 64)) as u8).collect();
            // Segments: a partition of the stream, plus overlapping duplicates.
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % len).collect();
            points.push(0);
            points.push(len);
            points.sort_unstable();
            points.dedup();
            let mut segs: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
            for (s, l) in extra {
                let s = s % len;
                segs.push((s, (s + l).min(len)));
            }
            let mut rng = seed | 1;
            let mut next = || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
            let mut b = RecvBuffer::new(limit);
            let mut out = Vec::new();
            let mut tmp = vec![0u8; 997];
            let mut passes = 0;
            while out.len() < len {
                passes += 1;
                prop_assert!(passes <= segs.len() + len / limit + 2, "no progress");
                // Shuffle (Fisher-Yates) and deliver everything, reading at random.
                for i in (1..segs.len()).rev() {
                    let j = (next() % (i as u64 + 1)) as usize;
                    segs.swap(i, j);
                }
                for &(s, e) in &segs {
                    let before = b.next_offset();
                    let adv = b.write(s as u64, &stream[s..e]);
                    prop_assert_eq!(b.next_offset(), before + adv as u64);
                    prop_assert!(b.buf.capacity() <= limit.max(1));
                    prop_assert!(b.buf.len() <= b.buf.capacity());
                    prop_assert!(b.readable() <= limit);
                    prop_assert!(b.ooo.len() <= MAX_RANGES);
                    if next() % 3 == 0 {
                        let want = (next() % 997) as usize;
                        let n = b.read(&mut tmp[..want]);
                        out.extend_from_slice(&tmp[..n]);
                    }
                }
                out.extend(read_all(&mut b));
            }
            prop_assert_eq!(&out[..], &stream[..]);
            prop_assert!(!b.has_out_of_order());
            b.release_if_empty();
            prop_assert_eq!(b.heap_bytes(), 0);
        }
    }
}
