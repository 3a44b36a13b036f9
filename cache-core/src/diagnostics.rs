//! Process-wide diagnostics of the map's internals, for benchmarks: not part of what a
//! cache user needs, so they live here rather than at the crate root, and only with the
//! `lock-stats` feature (the benchmark suite in `benches/` turns it on).
//!
//! This module only reads counters kept elsewhere (`sync/wait_counts.rs`); it must never
//! add work to the lookup fast path, which those counters never touch.

use crate::sync::wait_counts;

/// How often lookups had to wait for a writer of their shard, across every map of the
/// process since it started: from [`lock_stats`].
///
/// A lookup that finds its shard held by a writer (an insert, a removal, the sweeper's
/// batch) waits until the writer leaves: it spins, then yields, then sleeps. The
/// counters say how often that happened, and whether one lookup ever waited through
/// more than one writer in a row, which is what the sweeper must never cause.
///
/// # Examples
///
/// ```
/// use cache_core::diagnostics::lock_stats;
/// use cache_core::TtlMap;
///
/// let map = TtlMap::new();
/// map.insert(1, "one");
/// let before = lock_stats();
/// assert_eq!(map.get(&1), Some("one"));
/// let after = lock_stats();
/// // Process-wide counters only grow (other threads' lookups count too).
/// assert!(after.lookups_that_waited >= before.lookups_that_waited);
/// let waited = after.lookups_that_waited - before.lookups_that_waited;
/// println!("lookups that waited for a writer meanwhile: {waited}");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockStats {
    /// Lookups that found their shard held by a writer and waited.
    pub lookups_that_waited: u64,
    /// Of those, lookups that met a writer again after the first one left.
    pub lookups_that_waited_for_several_writers: u64,
    /// Times a thread, lookup or writer, slept (rather than spun or yielded) behind a
    /// writer: each sleep costs a wake-up of tens of microseconds.
    pub sleeps: u64,
}

/// The process-wide [`LockStats`] so far.
///
/// # Examples
///
/// ```
/// let stats = cache_core::diagnostics::lock_stats();
/// assert!(stats.lookups_that_waited_for_several_writers <= stats.lookups_that_waited);
/// println!(
///     "{} lookups waited, {} of them for more than one writer",
///     stats.lookups_that_waited, stats.lookups_that_waited_for_several_writers
/// );
/// ```
pub fn lock_stats() -> LockStats {
    let counts = wait_counts::snapshot();
    LockStats {
        lookups_that_waited: counts.lookups_that_waited,
        lookups_that_waited_for_several_writers: counts.lookups_that_met_several_writers,
        sleeps: counts.sleeps,
    }
}
