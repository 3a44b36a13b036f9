//! [`Inner`]: the shared part of a map, and its core operations: lookup, insert,
//! store, removal, clear. Single flight, capacity, sweeping and background refreshes
//! are in their own files beside this one.
//!
//! A map is a fixed array of shards chosen by key hash (`hash::shard_of`), so that
//! threads working on different keys rarely touch the same lock or cache line. A
//! lookup takes one shard's read lock, checks the deadline (usually one atomic load of
//! the coarse clock), clones the value and bumps its thread stripe's hit counter: it
//! writes only lines of its own thread's stripe (see `sync/shard_locks.rs`), so
//! lookups on different cores scale, even on the same keys. Writes take one shard's
//! write lock.
//!
//! This module never holds two shard locks at once, and never holds one while user
//! code other than `Hash`, `Eq` or `Clone` runs (`init` closures, `Drop` of values).

use super::listener::{Departures, EvictionCause, Listener};
use crate::hash::{shard_of, KeyHasher};
use crate::shard::{Entry, IndexPolicy, Shard, ShardWriteGuard, Shards};
use crate::stats::{CacheStats, LookupCounters};
use crate::sweeper;
use crate::time::deadline::{deadline_after, duration_to_nanos, expires, NEVER};
use crate::time::jitter::Jitter;
use crate::time::{Clock, Nanos};
use std::hash::Hash;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

/// The shared part of a map: what the sweeper holds weakly.
pub(crate) struct Inner<K, V> {
    pub(super) shards: Shards<K, V>,
    /// How many shards (`shards.len()`, kept beside the hasher for lookups).
    pub(super) shard_count: usize,
    /// Hits and misses, per stripe of threads (a lookup's guard says which).
    pub(super) lookups: Box<[LookupCounters]>,
    /// Randomly seeded per map: keys an attacker picks cannot be made to collide.
    pub(super) hasher: KeyHasher,
    pub(super) ttl: Option<Duration>,
    /// The most entries, split into per-shard quotas (each shard evicts on its own).
    pub(super) capacity: Option<usize>,
    pub(super) policy: IndexPolicy,
    pub(super) clock: Clock,
    /// Whether the sweeper knows this map.
    pub(super) registered: AtomicBool,
    /// Told of every entry that leaves (see `TtlMapBuilder::on_evict`).
    pub(super) listener: Option<Listener<K, V>>,
    /// Shortens each entry's TTL by a random share (see `TtlMapBuilder::jitter`).
    pub(super) jitter: Option<Jitter>,
    /// How long past its deadline an entry stays in the map (0: not at all), to be
    /// served by the explicit stale options only: `get_or_refresh_with` within
    /// [`Self::revalidate_window`], `#[ttl_cached(stale_if_error = N)]` within `N`.
    /// Every other lookup treats it as expired at its deadline.
    pub(super) stale_window: Nanos,
    /// How long past its deadline `get_or_refresh_with` serves an entry stale while
    /// it is recomputed (at most `stale_window`).
    pub(super) revalidate_window: Nanos,
    /// How long past its deadline an entry's value is returned instead of an error of
    /// `try_get_or_insert_with` (at most `stale_window`; zero: never).
    pub(super) stale_if_error: Duration,
    /// Keys being refreshed in the background: one refresh per key at a time.
    pub(super) refreshing: Mutex<Vec<K>>,
    pub(super) refreshes: StaleCounters,
    /// A cap on some values' TTL, by value (`#[ttl_cached(err_secs = N)]` and the
    /// like: failures kept for less time than successes).
    pub(super) value_ttl: Option<ValueTtl<V>>,
}

/// How long a value may live at most (`None`: the TTL it is stored with).
pub(crate) type ValueTtl<V> = fn(&V) -> Option<Duration>;

/// Counts of what stale entries were used for: background refreshes (rare: one per
/// stale key at a time), and errors served over (`stale_if_error`).
#[derive(Default)]
pub(crate) struct StaleCounters {
    pub(super) started: AtomicU64,
    pub(super) succeeded: AtomicU64,
    pub(super) failed: AtomicU64,
    errors_served_over: AtomicU64,
}

impl StaleCounters {
    pub(super) fn add_to(&self, total: &mut CacheStats) {
        total.refreshes_started += self.started.load(Relaxed);
        total.refreshes_succeeded += self.succeeded.load(Relaxed);
        total.refreshes_failed += self.failed.load(Relaxed);
        total.errors_served_over += self.errors_served_over.load(Relaxed);
    }
}

