//! A counting global allocator for memory measurements in tests, examples and
//! benchmarks: live heap bytes and the number of allocations, process-wide.
//! Include with `#[path = ".../support/counting_alloc.rs"] mod counting_alloc;`;
//! it installs itself as the binary's `#[global_allocator]`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// Heap bytes currently allocated.
pub static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Allocations and reallocations made so far.
pub static ALLOCS: AtomicUsize = AtomicUsize::new(0);

pub struct Counting;

std::thread_local! {
    /// Heap bytes allocated minus freed by this thread: unlike [`LIVE`], not
    /// moved by the test harness's own threads (libtest's main thread
    /// allocates at moments of its own while a test runs).
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
    /// Allocations and reallocations made by this thread.
    static THREAD_ALLOCS: Cell<usize> = const { Cell::new(0) };
}

/// Adds `bytes` (and `allocs`) to this thread's counts; nothing during
/// thread teardown, when the thread-locals are gone.
fn count_thread(bytes: isize, allocs: usize) {
    let _ = THREAD_LIVE.try_with(|c| c.set(c.get() + bytes));
    let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + allocs));
}

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        count_thread(l.size() as isize, 1);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        count_thread(-(l.size() as isize), 0);
        // SAFETY: `p` was allocated by `alloc` with `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        count_thread(new as isize - l.size() as isize, 1);
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

/// Heap bytes allocated minus freed by the calling thread.
pub fn thread_live_bytes() -> isize {
    THREAD_LIVE.with(Cell::get)
}

/// Allocations and reallocations made by the calling thread.
pub fn thread_allocs() -> usize {
    THREAD_ALLOCS.with(Cell::get)
}
