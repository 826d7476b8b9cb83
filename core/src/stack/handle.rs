//! Generation-checked slab of slots, and the u64 handles that name them.
//!
//! A handle packs `kind (2 bits) | generation (30 bits) | index (32 bits)`.
//! The kind is never zero, so 0 is never a valid handle, and the three kinds
//! (connection, listener, UDP socket) never collide. A freed slot bumps its
//! generation, so a stale handle is an error, never another object.

use alloc::vec::Vec;

/// What a handle names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Conn = 1,
    Listener = 2,
    Udp = 3,
}

const GEN_MASK: u32 = (1 << 30) - 1;

/// Packs kind, generation and index into a handle value (never 0).
pub fn encode(kind: Kind, index: u32, generation: u32) -> u64 {
    (u64::from(kind as u8) << 62) | (u64::from(generation & GEN_MASK) << 32) | u64::from(index)
}

/// Unpacks a handle of the expected kind into (index, generation).
pub fn decode(kind: Kind, raw: u64) -> Option<(u32, u32)> {
    if (raw >> 62) as u8 != kind as u8 {
        return None;
    }
    let generation = ((raw >> 32) as u32) & GEN_MASK;
    Some((raw as u32, generation))
}

#[derive(Debug)]
enum Entry<T> {
    Occupied(T),
    /// Next free index (u32::MAX: none).
    Vacant(u32),
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    entry: Entry<T>,
}

/// A slab: O(1) insert, remove and lookup; freed slots are reused (LIFO).
#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slab<T> {
    pub const fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free_head: u32::MAX,
            len: 0,
        }
    }

    /// Number of occupied slots.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes of the slot array (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<Slot<T>>()
    }

    /// Stores `value`; returns (index, generation). None when 2^32 - 1 slots are used.
    pub fn insert(&mut self, value: T) -> Option<(u32, u32)> {
        if let Some(slot) = self.slots.get_mut(self.free_head as usize) {
            let index = self.free_head;
            if let Entry::Vacant(next) = slot.entry {
                self.free_head = next;
            }
            slot.entry = Entry::Occupied(value);
            self.len += 1;
            return Some((index, slot.generation));
        }
        let index = u32::try_from(self.slots.len())
            .ok()
            .filter(|i| *i != u32::MAX)?;
        self.slots.push(Slot {
            generation: 1,
            entry: Entry::Occupied(value),
        });
        self.len += 1;
        Some((index, 1))
    }

    /// Removes the value at `index` (any generation) and bumps the generation.
    pub fn remove(&mut self, index: u32) -> Option<T> {
        let slot = self.slots.get_mut(index as usize)?;
        if let Entry::Vacant(_) = slot.entry {
            return None;
        }
        let old = core::mem::replace(&mut slot.entry, Entry::Vacant(self.free_head));
        slot.generation = (slot.generation + 1) & GEN_MASK;
        if slot.generation == 0 {
            slot.generation = 1;
        }
        self.free_head = index;
        self.len -= 1;
        match old {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    /// The value at `index` if its generation matches.
    pub fn get(&self, index: u32, generation: u32) -> Option<&T> {
        let slot = self.slots.get(index as usize)?;
        match &slot.entry {
            Entry::Occupied(v) if slot.generation == generation => Some(v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut T> {
        let slot = self.slots.get_mut(index as usize)?;
        match &mut slot.entry {
            Entry::Occupied(v) if slot.generation == generation => Some(v),
            _ => None,
        }
    }

    /// The value at `index`, whatever its generation (internal references).
    pub fn at(&self, index: u32) -> Option<&T> {
        match &self.slots.get(index as usize)?.entry {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    pub fn at_mut(&mut self, index: u32) -> Option<&mut T> {
        match &mut self.slots.get_mut(index as usize)?.entry {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    /// The current generation of an occupied slot.
    pub fn generation(&self, index: u32) -> Option<u32> {
        let slot = self.slots.get(index as usize)?;
        match slot.entry {
            Entry::Occupied(_) => Some(slot.generation),
            Entry::Vacant(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_never_collide_and_zero_is_invalid() {
        let h = encode(Kind::Conn, 7, 3);
        assert_ne!(h, 0);
        assert_eq!(decode(Kind::Conn, h), Some((7, 3)));
        assert_eq!(decode(Kind::Listener, h), None);
        assert_eq!(decode(Kind::Udp, h), None);
        for k in [Kind::Conn, Kind::Listener, Kind::Udp] {
            assert_eq!(decode(k, 0), None);
        }
        assert_ne!(encode(Kind::Listener, 7, 3), encode(Kind::Udp, 7, 3));
    }

    #[test]
    fn stale_generation_is_rejected_after_reuse() {
        let mut s = Slab::new();
        let (i, g) = s.insert("a").unwrap_or_default();
        assert_eq!(s.get(i, g), Some(&"a"));
        assert_eq!(s.remove(i), Some("a"));
        assert_eq!(s.get(i, g), None);
        let (j, g2) = s.insert("b").unwrap_or_default();
        assert_eq!(j, i, "slot reused");
        assert_ne!(g2, g);
        assert_eq!(s.get(i, g), None, "old handle must not see the new value");
        assert_eq!(s.get(j, g2), Some(&"b"));
        assert_eq!(s.len(), 1);
        assert_eq!(s.remove(i), Some("b"));
        assert_eq!(s.remove(i), None);
        assert!(s.is_empty());
    }

    #[test]
    fn generation_wraps_but_skips_zero() {
        let mut s = Slab::new();
        let (i, _) = s.insert(0u8).unwrap_or_default();
        for _ in 0..3 {
            s.remove(i);
            s.insert(0u8);
        }
        if let Some(slot) = s.slots.get_mut(i as usize) {
            slot.generation = GEN_MASK;
        }
        s.remove(i);
        let (_, g) = s.insert(1u8).unwrap_or_default();
        assert_eq!(g, 1);
    }
}
