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

/// The calling thread, as a number that is never 0 and that no other thread is
/// expected to share: a hash of its `ThreadId` (std never reuses those), kept in a
/// thread-local because `thread::current()` clones an `Arc` (two atomic operations)
/// and every miss asks. A number, not the `ThreadId`, so that it fits in an atomic.
///
/// Two threads share one only if their ids collide in 64 hashed bits; a flight would
/// then take a call from the other thread for a re-entrant one (see `flight/`): it
/// would compute its own value and not store it, neither a wrong value nor a hang.
pub(crate) fn current_thread() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    thread_local! {
        static NUMBER: Cell<u64> = const { Cell::new(0) };
    }
    fn uncached() -> u64 {
        #[cfg(not(shuttle))]
        let id = std::thread::current().id();
        #[cfg(shuttle)]
        let id = shuttle::thread::current().id();
        // Fixed keys: the same thread must get the same number on every call.
        BuildHasherDefault::<DefaultHasher>::default().hash_one(id) | 1
    }
    NUMBER
        .try_with(|cached| match cached.get() {
            0 => {
                let number = uncached();
                cached.set(number);
                number
            }
            number => number,
        })
        // Thread-locals already destroyed (a miss from another thread-local's `Drop`).
        .unwrap_or_else(|_| uncached())
}
