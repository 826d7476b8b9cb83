//! Send side data structures: the byte ring holding everything from SND.UNA
//! to the end of what the application wrote, and the RFC 6675 SACK
//! scoreboard.
//!
//! Both work on u64 stream offsets (0 = the first data byte after our SYN),
//! so they never deal with sequence-number wrap; the connection converts.

use alloc::vec::Vec;

use super::recv::{clone_ring, grown_capacity, put, ring_index};

/// Ring buffer of unacknowledged and unsent bytes.
///
/// Holds the bytes `[start_offset(), end_offset())`. Allocates nothing until
/// the first `push`, grows to what is needed (at least doubling) up to
/// `limit` without zeroing, and can drop its memory when empty
/// (`release_if_empty`).
#[derive(Debug, Default)]
pub struct SendBuffer {
    /// Ring storage: its capacity is the ring size (exact, never grown past);
    /// the first `buf.len()` bytes were written.
    buf: Vec<u8>,
    /// Index in `buf` of the byte at `start`.
    head: usize,
    /// Bytes stored.
    len: usize,
    /// Stream offset of the first stored byte (SND.UNA as an offset).
    start: u64,
    limit: usize,
}

impl Clone for SendBuffer {
    fn clone(&self) -> Self {
        SendBuffer {
            buf: clone_ring(&self.buf),
            ..*self
        }
    }
}

impl SendBuffer {
    /// An empty buffer that will hold at most `limit` bytes.
    pub const fn new(limit: usize) -> Self {
        SendBuffer::resumed(limit, 0)
    }

    /// An empty buffer whose next byte has stream offset `start` (a
    /// connection's buffers rebuilt after they were released while idle).
    pub const fn resumed(limit: usize, start: u64) -> Self {
        SendBuffer {
            buf: Vec::new(),
            head: 0,
            len: 0,
            start,
            limit,
        }
    }

    /// [`SendBuffer::resumed`] for a new connection, keeping the ring's
    /// memory if it is within `limit` (a pooled in-flight box). Its bytes
    /// count as never written, as in a new allocation.
    pub(crate) fn reuse(&mut self, limit: usize, start: u64) {
        if self.buf.capacity() > limit {
            self.buf = Vec::new();
        }
        self.buf.clear();
        self.head = 0;
        self.len = 0;
        self.start = start;
        self.limit = limit;
    }

    /// Change the limit. Lowering it below what is stored keeps the data; it
    /// only stops further pushes until enough is acknowledged.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes stored (in flight plus not yet sent).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left for `push`.
    pub fn free(&self) -> usize {
        self.limit.saturating_sub(self.len)
    }

    /// Stream offset of the first stored byte (SND.UNA).
    pub fn start_offset(&self) -> u64 {
        self.start
    }

    /// Stream offset one past the last stored byte.
    pub fn end_offset(&self) -> u64 {
        self.start.saturating_add(self.len as u64)
    }

    /// Append as much of `data` as fits under the limit; returns the count taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        self.reserve(n);
        let cap = self.buf.capacity();
        if cap == 0 {
            return 0;
        }
        let tail = ring_index(self.head, self.len, cap);
        let first = n.min(cap - tail);
        let (a, b) = data[..n].split_at(first);
        put(&mut self.buf, tail, a);
        put(&mut self.buf, 0, b);
        self.len += n;
        n
    }

    /// Make room for `extra` more bytes in one step (re-linearising the ring), without zeroing.
    fn reserve(&mut self, extra: usize) {
        let need = self.len.saturating_add(extra);
        let cap = self.buf.capacity();
        if need <= cap {
            return;
        }
        let new_cap = grown_capacity(cap, need, self.limit);
        let mut new_buf = Vec::with_capacity(new_cap);
        let (a, b) = self.stored_slices(0, self.len);
        new_buf.extend_from_slice(a);
        new_buf.extend_from_slice(b);
        self.buf = new_buf;
        self.head = 0;
    }

    /// Up to two slices, in order, covering `len` bytes from relative position `rel`.
    fn stored_slices(&self, rel: usize, len: usize) -> (&[u8], &[u8]) {
        let cap = self.buf.capacity();
        if cap == 0 || rel >= self.len {
            return (&[], &[]);
        }
        let n = len.min(self.len - rel);
        let pos = ring_index(self.head, rel, cap);
        let first = n.min(cap - pos);
        (&self.buf[pos..pos + first], &self.buf[..n - first])
    }

    /// The stored bytes `[offset, offset + len)` as up to two slices (zero copy
    /// emission); shorter, or empty, where that range is not stored.
    pub fn slices(&self, offset: u64, len: usize) -> (&[u8], &[u8]) {
        let Some(rel) = offset.checked_sub(self.start) else {
            return (&[], &[]);
        };
        let Ok(rel) = usize::try_from(rel) else {
            return (&[], &[]);
        };
        self.stored_slices(rel, len)
    }

    /// Drop bytes below `offset` (cumulatively acknowledged); returns how many were freed.
    pub fn release_to(&mut self, offset: u64) -> usize {
        let Some(n) = offset.checked_sub(self.start) else {
            return 0;
        };
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(self.len);
        if n == 0 {
            return 0;
        }
        let cap = self.buf.capacity();
        self.head = if cap == 0 {
            0
        } else {
            ring_index(self.head, n, cap)
        };
        self.len -= n;
        self.start += n as u64;
        if self.len == 0 {
            self.head = 0;
        }
        n
    }

    /// Free the allocation if nothing is stored (idle connections cost no buffer memory).
    pub fn release_if_empty(&mut self) {
        if self.len == 0 {
            self.buf = Vec::new();
            self.head = 0;
        }
    }

    /// Heap memory held, for accounting.
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

