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

/// A freed slot's next generation: 30 bits, wrapping, never 0.
fn next_generation(g: u32) -> u32 {
    match (g + 1) & GEN_MASK {
        0 => 1,
        n => n,
    }
}

#[derive(Debug)]
enum Entry<T> {
    Occupied(T),
    /// Next free index (u32::MAX: none).
    Vacant(u32),
}

/// A zero-sized type with cache line alignment: `Slab<T, CacheLine>` puts
/// every slot on a line boundary (a connection slot, 448 bytes, then spans
/// exactly its 7 lines, never 8 or 9; the chunk `Vec` allocates with the
/// slot's alignment). Other slabs keep the default `()` (no padding).
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(64))]
pub struct CacheLine;

#[derive(Debug)]
struct Slot<T, A> {
    /// Zero bytes; only gives the slot `A`'s alignment.
    _align: [A; 0],
    generation: u32,
    entry: Entry<T>,
}

/// Bytes one slot of a `Slab<T, A>` takes (memory accounting and layout tests).
pub fn slot_size<T, A>() -> usize {
    core::mem::size_of::<Slot<T, A>>()
}

/// Slots per chunk. The slab grows by whole chunks allocated to their exact
/// size, so growth never copies slots and wastes at most one chunk (a doubling
/// Vec would waste up to half of a large table).
const CHUNK: usize = 1024;

/// A slab: O(1) insert, remove and lookup; freed slots are reused (LIFO).
#[derive(Debug)]
pub struct Slab<T, A = ()> {
    chunks: Vec<Vec<Slot<T, A>>>,
    free_head: u32,
    len: usize,
    /// Slots ever created (occupied or on the free list).
    created: usize,
}

impl<T, A> Default for Slab<T, A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, A> Slab<T, A> {
    pub const fn new() -> Self {
        Slab {
            chunks: Vec::new(),
            free_head: u32::MAX,
            len: 0,
            created: 0,
        }
    }

