//! The synchronisation primitives the map's protocols use, swapped for shuttle's under
//! the `shuttle` feature so that the same code is model-checked (see `tests/shuttle.rs`).
//!
//! Only the primitives that carry the single-flight and sweeping protocols go through
//! here (shard locks, flight signals, thread identity); counters and the coarse clock
//! stay on std atomics, which shuttle does not need to interleave to check them.

#[cfg(not(feature = "shuttle"))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
#[cfg(not(feature = "shuttle"))]
pub(crate) use std::thread::ThreadId;

#[cfg(feature = "shuttle")]
pub(crate) use shuttle::sync::{
    Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
#[cfg(feature = "shuttle")]
pub(crate) use shuttle::thread::ThreadId;

/// The calling thread's identity.
pub(crate) fn current_thread_id() -> ThreadId {
    #[cfg(not(feature = "shuttle"))]
    return std::thread::current().id();
    #[cfg(feature = "shuttle")]
    return shuttle::thread::current().id();
}
