//! The synchronisation primitives the map's protocols use, swapped for shuttle's under
//! the `shuttle` feature so that the same code is model-checked (see `tests/shuttle.rs`).
//!
//! Only the primitives that carry the single-flight, locking and sweeping protocols go
//! through here (the shard locks' atomics and mutexes, flight signals, thread identity
//! and thread-locals); counters and the coarse clock stay on std atomics, which shuttle
//! does not need to interleave to check them.

#[cfg(not(feature = "shuttle"))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(not(feature = "shuttle"))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(feature = "shuttle"))]
pub(crate) use std::thread::{yield_now, ThreadId};
#[cfg(not(feature = "shuttle"))]
pub(crate) use std::thread_local;

#[cfg(feature = "shuttle")]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::sync::{Condvar, Mutex, MutexGuard};
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::thread::{yield_now, ThreadId};
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::thread_local;

/// The calling thread's identity.
pub(crate) fn current_thread_id() -> ThreadId {
    #[cfg(not(feature = "shuttle"))]
    return std::thread::current().id();
    #[cfg(feature = "shuttle")]
    return shuttle::thread::current().id();
}
