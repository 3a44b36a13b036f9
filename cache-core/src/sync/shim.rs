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
