//! A counting global allocator for memory measurements in tests, examples and
//! benchmarks: live heap bytes and the number of allocations, process-wide.
//! Include with `#[path = ".../support/counting_alloc.rs"] mod counting_alloc;`;
//! it installs itself as the binary's `#[global_allocator]`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// Heap bytes currently allocated.
pub static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Allocations and reallocations made so far.
pub static ALLOCS: AtomicUsize = AtomicUsize::new(0);

pub struct Counting;

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by `alloc` with `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `realloc` on `System`.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes currently allocated by the whole process.
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}