/// Most SACKed ranges the scoreboard remembers.
pub const MAX_SACK_RANGES: usize = 32;
/// DupThresh (RFC 6675 §2).
pub const DUP_THRESH: u64 = 3;

/// What one ACK's SACK blocks changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SackUpdate {
    /// Bytes SACKed by this ACK that were not SACKed before (and are kept).
    pub newly_sacked: u64,
    /// The first block was a D-SACK (RFC 2883 §4): a duplicate arrived at the peer.
    pub dsack: bool,
}

/// RFC 6675 scoreboard: sorted, disjoint, non-adjacent SACKed ranges
/// `[start, end)` above the cumulative ACK, at most [`MAX_SACK_RANGES`].
///
/// All operations cost O(MAX_SACK_RANGES), independent of bytes in flight.
/// When full, the highest range is forgotten: that only makes us less
/// informed (we may retransmit data the peer holds), never wrong.
#[derive(Clone, Debug, Default)]
pub struct Scoreboard {
    ranges: Vec<(u64, u64)>,
    sacked: u64,
}

impl Scoreboard {
    pub const fn new() -> Self {
        Scoreboard {
            ranges: Vec::new(),
            sacked: 0,
        }
    }

    /// [`Scoreboard::new`] for a new connection, keeping the range memory.
    pub(crate) fn reuse(&mut self) {
        self.ranges.clear();
        self.sacked = 0;
    }

    /// Process one ACK: drop state below `cum_ack`, detect a D-SACK, merge the
    /// valid blocks (`[start, end)` stream offsets, within `[cum_ack, snd_max]`).
    pub fn on_ack(&mut self, cum_ack: u64, blocks: &[(u64, u64)], snd_max: u64) -> SackUpdate {
        let dsack = Self::is_dsack(cum_ack, blocks);
        self.forget_below(cum_ack);
        let before = self.sacked;
        let skip = usize::from(dsack);
        for &(start, end) in blocks.iter().skip(skip) {
            if Self::block_is_valid(start, end, cum_ack, snd_max) {
                self.insert(start.max(cum_ack), end);
            }
        }
        SackUpdate {
            newly_sacked: self.sacked.saturating_sub(before),
            dsack,
        }
    }

    /// D-SACK: first block below the cumulative ACK, or inside the second block (RFC 2883 §4).
    fn is_dsack(cum_ack: u64, blocks: &[(u64, u64)]) -> bool {
        let Some(&(s0, e0)) = blocks.first() else {
            return false;
        };
        if s0 >= e0 {
            return false;
        }
        if s0 < cum_ack {
            return true;
        }
        match blocks.get(1) {
            Some(&(s1, e1)) => s1 <= s0 && e0 <= e1,
            None => false,
        }
    }

    /// A block must be non-empty, end above SND.UNA and not beyond SND.MAX (RFC 6675 §5, RFC 5961-style sanity).
    fn block_is_valid(start: u64, end: u64, cum_ack: u64, snd_max: u64) -> bool {
        start < end && end > cum_ack && end <= snd_max
    }

