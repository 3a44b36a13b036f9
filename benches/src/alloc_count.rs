//! A global allocator that counts live heap bytes and allocation calls, for the memory
//! and allocations-per-call figures.
//!
//! It only counts: every request goes to [`System`] unchanged. A binary opts in with
//! `#[global_allocator] static A: CountingAllocator = CountingAllocator;`; without that
//! the counters stay at zero.
//!
//! Live bytes are counted process-wide (the reclaim figure: cache-core's sweeper thread
//! frees what it sweeps) and per thread (the memory figure: a store built and filled by
//! one thread, while the sweeper may be giving back the memory of caches an earlier
//! scenario cleared). Allocation calls are also counted per thread, so that another
//! thread's allocations (the sweeper's bookkeeping, say) never count as the measured
//! thread's.
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
    static THREAD_LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

/// Counts `bytes` (negative: freed) as live, process-wide and for this thread.
#[inline]
fn count_live(bytes: isize) {
    LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed);
    let _ = THREAD_LIVE_BYTES.try_with(|live| live.set(live.get() + bytes));
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
            count_live(layout.size() as isize);
            count_allocation();
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count_live(layout.size() as isize);
            count_allocation();
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes
        // through this type to `System`), as the caller guarantees for this allocator.
        unsafe { System.dealloc(ptr, layout) };
        count_live(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` and `layout` come from this allocator, hence from `System`, and
        // the caller guarantees `new_size` is valid for `layout.align()`.
        let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
        if !new_ptr.is_null() {
            count_live(new_size as isize - layout.size() as isize);
            count_allocation();
        }
        new_ptr
    }
}

/// Heap bytes allocated by this thread minus those it freed (allocator overhead not
/// included): what a store built and filled by this thread holds, whatever other
/// threads allocate or free meanwhile.
pub fn thread_live_bytes() -> isize {
    THREAD_LIVE_BYTES.try_with(Cell::get).unwrap_or(0)
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
