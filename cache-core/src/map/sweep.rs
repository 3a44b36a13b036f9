//! Sweeping: removing what expired, a batch per shard lock at a time, for the
//! background sweeper and for [`TtlMap::sweep`](super::TtlMap::sweep).
//!
//! This module must never hold a shard lock for more than one batch in a row, nor run
//! a value's `Drop` or a listener under one.

use super::inner::Inner;
use super::listener::EvictionCause;
use crate::fork;
use crate::shard::{Shard, Swept};
use crate::sweeper::Sweep;
use crate::sync::shim;
use crate::time::Nanos;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The most expired entries removed under one shard lock: a reader that arrives while
/// a million entries expire waits for at most one batch, not for all. On a large map a
/// removal costs a cache miss or two in the table (the deadline queue is read in
/// order), so a batch holds the lock for a microsecond or two: short enough that a
/// waiting reader spins instead of sleeping in the kernel, whose wake-up alone can
/// take tens of microseconds. Measured with the heap index and std locks (`compare --
/// stall`, hits >= 20 µs while 1M entries expire): 15,346 at 128 entries a batch,
/// 5,044 at 8, 1,095 at 4, against about 400 for a map with no sweeper at all.
pub(crate) const SWEEP_BATCH: usize = 4;

/// Listener calls for one batch that take longer than this make the background
/// sweeper leave the rest of the map for its next round (see
/// `TtlMapBuilder::on_evict`).
const SLOW_LISTENER: Duration = Duration::from_millis(1);

/// How long a sweep stays with shards it cannot take at once.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Patience {
    /// [`TtlMap::sweep`]: every expired entry is removed before it returns.
    UntilDone,
    /// The background sweeper: shards it keeps finding busy are left for its next
    /// round, so that it never spins behind a reader's slow `Clone`.
    ComeBackLater,
}

/// Rounds in which every shard left refused the sweeper before it leaves them for
/// its next round: each round yields the thread once, so this is well past a
/// preempted writer's time slice, and far short of a slow `Clone`.
const IDLE_ROUNDS_BEFORE_LEAVING: u32 = 64;

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn sweep(&self) -> usize {
        self.sweep_at(self.clock.precise_now(), Patience::UntilDone)
    }

    /// Removes what expired by `now`, a batch per shard at a time, round-robin, so no
    /// shard is locked for more than one batch in a row.
    pub(super) fn sweep_at(&self, now: Nanos, patience: Patience) -> usize {
        let mut total = 0;
        let mut swept = Swept::with_capacity(SWEEP_BATCH);
        let mut panic = None;
        let mut idle_rounds = 0;
        let mut pending: Vec<Shard<'_, K, V>> = self.shards().collect();
        let departures = self.departures();
        // Set when a batch's listener calls were slow: the background sweeper leaves
        // the rest of this map for its next round, so that one map's slow listener
        // delays the others by one batch at most.
        let mut slow_listener = false;
        while !pending.is_empty() && !slow_listener {
            let mut progressed = false;
            pending.retain(|shard| {
                if slow_listener {
                    return true;
                }
                // Lookups waiting for this shard (behind our last batch, or an insert) go
                // first: we come back to it next round.
                // Forks wait for this batch: a child would find the shard locked
                // forever. Taken before the shard lock, as always.
                let no_fork = fork::hold_off_forks();
                let Some(mut state) = shard.write_unless_readers_wait() else {
                    return true;
                };
                progressed = true;
                // Entries stay through their stale window (see `stale_while_revalidate`
                // and `stale_if_error`).
                let removal_time = now.saturating_sub(self.stale_window);
                let more = state.take_expired(
                    removal_time,
                    SWEEP_BATCH,
                    self.policy,
                    &self.hasher,
                    &mut swept,
                );
                let count = swept.expired.len();
                drop(state);
                drop(no_fork);
                shard.counters().expired(count as u64);
                total += count;
                // Values and spare allocations are reported and dropped here, with no
                // lock held, after the bookkeeping, so a panicking `Drop` or listener
                // leaves the counts right.
                let reporting = departures.listening().then(Instant::now);
                let reported = departures.send(swept.expired.drain(..), |_| EvictionCause::Expired);
                let released = swept.release();
                for caught in [reported, released].into_iter().flatten() {
                    panic.get_or_insert(caught);
                }
                if reporting.is_some_and(|started| started.elapsed() > SLOW_LISTENER)
                    && patience == Patience::ComeBackLater
                {
                    slow_listener = true;
                }
                more
            });
            if !progressed {
                idle_rounds += 1;
                if patience == Patience::ComeBackLater && idle_rounds > IDLE_ROUNDS_BEFORE_LEAVING {
                    // A reader lingers in what is left (a slow `Clone`): the next
                    // sweep comes back for it.
                    break;
                }
                // Every shard left has lookups waiting on some writer: let them run.
                shim::yield_now();
            }
        }
        if let Some(panic) = panic {
            // Every expired value taken is gone; the caller learns of the first panic.
            std::panic::resume_unwind(panic);
        }
        total
    }

    pub(super) fn has_expiring(&self) -> bool {
        // Forks wait for these reads, as for a sweep batch. A shard held by a writer
        // is taken to have some: the sweeper never queues behind a writer (and in a
        // forked child, a shard some parent thread was writing is never let go).
        let _no_fork = fork::hold_off_forks();
        self.shards().any(|shard| {
            shard
                .try_read()
                .is_none_or(|state| state.index.has_expiring())
        })
    }
}

impl<K, V> Sweep for Inner<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn sweep_expired(&self) -> bool {
        self.sweep_at(self.clock.precise_now(), Patience::ComeBackLater);
        self.has_expiring()
    }

    fn has_expiring(&self) -> bool {
        Inner::has_expiring(self)
    }
}