    /// Remove SACK state covered by the cumulative ACK (RFC 6675 §5: SND.UNA advances past it).
    fn forget_below(&mut self, cum_ack: u64) {
        let gone = self.ranges.partition_point(|r| r.1 <= cum_ack);
        for r in &self.ranges[..gone] {
            self.sacked -= r.1 - r.0;
        }
        self.ranges.drain(..gone);
        if let Some(first) = self.ranges.first_mut() {
            if first.0 < cum_ack {
                self.sacked -= cum_ack - first.0;
                first.0 = cum_ack;
            }
        }
    }

    /// Merge `[start, end)` into the sorted set; drop the highest range when over the cap.
    fn insert(&mut self, start: u64, end: u64) {
        if self.ranges.capacity() == 0 {
            // One allocation per connection's first loss, never per packet.
            self.ranges.reserve_exact(MAX_SACK_RANGES + 1);
        }
        // Ranges i..j overlap or touch [start, end).
        let i = self.ranges.partition_point(|r| r.1 < start);
        let j = self.ranges.partition_point(|r| r.0 <= end);
        let mut lo = start;
        let mut hi = end;
        let mut covered = 0;
        if i < j {
            for r in &self.ranges[i..j] {
                covered += r.1 - r.0;
            }
            lo = lo.min(self.ranges[i].0);
            hi = hi.max(self.ranges[j - 1].1);
            self.ranges.drain(i + 1..j);
            self.ranges[i] = (lo, hi);
        } else {
            self.ranges.insert(i, (lo, hi));
        }
        self.sacked = self.sacked - covered + (hi - lo);
        if self.ranges.len() > MAX_SACK_RANGES {
            if let Some((s, e)) = self.ranges.pop() {
                self.sacked -= e - s;
            }
        }
    }

    /// Total SACKed bytes remembered.
    pub fn sacked_bytes(&self) -> u64 {
        self.sacked
    }