/// What a lookup that may serve stale values found.
pub(crate) enum Freshness<V> {
    /// A live value (counted as a hit).
    Fresh(V),
    /// A value past its deadline, within the stale window (counted as a stale hit).
    Stale(V),
    /// Nothing to serve (not counted: the computation that follows counts its miss).
    Absent,
}

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    #[inline]
    pub(crate) fn hash<Q: ?Sized + Hash>(&self, key: &Q) -> u64 {
        self.hasher.hash(key)
    }

    /// The deadline of an entry stored at `now` with `ttl`, jittered if the map is.
    #[inline]
    pub(super) fn deadline_at(&self, now: Nanos, ttl: Option<Duration>) -> Nanos {
        match (ttl, self.jitter) {
            (Some(ttl), Some(jitter)) => {
                let ttl = jitter.shorten(duration_to_nanos(ttl));
                now.saturating_add(ttl).min(NEVER)
            }
            _ => deadline_after(now, ttl),
        }
    }

    /// The TTL `value` is stored with: `ttl`, capped by the map's per-value rule.
    #[inline]
    pub(crate) fn ttl_for(&self, value: &V, ttl: Option<Duration>) -> Option<Duration> {
        match self.value_ttl.and_then(|rule| rule(value)) {
            Some(cap) => Some(ttl.map_or(cap, |ttl| ttl.min(cap))),
            None => ttl,
        }
    }

    /// Where entries that leave go (the listener, or a drop): never call it with a
    /// shard lock held.
    pub(super) fn departures(&self) -> Departures<'_, K, V> {
        Departures(self.listener.as_ref())
    }

    /// Why an entry leaving for `cause` left: expired, if it was (see
    /// [`EvictionCause::Expired`]).
    pub(super) fn cause_at(now: Nanos, entry: &Entry<K, V>, cause: EvictionCause) -> EvictionCause {
        if entry.is_live(now) {
            cause
        } else {
            EvictionCause::Expired
        }
    }

    #[inline]
    pub(super) fn shard(&self, hash: u64) -> Shard<'_, K, V> {
        Shard::new(&self.shards, shard_of(hash, self.shard_count))
    }

    /// Counts a computation run without single flight, in the calling thread's stripe.
    pub(crate) fn count_unshared_computation(&self) {
        let stripe = crate::sync::thread_identity::stripe_number() % self.lookups.len();
        self.lookups[stripe].computed();
    }

    pub(super) fn shards(&self) -> impl Iterator<Item = Shard<'_, K, V>> {
        Shard::all(&self.shards)
    }

    /// The lookup behind `get`: one read lock, no allocation, no map-wide write.
    /// Counts a hit or a miss; removes the key if it found it expired.
    #[inline]
    pub(crate) fn get_hashed(
        self: &Arc<Self>,
        hash: u64,
        mut is_key: impl FnMut(&K) -> bool,
    ) -> Option<V> {
        let shard = self.shard(hash);
        let state = shard.read();
        match state.find(hash, &mut is_key) {
            Some(entry) if self.is_live(entry) => {
                let value = self.read_live(entry);
                let stripe = state.stripe();
                drop(state);
                self.lookups[stripe].hit();
                Some(value)
            }
            found => {
                let expired = found.is_some();
                let stripe = state.stripe();
                drop(state);
                self.lookups[stripe].miss();
                if expired {
                    self.remove_expired(hash, is_key);
                }
                None
            }
        }
    }

    /// The lookup of a `stale_while_revalidate` function: a live value (counted as a
    /// hit), or nothing, counted as nothing yet: its miss path serves the value stale
    /// (a stale hit) or computes it (a miss), and counts which.
    #[inline]
    pub(crate) fn get_live_hashed(
        &self,
        hash: u64,
        mut is_key: impl FnMut(&K) -> bool,
    ) -> Option<V> {
        let shard = self.shard(hash);
        let state = shard.read();
        let entry = state.find(hash, &mut is_key)?;
        if !self.is_live(entry) {
            return None;
        }
        let value = self.read_live(entry);
        let stripe = state.stripe();
        drop(state);
        self.lookups[stripe].hit();
        Some(value)
    }

    /// Counts a miss found outside a lookup (see [`Self::get_live_hashed`]), in the
    /// calling thread's stripe.
    pub(crate) fn count_miss(&self) {
        let stripe = crate::sync::thread_identity::stripe_number() % self.lookups.len();
        self.lookups[stripe].miss();
    }

    /// A hit on a live entry, under its shard's read lock: counts the read for the
    /// eviction policy, slides the deadline if the map does, and clones the value.
    #[inline]
    fn read_live(&self, entry: &Entry<K, V>) -> V {
        if self.capacity.is_some() {
            // For the eviction policy; written only until it saturates.
            entry.mark_read();
        }
        if self.policy.sliding {
            // Precise: a sliding deadline must not start from a lagging clock.
            let now = self.clock.precise_now();
            entry.extend_deadline(self.deadline_at(now, self.ttl));
        }
        entry.value.clone()
    }

    /// The lookup of `get_or_refresh_with` and of `stale_while_revalidate` functions'
    /// miss path: a live value, a stale one (past its deadline, within the revalidate
    /// window), or nothing. Counts a hit or a stale hit.
    pub(crate) fn lookup_fresh(
        &self,
        hash: u64,
        mut is_key: impl FnMut(&K) -> bool,
    ) -> Freshness<V> {
        let shard = self.shard(hash);
        let state = shard.read();
        let Some(entry) = state.find(hash, &mut is_key) else {
            return Freshness::Absent;
        };
        let stripe = state.stripe();
        if self.is_live(entry) {
            let value = self.read_live(entry);
            drop(state);
            self.lookups[stripe].hit();
            return Freshness::Fresh(value);
        }
        let now = self.clock.precise_now();
        if self.revalidate_window > 0 && entry.is_live(now.saturating_sub(self.revalidate_window)) {
            let value = entry.value.clone();
            drop(state);
            self.lookups[stripe].stale_hit();
            Freshness::Stale(value)
        } else {
            Freshness::Absent
        }
    }

    /// The value stored under the key and its deadline, live or kept past it within
    /// the stale window, for `stale_if_error`: read before the body runs, served (by
    /// `__private::serve_over`) only if the body fails. Counts nothing: it is not a
    /// lookup of the caller's.
    pub(crate) fn stale_snapshot(
        &self,
        hash: u64,
        mut is_key: impl FnMut(&K) -> bool,
    ) -> Option<(V, Nanos)> {
        let state = self.shard(hash).read();
        let entry = state.find(hash, &mut is_key)?;
        let now = self.clock.precise_now();
        entry
            .is_live(now.saturating_sub(self.stale_window))
            .then(|| (entry.value.clone(), entry.deadline()))
    }

    /// Whether a value whose deadline is `deadline` may be served over an error now:
    /// it expired less than `window` ago (or has not expired).
    pub(crate) fn within(&self, deadline: Nanos, window: Duration) -> bool {
        let now = self.clock.precise_now();
        deadline > now.saturating_sub(duration_to_nanos(window))
    }

    /// Counts an error answered with an earlier value instead (`stale_if_error`).
    pub(crate) fn count_error_served_over(&self) {
        self.refreshes.errors_served_over.fetch_add(1, Relaxed);
    }

    /// Liveness for lookups. The clock is read only for entries that can expire, so
    /// maps of entries without TTL never pay for it.
    #[inline]
    pub(super) fn is_live(&self, entry: &Entry<K, V>) -> bool {
        let deadline = entry.deadline();
        !expires(deadline) || self.clock.is_live(deadline)
    }

    /// Passive expiry: a lookup found this key expired, so remove it now.
    pub(super) fn remove_expired(&self, hash: u64, mut is_key: impl FnMut(&K) -> bool) {
        let shard = self.shard(hash);
        let now = self.clock.precise_now();
        let removed = {
            let mut state = shard.write();
            match state.find(hash, &mut is_key) {
                // Kept through its stale window, for `get_or_refresh_with`.
                Some(entry) if !entry.is_live(now.saturating_sub(self.stale_window)) => {
                    state.remove(hash, is_key)
                }
                _ => None,
            }
        };
        if let Some(removed) = removed {
            shard.counters().expired(1);
            self.departures().send_one(removed, EvictionCause::Expired);
        }
    }

    pub(crate) fn remove_hashed(&self, hash: u64, is_key: impl FnMut(&K) -> bool) -> Option<V> {
        let shard = self.shard(hash);
        let now = self.clock.precise_now();
        let removed = {
            let mut state = shard.write();
            state.remove(hash, is_key)?
        };
        if removed.is_live(now) {
            Some(self.departures().hand_back(removed, EvictionCause::Removed))
        } else {
            // It had expired before anyone removed it: that is an expiration.
            shard.counters().expired(1);
            self.departures().send_one(removed, EvictionCause::Expired);
            None
        }
    }

    pub(crate) fn insert(self: &Arc<Self>, key: K, value: V, ttl: Option<Duration>) -> Option<V> {
        let hash = self.hash(&key);
        let ttl = self.ttl_for(&value, ttl);
        let deadline = self.deadline_at(self.clock.precise_now(), ttl);
        let state = self.shard(hash).write();
        self.store(state, hash, key, value, deadline)
    }

    /// [`Self::insert`] of a landing (the map TTL capped at its `at_most`), unless `epoch` moved: checked
    /// under the shard's write lock (see [`crate::flight::Epoch`]). Returns whether it
    /// stored.
    #[cfg(feature = "redis")]
    pub(crate) fn insert_unless_moved(
        self: &Arc<Self>,
        key: K,
        landing: crate::flight::Landing<V>,
        epoch: crate::flight::Epoch,
    ) -> bool {
        let hash = self.hash(&key);
        let ttl = self.ttl_for(&landing.value, landing.ttl(self.ttl));
        let value = landing.value;
        let deadline = self.deadline_at(self.clock.precise_now(), ttl);
        let state = self.shard(hash).write();
        if epoch.moved() {
            return false;
        }
        let _replaced = self.store(state, hash, key, value, deadline);
        true
    }

    /// Whether any entry with this hash is stored, live or not; counts nothing and runs
    /// no code of the key's type (the Redis level's side index keeps what this keeps).
    #[cfg(feature = "redis")]
    pub(crate) fn holds_hash(&self, hash: u64) -> bool {
        self.shard(hash).read().find(hash, |_| true).is_some()
    }

    /// Stores an entry in the locked shard of `hash`, releases the lock, then does the
    /// bookkeeping: counters, capacity, waking the sweeper. Returns the replaced value
    /// if it was live.
    pub(super) fn store(
        self: &Arc<Self>,
        mut state: ShardWriteGuard<'_, K, V>,
        hash: u64,
        key: K,
        value: V,
        deadline: Nanos,
    ) -> Option<V> {
        let shard = self.shard(hash);
        shard.counters().inserted_under_lock();
        if self.capacity == Some(0) {
            drop(state);
            shard.counters().evicted(1);
            let entry = Entry::new(key, value, deadline);
            self.departures().send_one(entry, EvictionCause::Capacity);
            return None;
        }
        let put = state.put(hash, key, value, deadline, self.policy, &self.hasher);
        drop(state);
        if expires(deadline) && self.clock.wants_sweeper() {
            sweeper::schedule(self, &self.registered);
        }
        let departures = self.departures();
        if let Some(evicted) = put.evicted {
            let cause = if self.is_live(&evicted) {
                shard.counters().evicted(1);
                EvictionCause::Capacity
            } else {
                shard.counters().expired(1);
                EvictionCause::Expired
            };
            // Reported (or dropped) here, with no lock held.
            departures.send_one(evicted, cause);
        }
        match put.replaced {
            Some(old) if self.is_live(&old) => {
                Some(departures.hand_back(old, EvictionCause::Replaced))
            }
            Some(expired) => {
                shard.counters().expired(1);
                departures.send_one(expired, EvictionCause::Expired);
                None
            }
            None => None,
        }
    }

    /// Keeps the live entries `keep` accepts, shard by shard: each shard's write lock
    /// is held while `keep` runs over that shard's entries, then released before the
    /// values it refused are dropped. Expired entries leave too (counted as expired).
    /// A panic in `keep` is resumed once the shard it happened in is accounted for and
    /// its refused values dropped (later shards are left as they are); a panic in a
    /// value's `Drop`, once every shard is done, as in `clear`.
    pub(super) fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        let now = self.clock.precise_now();
        let mut drop_panic = None;
        for shard in self.shards() {
            let mut taken = Vec::new();
            let mut state = shard.write();
            // Caught, so that what `keep` refused before it panicked is counted and
            // dropped like the rest.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                state.take_unless(now, &mut keep, &mut taken);
            }));
            let expired = taken.iter().filter(|entry| !entry.is_live(now)).count();
            shard.counters().expired(expired as u64);
            drop(state);
            let cause = |entry: &Entry<K, V>| Self::cause_at(now, entry, EvictionCause::Removed);
            if let Some(caught) = self.departures().send(taken, cause) {
                drop_panic.get_or_insert(caught);
            }
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
        if let Some(panic) = drop_panic {
            std::panic::resume_unwind(panic);
        }
    }

    pub(super) fn clear(&self) {
        let mut panic = None;
        for shard in self.shards() {
            let taken = {
                let mut state = shard.write();
                state.take_all_keeping_capacity()
            };
            let now = self.clock.precise_now();
            let cause = |entry: &Entry<K, V>| Self::cause_at(now, entry, EvictionCause::Cleared);
            if let Some(caught) = self.departures().send(taken, cause) {
                panic.get_or_insert(caught);
            }
        }
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
    }
}