    /// Number of occupied slots.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes of the slot arrays (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity()).sum::<usize>() * core::mem::size_of::<Slot<T, A>>()
            + self.chunks.capacity() * core::mem::size_of::<Vec<Slot<T, A>>>()
    }

    fn slot(&self, index: u32) -> Option<&Slot<T, A>> {
        let i = index as usize;
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<T, A>> {
        let i = index as usize;
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
    }

    /// Stores `value`; returns (index, generation). None when 2^32 - 1 slots are used.
    /// Inlined: the value (a whole connection) is then written into its
    /// slot once instead of being copied through the call.
    #[inline(always)]
    pub fn insert(&mut self, value: T) -> Option<(u32, u32)> {
        let head = self.free_head;
        if let Some(slot) = self.slot_mut(head) {
            let next = match slot.entry {
                Entry::Vacant(next) => next,
                Entry::Occupied(_) => u32::MAX,
            };
            let generation = slot.generation;
            slot.entry = Entry::Occupied(value);
            self.free_head = next;
            self.len += 1;
            return Some((head, generation));
        }
        self.insert_new_slot(value)
    }

    /// [`Slab::insert`] with no free slot: a new one, in a new chunk if the
    /// last is full. Out of line: reuse is the common case.
    #[inline(never)]
    fn insert_new_slot(&mut self, value: T) -> Option<(u32, u32)> {
        let index = u32::try_from(self.created)
            .ok()
            .filter(|i| *i != u32::MAX)?;
        if self.chunks.last().map_or(true, |c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let chunk = self.chunks.last_mut()?;
        chunk.push(Slot {
            _align: [],
            generation: 1,
            entry: Entry::Occupied(value),
        });
        self.created += 1;
        self.len += 1;
        Some((index, 1))
    }

    /// Drops the value at `index` in place (any generation) and bumps the
    /// generation; false if the slot was empty. Unlike `remove`, no copy of
    /// the value leaves the slab (slots are large).
    pub fn discard(&mut self, index: u32) -> bool {
        let free_head = self.free_head;
        let Some(slot) = self.slot_mut(index) else {
            return false;
        };
        if let Entry::Vacant(_) = slot.entry {
            return false;
        }
        slot.entry = Entry::Vacant(free_head);
        slot.generation = next_generation(slot.generation);
        self.free_head = index;
        self.len -= 1;
        true
    }

    /// Removes the value at `index` (any generation) and bumps the generation.
    pub fn remove(&mut self, index: u32) -> Option<T> {
        let free_head = self.free_head;
        let slot = self.slot_mut(index)?;
        if let Entry::Vacant(_) = slot.entry {
            return None;
        }
        let old = core::mem::replace(&mut slot.entry, Entry::Vacant(free_head));
        slot.generation = next_generation(slot.generation);
        self.free_head = index;
        self.len -= 1;
        match old {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    /// The value at `index` if its generation matches.
    pub fn get(&self, index: u32, generation: u32) -> Option<&T> {
        let slot = self.slot(index)?;
        match &slot.entry {
            Entry::Occupied(v) if slot.generation == generation => Some(v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut T> {
        let slot = self.slot_mut(index)?;
        match &mut slot.entry {
            Entry::Occupied(v) if slot.generation == generation => Some(v),
            _ => None,
        }
    }

    /// The value at `index`, whatever its generation (internal references).
    pub fn at(&self, index: u32) -> Option<&T> {
        match &self.slot(index)?.entry {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    pub fn at_mut(&mut self, index: u32) -> Option<&mut T> {
        match &mut self.slot_mut(index)?.entry {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    /// The value at `index` and its generation, in one lookup.
    pub fn at_mut_with_generation(&mut self, index: u32) -> Option<(&mut T, u32)> {
        let slot = self.slot_mut(index)?;
        match &mut slot.entry {
            Entry::Occupied(v) => Some((v, slot.generation)),
            Entry::Vacant(_) => None,
        }
    }

    /// The current generation of an occupied slot.
    pub fn generation(&self, index: u32) -> Option<u32> {
        let slot = self.slot(index)?;
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
        let mut s: Slab<_> = Slab::new();
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
    fn grows_by_chunks_across_the_boundary() {
        let mut s: Slab<_> = Slab::new();
        let n = CHUNK * 2 + 5;
        let hs: Vec<(u32, u32)> = (0..n).filter_map(|i| s.insert(i)).collect();
        assert_eq!(hs.len(), n);
        for (i, (idx, g)) in hs.iter().enumerate() {
            assert_eq!(s.get(*idx, *g), Some(&i));
        }
        assert_eq!(s.chunks.len(), 3);
        assert!(s.heap_bytes() >= n * core::mem::size_of::<Slot<usize, ()>>());
        assert!(s.heap_bytes() <= (n + CHUNK) * core::mem::size_of::<Slot<usize, ()>>() + 1024);
    }

    #[test]
    fn discard_frees_in_place_like_remove() {
        let mut s: Slab<_> = Slab::new();
        let (a, ga) = s
            .insert(alloc::string::String::from("a"))
            .unwrap_or_default();
        let (b, _) = s
            .insert(alloc::string::String::from("b"))
            .unwrap_or_default();
        assert!(s.discard(a));
        assert!(!s.discard(a), "already free");
        assert_eq!(s.len(), 1);
        assert!(s.get(a, ga).is_none(), "the old handle is stale");
        assert_eq!(s.at(b).map(|v| v.as_str()), Some("b"));
        let (c, gc) = s
            .insert(alloc::string::String::from("c"))
            .unwrap_or_default();
        assert_eq!(c, a, "the freed slot is reused");
        assert_ne!(gc, ga, "with a new generation");
        assert!(!s.discard(99), "out of range");
    }

    #[test]
    fn generation_wraps_but_skips_zero() {
        let mut s: Slab<_> = Slab::new();
        let (i, _) = s.insert(0u8).unwrap_or_default();
        for _ in 0..3 {
            s.remove(i);
            s.insert(0u8);
        }
        if let Some(slot) = s.slot_mut(i) {
            slot.generation = GEN_MASK;
        }
        s.remove(i);
        let (_, g) = s.insert(1u8).unwrap_or_default();
        assert_eq!(g, 1);
    }

    /// A `CacheLine` slab starts every slot on a line boundary, in every
    /// chunk; a default slab adds no padding for it.
    #[test]
    fn cache_line_slots_start_on_line_boundaries() {
        let mut s: Slab<[u32; 3], CacheLine> = Slab::new();
        assert_eq!(slot_size::<[u32; 3], CacheLine>(), 64);
        assert_eq!(slot_size::<[u32; 3], ()>(), 20);
        for i in 0..CHUNK as u32 + 3 {
            s.insert([i; 3]);
        }
        assert_eq!(s.chunks.len(), 2);
        for chunk in &s.chunks {
            for slot in chunk {
                assert_eq!(core::ptr::from_ref(slot) as usize % 64, 0);
            }
        }
        assert_eq!(s.at(CHUNK as u32 + 2), Some(&[CHUNK as u32 + 2; 3]));
    }
}
