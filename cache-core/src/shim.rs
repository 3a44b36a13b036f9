//! The synchronisation primitives the map's protocols use, swapped for shuttle's under
//! the `shuttle` feature so that the same code is model-checked (see `tests/shuttle.rs`).
//!
//! Only the primitives that carry the single-flight, locking and sweeping protocols go
//! through here (the shard locks' atomics and mutexes, flight signals, thread identity
//! and thread-locals); counters and the coarse clock stay on std atomics, which shuttle
//! does not need to interleave to check them.

#[cfg(not(feature = "shuttle"))]
pub(crate) use std::sync::atomic::AtomicUsize;
#[cfg(not(feature = "shuttle"))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(feature = "shuttle"))]
pub(crate) use std::thread::{yield_now, ThreadId};
#[cfg(not(feature = "shuttle"))]
pub(crate) use std::thread_local;

#[cfg(feature = "shuttle")]
pub(crate) use shuttle::sync::atomic::AtomicUsize;
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::sync::{Condvar, Mutex, MutexGuard};
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::thread::{yield_now, ThreadId};
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::thread_local;

/// The calling thread's identity, kept in a thread-local: `thread::current()` clones
/// an `Arc` (two atomic operations) on every call, and every miss asks.
pub(crate) fn current_thread_id() -> ThreadId {
    use std::cell::Cell;
    thread_local! {
        static ID: Cell<Option<ThreadId>> = const { Cell::new(None) };
    }
    fn uncached() -> ThreadId {
        #[cfg(not(feature = "shuttle"))]
        return std::thread::current().id();
        #[cfg(feature = "shuttle")]
        return shuttle::thread::current().id();
    }
    ID.try_with(|cached| {
        cached.get().unwrap_or_else(|| {
            let id = uncached();
            cached.set(Some(id));
            id
        })
    })
    // Thread-locals already destroyed (a miss from another thread-local's `Drop`).
    .unwrap_or_else(|_| uncached())
}
