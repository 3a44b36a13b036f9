//! [`Inner`]: the shared part of a map, and its core operations: lookup, insert,
//! store, removal, clear. Single flight, capacity and sweeping are in their own files
//! beside this one.
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
use std::sync::{Mutex, PoisonError};
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
    /// How long past its deadline an entry stays, to be served stale by
    /// `get_or_refresh_with` while it is recomputed (0: not at all).
    pub(super) stale_window: Nanos,
    /// Keys being refreshed in the background: one refresh per key at a time.
    pub(super) refreshing: Mutex<Vec<K>>,
    pub(super) refreshes: RefreshCounters,
    /// A cap on some values' TTL, by value (`#[ttl_cached(err_secs = N)]` and the
    /// like: failures kept for less time than successes).
    pub(super) value_ttl: Option<ValueTtl<V>>,
}

/// How long a value may live at most (`None`: the TTL it is stored with).
pub(crate) type ValueTtl<V> = fn(&V) -> Option<Duration>;

/// Counts of background refreshes (rare: one per stale key at a time).
#[derive(Default)]
pub(crate) struct RefreshCounters {
    started: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
}

impl RefreshCounters {
    pub(super) fn add_to(&self, total: &mut CacheStats) {
        total.refreshes_started += self.started.load(Relaxed);
        total.refreshes_succeeded += self.succeeded.load(Relaxed);
        total.refreshes_failed += self.failed.load(Relaxed);
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

    /// The lookup of `get_or_refresh_with`: a live value, a stale one (past its
    /// deadline, within the stale window), or nothing. Counts a hit or a stale hit.
    pub(super) fn lookup_fresh(
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
        if self.stale_window > 0 && entry.is_live(now.saturating_sub(self.stale_window)) {
            let value = entry.value.clone();
            drop(state);
            self.lookups[stripe].stale_hit();
            Freshness::Stale(value)
        } else {
            Freshness::Absent
        }
    }

    /// Starts one background refresh of `key` (none if one is running): `init` runs on
    /// the refresh pool and its value is stored with the map's TTL. A panic in `init`
    /// leaves the stale value in place, and is counted.
    pub(super) fn start_refresh(self: &Arc<Self>, key: K, init: impl FnOnce() -> V + Send + 'static)
    where
        K: Clone,
    {
        {
            let mut refreshing = self
                .refreshing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if refreshing.contains(&key) {
                return;
            }
            refreshing.push(key.clone());
        }
        self.refreshes.started.fetch_add(1, Relaxed);
        let inner = Arc::clone(self);
        crate::refresh::spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(init));
            match outcome {
                Ok(value) => {
                    // Stored before the key is let go, so a caller that finds no
                    // refresh running finds the new value.
                    let stored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        inner.insert(key.clone(), value, inner.ttl);
                    }));
                    let counter = if stored.is_ok() {
                        &inner.refreshes.succeeded
                    } else {
                        &inner.refreshes.failed
                    };
                    counter.fetch_add(1, Relaxed);
                }
                Err(_) => {
                    inner.refreshes.failed.fetch_add(1, Relaxed);
                }
            }
            let mut refreshing = inner
                .refreshing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            refreshing.retain(|running| *running != key);
        });
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

    pub(super) fn insert(self: &Arc<Self>, key: K, value: V, ttl: Option<Duration>) -> Option<V> {
        let hash = self.hash(&key);
        let ttl = self.ttl_for(&value, ttl);
        let deadline = self.deadline_at(self.clock.precise_now(), ttl);
        let state = self.shard(hash).write();
        self.store(state, hash, key, value, deadline)
    }

    /// [`Self::insert`] with a map TTL capped at `at_most`, unless `epoch` moved: checked
    /// under the shard's write lock (see [`crate::flight::Epoch`]). Returns whether it
    /// stored.
    #[cfg(feature = "redis")]
    pub(crate) fn insert_unless_moved(
        self: &Arc<Self>,
        key: K,
        value: V,
        at_most: Option<Duration>,
        epoch: crate::flight::Epoch,
    ) -> bool {
        let hash = self.hash(&key);
        let ttl = match (self.ttl, at_most) {
            (Some(ttl), Some(at_most)) => Some(ttl.min(at_most)),
            (ttl, at_most) => at_most.or(ttl),
        };
        let ttl = self.ttl_for(&value, ttl);
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