    /// Number of SACKed ranges remembered.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// The remembered ranges, sorted.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Whether byte `off` has been SACKed.
    pub fn is_sacked(&self, off: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 <= off);
        self.ranges.get(i).is_some_and(|r| r.0 <= off)
    }

    /// One past the highest SACKed byte, if any.
    pub fn highest_sacked(&self) -> Option<u64> {
        self.ranges.last().map(|r| r.1)
    }

    /// SACKed bytes and ranges strictly above `off`.
    fn sacked_above(&self, off: u64) -> (u64, u64) {
        let above = off.saturating_add(1);
        let i = self.ranges.partition_point(|r| r.1 <= above);
        let mut bytes = 0;
        for r in &self.ranges[i..] {
            bytes += r.1 - r.0.max(above);
        }
        (bytes, (self.ranges.len() - i) as u64)
    }

    /// IsLost: DupThresh SACKed ranges, or more than (DupThresh-1)*SMSS SACKed bytes, above `off` (RFC 6675 §4).
    pub fn is_lost(&self, off: u64, mss: u32) -> bool {
        if self.is_sacked(off) {
            return false;
        }
        let (bytes, count) = self.sacked_above(off);
        count >= DUP_THRESH || bytes > (DUP_THRESH - 1).saturating_mul(u64::from(mss))
    }

    /// Offset below which every unSACKed byte is lost. IsLost only weakens as
    /// the offset rises, so this one boundary answers it for all holes (RFC 6675 §4).
    fn lost_boundary(&self, mss: u32) -> u64 {
        let limit = (DUP_THRESH - 1).saturating_mul(u64::from(mss));
        let mut bytes = 0u64;
        let mut count = 0u64;
        for r in self.ranges.iter().rev() {
            bytes += r.1 - r.0;
            count += 1;
            if count >= DUP_THRESH || bytes > limit {
                // Holes below r.0 have all of r and above SACKed over them.
                return r.0;
            }
        }
        0
    }

    /// SACKed bytes inside `[a, b)`.
    fn sacked_within(&self, a: u64, b: u64) -> u64 {
        if a >= b {
            return 0;
        }
        let i = self.ranges.partition_point(|r| r.1 <= a);
        let mut n = 0;
        for r in &self.ranges[i..] {
            if r.0 >= b {
                break;
            }
            n += r.1.min(b) - r.0.max(a);
        }
        n
    }

    /// Bytes not SACKed inside `[a, b)`.
    fn unsacked_within(&self, a: u64, b: u64) -> u64 {
        b.saturating_sub(a) - self.sacked_within(a, b)
    }

    /// SetPipe: unSACKed bytes in [SND.UNA, SND.NXT) not deemed lost, plus
    /// those retransmitted (below `high_rxt`, exclusive end) (RFC 6675 §4).
    pub fn pipe(&self, snd_una: u64, snd_nxt: u64, high_rxt: u64, mss: u32) -> u64 {
        if snd_nxt <= snd_una {
            return 0;
        }
        let lost_end = self.lost_boundary(mss).clamp(snd_una, snd_nxt);
        let not_lost = self.unsacked_within(lost_end, snd_nxt);
        let rxt_end = high_rxt.clamp(snd_una, snd_nxt);
        let retransmitted = self.unsacked_within(snd_una, rxt_end);
        not_lost + retransmitted
    }

    /// Smallest unSACKed hole at or above max(high_rxt, snd_una) and below the
    /// highest SACKed byte, as (offset, len <= mss) (RFC 6675 §4 NextSeg 1.a, 1.b).
    fn first_hole(
        &self,
        snd_una: u64,
        snd_nxt: u64,
        high_rxt: u64,
        mss: u32,
    ) -> Option<(u64, u32)> {
        let highest = self.highest_sacked()?;
        let mut s = high_rxt.max(snd_una);
        let i = self.ranges.partition_point(|r| r.1 <= s);
        let hole_end = match self.ranges.get(i) {
            Some(r) if r.0 <= s => {
                s = r.1;
                self.ranges.get(i + 1).map_or(highest, |n| n.0)
            }
            Some(r) => r.0,
            None => return None,
        };
        let end = hole_end.min(snd_nxt).min(highest);
        if s >= end {
            return None;
        }
        let len = (end - s).min(u64::from(mss.max(1)));
        Some((s, len as u32))
    }

    /// NextSeg rule 1: the first hole above HighRxt that IsLost (RFC 6675 §4 (1)).
    /// The caller tries this first, then new data (rule 2), then `next_seg` (rule 3).
    pub fn next_lost_seg(
        &self,
        snd_una: u64,
        snd_nxt: u64,
        high_rxt: u64,
        mss: u32,
    ) -> Option<(u64, u32)> {
        let (s, len) = self.first_hole(snd_una, snd_nxt, high_rxt, mss)?;
        self.is_lost(s, mss).then_some((s, len))
    }

    /// NextSeg rules 1 and 3: the first unSACKed hole above HighRxt below the
    /// highest SACK, lost or not (RFC 6675 §4 (1), (3)). Rule 1 and rule 3
    /// pick the same hole; they differ only in whether new data (rule 2,
    /// the caller's) goes first, so use [`Self::next_lost_seg`] to tell.
    pub fn next_seg(
        &self,
        snd_una: u64,
        snd_nxt: u64,
        high_rxt: u64,
        mss: u32,
    ) -> Option<(u64, u32)> {
        self.first_hole(snd_una, snd_nxt, high_rxt, mss)
    }

    /// Forget everything (RTO, RFC 6675 §5.1 / RFC 2018 §8: SACK info may be reneged).
    pub fn clear(&mut self) {
        self.ranges.clear();
        self.sacked = 0;
    }

    /// Whether range storage is held while empty.
    pub fn holds_idle_memory(&self) -> bool {
        self.ranges.is_empty() && self.ranges.capacity() > 0
    }

    /// Free the range storage when empty (idle connection).
    pub fn release_if_empty(&mut self) {
        if self.ranges.is_empty() {
            self.ranges = Vec::new();
        }
    }

    /// Heap memory held, for accounting.
    pub fn heap_bytes(&self) -> usize {
        self.ranges.capacity() * core::mem::size_of::<(u64, u64)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// A ring size used by the wrap tests.
    const MIN_ALLOC: usize = 4096;

    fn collect(s: (&[u8], &[u8])) -> Vec<u8> {
        let mut v = s.0.to_vec();
        v.extend_from_slice(s.1);
        v
    }

    #[test]
    fn send_buffer_allocates_lazily_and_releases() {
        let mut b = SendBuffer::new(100_000);
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.push(b"hello"), 5);
        assert!(b.heap_bytes() >= 5);
        assert_eq!(b.release_to(5), 5);
        assert!(b.is_empty());
        b.release_if_empty();
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.start_offset(), 5);
        assert_eq!(b.push(b"abc"), 3);
        assert_eq!(collect(b.slices(5, 10)), b"abc");
    }

    #[test]
    fn send_buffer_respects_limit() {
        let mut b = SendBuffer::new(10);
        assert_eq!(b.push(&[1; 25]), 10);
        assert_eq!(b.push(&[1; 5]), 0);
        assert!(b.heap_bytes() <= 10 || b.heap_bytes() == 10);
        b.release_to(4);
        assert_eq!(b.free(), 4);
        assert_eq!(b.push(&[2; 9]), 4);
        assert_eq!(b.heap_bytes(), 10);
    }

    #[test]
    fn send_buffer_wraps_and_returns_two_slices() {
        let mut b = SendBuffer::new(MIN_ALLOC);
        let data: Vec<u8> = (0..MIN_ALLOC).map(|i| (i % 251) as u8).collect();
        assert_eq!(b.push(&data), MIN_ALLOC);
        b.release_to(1000);
        let more: Vec<u8> = (0..1000).map(|i| (i % 7) as u8).collect();
        assert_eq!(b.push(&more), 1000);
        assert_eq!(b.heap_bytes(), MIN_ALLOC);
        let (a, c) = b.slices(MIN_ALLOC as u64 - 10, 20);
        assert_eq!(a.len(), 10);
        assert_eq!(c.len(), 10);
        assert_eq!(a, &data[MIN_ALLOC - 10..]);
        assert_eq!(c, &more[..10]);
        // The whole content in order.
        let all = collect(b.slices(1000, usize::MAX));
        assert_eq!(&all[..MIN_ALLOC - 1000], &data[1000..]);
        assert_eq!(&all[MIN_ALLOC - 1000..], &more[..]);
    }

    #[test]
    fn send_buffer_grows_preserving_order_across_wrap() {
        let mut b = SendBuffer::new(1 << 20);
        let mut expected = Vec::new();
        let mut next = 0u8;
        let mut acked = 0u64;
        for round in 0..50 {
            let chunk: Vec<u8> = (0..(round * 337 % 3000 + 1))
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            assert_eq!(b.push(&chunk), chunk.len());
            expected.extend_from_slice(&chunk);
            let ack = acked + (expected.len() as u64 - acked) / 3;
            b.release_to(ack);
            acked = ack;
            let got = collect(b.slices(acked, usize::MAX));
            assert_eq!(&got[..], &expected[acked as usize..]);
        }
    }

    #[test]
    fn send_buffer_out_of_range_requests_are_empty() {
        let mut b = SendBuffer::new(100);
        b.push(b"0123456789");
        b.release_to(3);
        assert_eq!(collect(b.slices(0, 5)), b"");
        assert_eq!(collect(b.slices(2, 5)), b"");
        assert_eq!(collect(b.slices(3, 0)), b"");
        assert_eq!(collect(b.slices(8, 100)), b"89");
        assert_eq!(collect(b.slices(10, 1)), b"");
        assert_eq!(collect(b.slices(u64::MAX, usize::MAX)), b"");
        assert_eq!(b.release_to(2), 0);
        assert_eq!(b.release_to(u64::MAX), 7);
        assert_eq!(b.start_offset(), 10);
    }

    const MSS: u32 = 100;

    #[test]
    fn scoreboard_merges_and_counts_newly_sacked() {
        let mut sb = Scoreboard::new();
        let u = sb.on_ack(0, &[(200, 300)], 1000);
        assert_eq!(
            u,
            SackUpdate {
                newly_sacked: 100,
                dsack: false
            }
        );
        let u = sb.on_ack(0, &[(400, 500), (200, 300)], 1000);
        assert_eq!(u.newly_sacked, 100);
        // Bridging block merges three into one.
        let u = sb.on_ack(0, &[(250, 450)], 1000);
        assert_eq!(u.newly_sacked, 100);
        assert_eq!(sb.ranges(), &[(200, 500)]);
        assert_eq!(sb.sacked_bytes(), 300);
        // Adjacent ranges merge.
        sb.on_ack(0, &[(500, 600)], 1000);
        assert_eq!(sb.ranges(), &[(200, 600)]);
        assert!(sb.is_sacked(200) && sb.is_sacked(599));
        assert!(!sb.is_sacked(199) && !sb.is_sacked(600));
        assert_eq!(sb.highest_sacked(), Some(600));
    }

    #[test]
    fn scoreboard_cum_ack_trims_state() {
        let mut sb = Scoreboard::new();
        sb.on_ack(0, &[(100, 200), (300, 400)], 1000);
        sb.on_ack(150, &[], 1000);
        assert_eq!(sb.ranges(), &[(150, 200), (300, 400)]);
        assert_eq!(sb.sacked_bytes(), 150);
        sb.on_ack(350, &[], 1000);
        assert_eq!(sb.ranges(), &[(350, 400)]);
        sb.on_ack(400, &[], 1000);
        assert_eq!(sb.sacked_bytes(), 0);
        assert_eq!(sb.highest_sacked(), None);
    }

    #[test]
    fn scoreboard_rejects_invalid_blocks() {
        let mut sb = Scoreboard::new();
        let u = sb.on_ack(100, &[(300, 200), (500, 2000), (150, 150)], 1000);
        assert_eq!(u.newly_sacked, 0);
        assert_eq!(sb.range_count(), 0);
        sb.on_ack(100, &[(u64::MAX - 1, u64::MAX)], u64::MAX);
        assert_eq!(sb.sacked_bytes(), 1);
    }

    #[test]
    fn dsack_below_cum_ack_detected() {
        let mut sb = Scoreboard::new();
        let u = sb.on_ack(500, &[(100, 200)], 1000);
        assert!(u.dsack);
        assert_eq!(u.newly_sacked, 0);
        assert_eq!(sb.range_count(), 0);
    }

    #[test]
    fn dsack_inside_second_block_detected() {
        let mut sb = Scoreboard::new();
        let u = sb.on_ack(0, &[(300, 400), (200, 500)], 1000);
        assert!(u.dsack);
        // The second block is still recorded.
        assert_eq!(sb.ranges(), &[(200, 500)]);
        let u = sb.on_ack(0, &[(600, 700), (200, 500)], 1000);
        assert!(!u.dsack);
    }

    #[test]
    fn range_cap_drops_highest() {
        let mut sb = Scoreboard::new();
        for k in 0..(MAX_SACK_RANGES as u64 + 5) {
            sb.on_ack(0, &[(k * 20 + 10, k * 20 + 20)], 100_000);
        }
        assert_eq!(sb.range_count(), MAX_SACK_RANGES);
        assert_eq!(sb.sacked_bytes(), 10 * MAX_SACK_RANGES as u64);
        assert_eq!(
            sb.highest_sacked(),
            Some((MAX_SACK_RANGES as u64 - 1) * 20 + 20)
        );
        // A new low range pushes out the current highest.
        sb.on_ack(0, &[(0, 5)], 100_000);
        assert_eq!(sb.range_count(), MAX_SACK_RANGES);
        assert_eq!(
            sb.highest_sacked(),
            Some((MAX_SACK_RANGES as u64 - 2) * 20 + 20)
        );
        assert!(sb.heap_bytes() <= (MAX_SACK_RANGES + 1) * 16);
    }

    #[test]
    fn is_lost_by_bytes_above() {
        let mut sb = Scoreboard::new();
        // 2 MSS SACKed above 0: not lost (needs more than (3-1)*MSS).
        sb.on_ack(0, &[(100, 300)], 1000);
        assert!(!sb.is_lost(0, MSS));
        sb.on_ack(0, &[(300, 301)], 1000);
        assert!(sb.is_lost(0, MSS));
        assert!(sb.is_lost(99, MSS));
        assert!(!sb.is_lost(100, MSS)); // SACKed itself
    }

    #[test]
    fn is_lost_by_three_ranges_above() {
        let mut sb = Scoreboard::new();
        sb.on_ack(0, &[(100, 110), (200, 210)], 1000);
        assert!(!sb.is_lost(0, MSS));
        sb.on_ack(0, &[(300, 310)], 1000);
        assert!(sb.is_lost(0, MSS));
        assert!(!sb.is_lost(150, MSS));
    }

    #[test]
    fn pipe_counts_unsacked_not_lost_plus_retransmitted() {
        let mut sb = Scoreboard::new();
        // Sent 0..1000; SACKed 300..600 (3 MSS): bytes below 300 are lost.
        sb.on_ack(0, &[(300, 600)], 1000);
        // Not lost and unSACKed: 600..1000 = 400. Lost: 0..300.
        assert_eq!(sb.pipe(0, 1000, 0, MSS), 400);
        // After retransmitting 0..100, those count again.
        assert_eq!(sb.pipe(0, 1000, 100, MSS), 500);
        // high_rxt over a SACKed range counts only unSACKed bytes.
        assert_eq!(sb.pipe(0, 1000, 700, MSS), 400 + 300 + 100);
        // No SACK: everything outstanding is in the pipe.
        let empty = Scoreboard::new();
        assert_eq!(empty.pipe(100, 1000, 100, MSS), 900);
        assert_eq!(empty.pipe(1000, 100, 0, MSS), 0);
    }

    #[test]
    fn pipe_matches_per_byte_definition() {
        // Compare against RFC 6675 SetPipe evaluated byte by byte.
        let mut sb = Scoreboard::new();
        sb.on_ack(50, &[(120, 180), (260, 300), (330, 340), (400, 420)], 500);
        for high_rxt in [0u64, 50, 100, 125, 270, 500] {
            let mut expect = 0;
            for o in 50..500u64 {
                if !sb.is_sacked(o) {
                    if !sb.is_lost(o, 20) {
                        expect += 1;
                    }
                    if o < high_rxt {
                        expect += 1;
                    }
                }
            }
            assert_eq!(
                sb.pipe(50, 500, high_rxt, 20),
                expect,
                "high_rxt {high_rxt}"
            );
        }
    }

    #[test]
    fn next_seg_rule1_picks_first_lost_hole_above_high_rxt() {
        let mut sb = Scoreboard::new();
        sb.on_ack(0, &[(100, 200), (300, 600)], 1000);
        assert_eq!(sb.next_lost_seg(0, 1000, 0, MSS), Some((0, 100)));
        assert_eq!(sb.next_seg(0, 1000, 0, MSS), Some((0, 100)));
        // After retransmitting 0..100, the next hole is 200..300 (lost: 3 MSS above).
        assert_eq!(sb.next_lost_seg(0, 1000, 100, MSS), Some((200, 100)));
        // Segment length capped by MSS.
        assert_eq!(sb.next_lost_seg(0, 1000, 0, 40), Some((0, 40)));
        // Nothing above the highest SACK is a candidate (1.b).
        assert_eq!(sb.next_seg(0, 1000, 300, MSS), None);
    }

    #[test]
    fn next_seg_rule3_returns_unsacked_not_lost() {
        let mut sb = Scoreboard::new();
        sb.on_ack(0, &[(100, 150)], 1000);
        // Only 50 bytes SACKed above: hole 0..100 not lost -> rule 1 none, rule 3 gives it.
        assert_eq!(sb.next_lost_seg(0, 1000, 0, MSS), None);
        assert_eq!(sb.next_seg(0, 1000, 0, MSS), Some((0, 100)));
        // high_rxt inside a SACKed range skips to its end, which is not below highest SACK.
        assert_eq!(sb.next_seg(0, 1000, 120, MSS), None);
    }

    #[test]
    fn clear_forgets_everything() {
        let mut sb = Scoreboard::new();
        sb.on_ack(0, &[(100, 200)], 1000);
        sb.clear();
        assert_eq!(sb.sacked_bytes(), 0);
        assert!(!sb.is_sacked(150));
        sb.release_if_empty();
        assert_eq!(sb.heap_bytes(), 0);
    }

    mod model {
        use super::super::*;
        use alloc::collections::{BTreeSet, VecDeque};
        use alloc::vec::Vec;
        use proptest::prelude::*;

        fn model_ranges(set: &BTreeSet<u64>) -> usize {
            let mut n = 0;
            let mut prev: Option<u64> = None;
            for &o in set {
                if prev.map_or(true, |p| p + 1 != o) {
                    n += 1;
                }
                prev = Some(o);
            }
            n
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            /// The scoreboard agrees with a byte-set model, and pipe/next_seg
            /// agree with RFC 6675's per-byte definitions.
            #[test]
            fn scoreboard_matches_byte_model(
                acks in proptest::collection::vec(
                    (0u64..40, proptest::collection::vec((0u64..1200, 1u64..120), 0..5)),
                    1..40),
                mss in 1u32..150,
                rxt in 0u64..1200,
            ) {
                const SND_MAX: u64 = 1100;
                let mut sb = Scoreboard::new();
                let mut model = BTreeSet::new();
                let mut cum = 0u64;
                let mut capped = false;
                for (adv, raw) in acks {
                    cum = (cum + adv).min(SND_MAX);
                    let blocks: Vec<(u64, u64)> = raw.iter().map(|&(s, l)| (s, s + l)).collect();
                    let before_set: Vec<u64> = (0..SND_MAX).filter(|&o| sb.is_sacked(o) && o >= cum).collect();
                    let u = sb.on_ack(cum, &blocks, SND_MAX);
                    // Model: RFC 2883 D-SACK rule, then add clamped valid blocks.
                    let dsack = match blocks.first() {
                        Some(&(s0, e0)) if s0 < e0 => s0 < cum || blocks.get(1).is_some_and(|&(s1, e1)| s1 <= s0 && e0 <= e1),
                        _ => false,
                    };
                    prop_assert_eq!(u.dsack, dsack);
                    model.retain(|&o| o >= cum);
                    for &(s, e) in blocks.iter().skip(usize::from(dsack)) {
                        if s < e && e > cum && e <= SND_MAX {
                            for o in s.max(cum)..e { model.insert(o); }
                        }
                    }
                    if model_ranges(&model) > MAX_SACK_RANGES { capped = true; }
                    prop_assert!(sb.range_count() <= MAX_SACK_RANGES);
                    let mut count = 0;
                    for o in 0..SND_MAX + 10 {
                        let got = sb.is_sacked(o);
                        if got { count += 1; prop_assert!(model.contains(&o), "sacked {} not in model", o); }
                        if !capped { prop_assert_eq!(got, model.contains(&o), "offset {}", o); }
                    }
                    prop_assert_eq!(count, sb.sacked_bytes());
                    if !capped {
                        let newly = model.iter().filter(|o| !before_set.contains(o)).count() as u64;
                        prop_assert_eq!(u.newly_sacked, newly);
                    }
                    // SetPipe per byte (RFC 6675 §4).
                    let high_rxt = rxt.max(cum);
                    let mut pipe = 0;
                    for o in cum..SND_MAX {
                        if !sb.is_sacked(o) {
                            if !sb.is_lost(o, mss) { pipe += 1; }
                            if o < high_rxt { pipe += 1; }
                        }
                    }
                    prop_assert_eq!(sb.pipe(cum, SND_MAX, high_rxt, mss), pipe);
                    // NextSeg rules 1 / 3 per byte.
                    let highest = sb.highest_sacked().unwrap_or(0);
                    let s3 = (high_rxt..highest.min(SND_MAX)).find(|&o| !sb.is_sacked(o));
                    let s1 = s3.filter(|&o| sb.is_lost(o, mss));
                    prop_assert_eq!(sb.next_seg(cum, SND_MAX, high_rxt, mss).map(|x| x.0), s3);
                    prop_assert_eq!(sb.next_lost_seg(cum, SND_MAX, high_rxt, mss).map(|x| x.0), s1);
                    if let Some((o, len)) = sb.next_seg(cum, SND_MAX, high_rxt, mss) {
                        prop_assert!(len >= 1 && len <= mss);
                        for b in o..o + u64::from(len) { prop_assert!(!sb.is_sacked(b)); }
                    }
                }
            }

            /// SendBuffer behaves like a deque of bytes under random push/ack.
            #[test]
            fn send_buffer_matches_deque(
                ops in proptest::collection::vec((any::<bool>(), 0usize..5000), 1..80),
                limit in 1usize..20000,
            ) {
                let mut b = SendBuffer::new(limit);
                let mut model: VecDeque<u8> = VecDeque::new();
                let mut start = 0u64;
                let mut counter = 0u8;
                for (is_push, n) in ops {
                    if is_push {
                        let data: Vec<u8> = (0..n).map(|_| { counter = counter.wrapping_add(31); counter }).collect();
                        let took = b.push(&data);
                        prop_assert_eq!(took, n.min(limit - model.len()));
                        model.extend(&data[..took]);
                    } else {
                        let to = start + (n as u64 % (model.len() as u64 + 1));
                        let freed = b.release_to(to);
                        prop_assert_eq!(freed as u64, to - start);
                        model.drain(..freed);
                        start = to;
                    }
                    prop_assert!(b.heap_bytes() <= limit.max(1));
                    prop_assert_eq!(b.start_offset(), start);
                    prop_assert_eq!(b.len(), model.len());
                    let (x, y) = b.slices(start, usize::MAX);
                    let got: Vec<u8> = x.iter().chain(y).copied().collect();
                    let want: Vec<u8> = model.iter().copied().collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
