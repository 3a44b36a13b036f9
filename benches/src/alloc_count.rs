//! A global allocator that counts live heap bytes and allocation calls, for the memory
//! and allocations-per-call figures.
//!
//! It only counts: every request goes to [`System`] unchanged. A binary opts in with
//! `#[global_allocator] static A: CountingAllocator = CountingAllocator;`; without that
//! the counters stay at zero.
//!
//! Live bytes are process-wide, so a memory figure is only meaningful while no other
//! thread allocates much (the scenarios run one at a time; cache-core's sweeper thread
//! frees what it sweeps, which is the point of the reclaim figure). Allocation calls
//! are also counted per thread, so that another thread's allocations (the sweeper's
//! bookkeeping, say) never count as the measured thread's.
//!
//! Counting costs two relaxed atomic adds and a thread-local increment per
//! allocation, paid by every implementation alike.

#![allow(unsafe_code)] // `GlobalAlloc` is an unsafe trait: there is no safe way to count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};

/// Signed: another thread's free may land before its allocation is counted.
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // `const` and without `Drop`: using it never allocates, as an allocator requires.
    static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Counts one allocation call, process-wide and for this thread.
#[inline]
fn count_allocation() {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    // `try_with`: a thread being torn down may still allocate; it just is not counted.
    let _ = THREAD_ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

/// Delegates to [`System`] and counts live bytes and allocation calls.
pub struct CountingAllocator;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the only additions are relaxed atomic counter updates, which
// neither allocate nor touch the memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are passed on to `System` as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            count_allocation();
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            count_allocation();
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes
        // through this type to `System`), as the caller guarantees for this allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` and `layout` come from this allocator, hence from `System`, and
        // the caller guarantees `new_size` is valid for `layout.align()`.
        let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
        if !new_ptr.is_null() {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
            LIVE_BYTES.fetch_add(new_size as isize, Ordering::Relaxed);
            count_allocation();
        }
        new_ptr
    }
}

/// Heap bytes requested and not yet freed, process-wide (allocator overhead not
/// included).
pub fn live_bytes() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// Allocation calls so far (`alloc`, `alloc_zeroed` and `realloc`), process-wide.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Allocation calls made by the calling thread so far.
pub fn thread_allocations() -> u64 {
    THREAD_ALLOCATIONS.with(Cell::get)
}

/// Whether a [`CountingAllocator`] is installed: a binary without one reads zeros.
pub fn is_counting() -> bool {
    let before = allocations();
    std::hint::black_box(Box::new(0_u8));
    allocations() != before
}
