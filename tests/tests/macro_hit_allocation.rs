//! A hit allocates nothing for `Copy` and borrowed (`&str`, `&[T]`) arguments: the
//! key is looked up in borrowed form, and owned only on a miss.

use cache_core::ttl_cached;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the allocations of the current thread.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to `System`; counting has no effect on the memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[ttl_cached(secs = 60)]
fn lookup(id: u64, region: &str, tags: &[u8]) -> u64 {
    id + region.len() as u64 + tags.len() as u64
}

#[test]
fn a_hit_with_copy_and_borrowed_arguments_allocates_nothing() {
    let region = String::from("eu-west");
    let tags = vec![1, 2, 3];
    assert_eq!(lookup(1, &region, &tags), 11, "a miss fills the cache");
    let allocations = allocations_during(|| {
        assert_eq!(lookup(1, &region, &tags), 11);
    });
    assert_eq!(allocations, 0);
    assert_eq!(lookup_cache().stats().hits, 1);
}
