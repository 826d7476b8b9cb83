//! The event queue and the per-connection "pending kinds" bitmask that keeps
//! it bounded: at most one pending event of each kind per handle, so the queue
//! grows with connections, never with packets.

use alloc::collections::VecDeque;

use super::{Error, EventKind};

/// A queued event; user data is looked up when it is popped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queued {
    pub kind: EventKind,
    pub handle: u64,
    pub reason: Option<Error>,
}

/// Bit for an event kind in a pending mask.
pub const fn bit(kind: EventKind) -> u8 {
    1 << (kind as u8)
}

/// A drained queue keeps at most this many slots of capacity.
const SHRINK_ABOVE: usize = 1024;

#[derive(Debug, Default)]
pub struct EventQueue {
    queue: VecDeque<Queued>,
}

impl EventQueue {
    pub fn new() -> Self {
        EventQueue::default()
    }

    /// Queues `kind` for `handle` unless one is already pending (edge-triggered).
    pub fn push(&mut self, pending: &mut u8, kind: EventKind, handle: u64, reason: Option<Error>) {
        if *pending & bit(kind) != 0 {
            return;
        }
        *pending |= bit(kind);
        self.queue.push_back(Queued {
            kind,
            handle,
            reason,
        });
    }

    /// Inlined: the host calls this until None after every batch (≈ 9 times
    /// per connection lifetime), and the call cost more than the pop.
    #[inline]
    pub fn pop(&mut self) -> Option<Queued> {
        let e = self.queue.pop_front()?;
        // Give back a burst's capacity once the queue is drained.
        if self.queue.is_empty() && self.queue.capacity() > SHRINK_ABOVE {
            self.shrink();
        }
        Some(e)
    }

    #[cold]
    fn shrink(&mut self) {
        self.queue.shrink_to(SHRINK_ABOVE);
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pending_per_kind_until_popped() {
        let mut q = EventQueue::new();
        let mut pending = 0u8;
        q.push(&mut pending, EventKind::Readable, 9, None);
        q.push(&mut pending, EventKind::Readable, 9, None);
        q.push(&mut pending, EventKind::Writable, 9, None);
        assert_eq!(q.len(), 2);
        let e = q.pop();
        assert_eq!(e.map(|e| e.kind), Some(EventKind::Readable));
        pending &= !bit(EventKind::Readable);
        q.push(&mut pending, EventKind::Readable, 9, None);
        assert_eq!(q.len(), 2);
    }
}
