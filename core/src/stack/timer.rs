//! Timer queue: a binary heap of (deadline, slot, generation) with lazy
//! deletion, so `poll_timeout` is O(1) and firing is O(log n) per timer —
//! nothing ever scans all connections.
//!
//! Each slot remembers the earliest deadline it has in the heap (`armed`).
//! A new deadline is pushed only when it is earlier than that; a later one
//! waits for the armed entry to fire, which re-arms. Entries whose slot was
//! freed, or whose deadline no longer matches `armed`, are skipped when popped.

use alloc::collections::BinaryHeap;
use core::cmp::Reverse;

use crate::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub deadline: Instant,
    pub index: u32,
    pub generation: u32,
}

/// Capacity below which the heap is never shrunk.
const SHRINK_MIN: usize = 1024;

#[derive(Debug, Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Pushes and pops so far (work counter).
    pub ops: u64,
}

impl TimerQueue {
    pub fn new() -> Self {
        TimerQueue::default()
    }

    /// Arms `deadline` for a slot whose earliest heap entry is `*armed`;
    /// whether an entry was pushed (for the stack's work counter).
    ///
    /// Inline: asked after every segment, and nearly always armed already.
    #[inline]
    pub fn schedule(
        &mut self,
        index: u32,
        generation: u32,
        deadline: Option<Instant>,
        armed: &mut Instant,
    ) -> bool {
        let Some(d) = deadline else { return false };
        if *armed <= d {
            return false;
        }
        self.push(index, generation, d, armed);
        true
    }

    /// A new earliest deadline for the slot: into the heap.
    #[inline(never)]
    fn push(&mut self, index: u32, generation: u32, d: Instant, armed: &mut Instant) {
        *armed = d;
        self.ops += 1;
        self.heap.push(Reverse(Entry {
            deadline: d,
            index,
            generation,
        }));
    }

    /// The earliest entry (may be stale: then waking up is spurious, which is allowed).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|r| r.0.deadline)
    }

    /// Pops the earliest entry if it is due at `now`. The caller checks that
    /// the slot's generation and `armed` still match `deadline`.
    #[inline]
    pub fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        if self.heap.peek()?.0.deadline > now {
            return None;
        }
        self.pop()
    }

    fn pop(&mut self) -> Option<Entry> {
        self.ops += 1;
        let e = self.heap.pop().map(|r| r.0);
        self.shrink_if_sparse();
        e
    }

    /// Memory follows live timers: after a burst (many handshakes) the
    /// heap's capacity is given back once it is three-quarters empty. The
    /// copy is amortised over the pops that emptied it.
    fn shrink_if_sparse(&mut self) {
        let cap = self.heap.capacity();
        if cap > SHRINK_MIN && self.heap.len() < cap / 4 {
            self.heap.shrink_to(self.heap.len() * 2);
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn heap_bytes(&self) -> usize {
        self.heap.capacity() * core::mem::size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn earliest_first_and_later_deadlines_wait_for_the_armed_one() {
        let mut q = TimerQueue::new();
        let mut a = Instant::MAX;
        let mut b = Instant::MAX;
        assert!(q.schedule(1, 1, Some(t(50)), &mut a), "first: pushed");
        q.schedule(2, 1, Some(t(20)), &mut b);
        assert!(!q.schedule(1, 1, Some(t(80)), &mut a), "later: not pushed");
        assert_eq!(q.len(), 2);
        assert_eq!(a, t(50));
        assert!(q.schedule(1, 1, Some(t(10)), &mut a), "earlier: pushed");
        assert_eq!(q.next_deadline(), Some(t(10)));
        assert!(q.pop_due(t(5)).is_none());
        let e = q.pop_due(t(60));
        assert_eq!(e.map(|e| (e.index, e.deadline)), Some((1, t(10))));
        let e = q.pop_due(t(60));
        assert_eq!(e.map(|e| (e.index, e.deadline)), Some((2, t(20))));
        // the stale (1, 50) entry still pops; the caller sees armed != 50 and skips it
        let e = q.pop_due(t(60));
        assert_eq!(e.map(|e| e.deadline), Some(t(50)));
        assert!(q.pop_due(t(1000)).is_none());
        assert_eq!(q.ops, 6);
    }

    #[test]
    fn capacity_is_given_back_after_a_burst() {
        let mut q = TimerQueue::new();
        for i in 0..100_000u32 {
            let mut armed = Instant::MAX;
            q.schedule(i, 1, Some(t(u64::from(i))), &mut armed);
        }
        assert!(q.heap.capacity() >= 100_000);
        while q.pop_due(t(99_990)).is_some() {}
        assert_eq!(q.len(), 9);
        assert!(
            q.heap.capacity() <= SHRINK_MIN * 2,
            "capacity {}",
            q.heap.capacity()
        );
    }
}
