//! The synchronisation primitives the map's protocols use, swapped for shuttle's under
//! `--cfg shuttle` so that the same code is model-checked (see `tests/shuttle.rs`):
//! `RUSTFLAGS="--cfg shuttle" CARGO_TARGET_DIR=target/shuttle cargo test -p cache-core
//! --test shuttle`. A `--cfg`, not a Cargo feature, as loom-tested crates do: no crate
//! in a user's dependency graph can turn it on (features unify across the graph) and
//! swap every lock for shuttle's, which only works inside a shuttle test. Its own
//! target dir keeps the normal build from being rebuilt with the flag.
//!
//! Only the primitives that carry the single-flight, locking and sweeping protocols go
//! through here (the shard locks' atomics and mutexes, flight signals, thread identity
//! and thread-locals); counters and the coarse clock stay on std atomics, which shuttle
//! does not need to interleave to check them.

#[cfg(not(shuttle))]
pub(crate) use std::sync::atomic::AtomicUsize;
#[cfg(not(shuttle))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(shuttle))]
pub(crate) use std::thread::yield_now;
#[cfg(not(shuttle))]
pub(crate) use std::thread_local;

#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::AtomicUsize;
#[cfg(shuttle)]
pub(crate) use shuttle::sync::{Condvar, Mutex, MutexGuard};
#[cfg(shuttle)]
pub(crate) use shuttle::thread::yield_now;
#[cfg(shuttle)]
pub(crate) use shuttle::thread_local;

/// Sleeps on `condvar` (whose mutex is `mutex`, held as `guard`) until woken or until
/// `timeout` has passed, whichever comes first.
///
/// Shuttle's `wait_timeout` never times out, so under shuttle the timeout always
/// fires at once: the lock is let go, the thread yields and takes it again. The model
/// then checks that waiters never hang even when every wake-up is missed.
#[cfg(not(shuttle))]
pub(crate) fn wait_at_most<'a>(
    condvar: &Condvar,
    _mutex: &'a Mutex<()>,
    guard: MutexGuard<'a, ()>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, ()> {
    match condvar.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

/// See the std version above.
#[cfg(shuttle)]
pub(crate) fn wait_at_most<'a>(
    _condvar: &Condvar,
    mutex: &'a Mutex<()>,
    guard: MutexGuard<'a, ()>,
    _timeout: std::time::Duration,
) -> MutexGuard<'a, ()> {
    drop(guard);
    yield_now();
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
