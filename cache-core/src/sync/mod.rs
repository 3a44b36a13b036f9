//! Synchronisation: the shard locks, thread identity, and the primitives both are
//! built on (std's, or shuttle's under `--cfg shuttle`).
//!
//! This folder must never call user code: it locks and counts, and the code that runs
//! under its locks belongs to its callers.

pub(crate) mod shard_locks;
pub(crate) mod shim;
pub(crate) mod thread_identity;
pub(crate) mod wait_counts;
