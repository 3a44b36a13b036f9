//! [`TtlMap`]: the public handle, a thin layer over the shared [`Inner`].
//!
//! Where each part lives: `builder.rs` (configuration and the sizes of the fixed
//! parts), `inner.rs` (the shared state and the core operations: lookup, insert,
//! store, removal, clear; a capacity-bounded map's shards evict on their own, see
//! `shard/eviction.rs`), `single_flight.rs` (the shard-side half of `flight/`'s protocol) and `sweep.rs`
//! (removing what expired, for the sweeper and [`TtlMap::sweep`]).
//!
//! This module must never hold a shard lock itself: every locked step is a call into
//! `Inner`, which never holds two at once, nor one while user code other than `Hash`,
//! `Eq` or `Clone` runs.

mod builder;
mod inner;
mod listener;
mod revalidate;
mod single_flight;
mod sweep;

pub use builder::TtlMapBuilder;
use inner::Freshness;
pub(crate) use inner::{Freshness as Found, Inner};
pub use listener::EvictionCause;

use crate::flight::{compute_after_miss, compute_after_miss_async, Landing};
use crate::shard::{drop_each, Shard};
use crate::stats::CacheStats;
use crate::time::deadline::{expires, is_live};
use crate::time::Nanos;
use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

/// A key's value past its deadline and that deadline, read for stale-if-error.
type Earlier<V> = Option<(V, Nanos)>;

/// A concurrent hash map whose entries expire after a time to live (TTL).
///
/// - **Per-entry TTL**: [`insert`](Self::insert) uses the map's default TTL (none: the
///   entry never expires), [`insert_with_ttl`](Self::insert_with_ttl) its own. An entry
///   inserted with TTL `t` at time `T` is live while `now < T + t`; from then on no
///   lookup, [`contains_key`](Self::contains_key) or [`len`](Self::len) sees it.
/// - **Expired memory really goes**: one background thread for the whole process (the
///   sweeper) removes expired entries within about a second even if the map is never
///   touched again. [`sweep`](Self::sweep) does it on demand.
/// - **Capacity**: with [`TtlMapBuilder::capacity`], `len() <= capacity` always; an
///   insert into a full shard evicts, under the same lock, what is least likely to be
///   asked for again (S3-FIFO with TinyLFU admission: keys never read since they came
///   in go first, keys that keep being read stay, and a returning key displaces one
///   only if used more often; see [`TtlMapBuilder::capacity`]).
/// - **Single-flight**: [`get_or_insert_with`](Self::get_or_insert_with) runs `init` once
///   for concurrent misses of one key; the other callers wait for its value.
/// - **Thread safety**: share it by reference or in an `Arc`; no outer lock needed.
///
/// Values are cloned when fetched: wrap large values in [`Arc`].
///
/// # Your `Hash`, `Eq` and `Clone` must not use the same map
///
/// Everything else you give the map (`init` closures, `Drop` of values) runs with no
/// lock held, and may use the map freely. These three run under one shard's lock:
///
/// - a key's `Eq` and a value's `Clone` under the shard's read lock (lookups) or its
///   write lock (writes, removals, misses, sweeps);
/// - a key's `Hash` under the shard's write lock whenever the shard's table grows or
///   shrinks, or its deadline index is rebuilt (not only when you pass the key in).
///
/// If one of them calls into **the same map**, a call that needs that shard's write
/// lock (an insert, a removal, a miss, `clear`, `sweep`) waits for the lock its own
/// thread holds, forever; and even a lookup can wait forever for a writer that came
/// in between. Calling other maps from them is fine. (A panic in them is fine too:
/// it reaches the caller, and the map stays usable.)
///
/// # Clock precision
///
/// Expiry is exact: an entry is never dropped early and never returned late. To stay
/// fast, a lookup reads a coarse clock (one atomic load) for entries more than 250 ms
/// from their deadline, and the precise clock (about 25 ns) only for entries closer
/// than that; the coarse clock is kept within 100 ms of real time by a thread that
/// does nothing else (no user code, no locks), so this is exact unless the OS starves
/// that thread for over 150 ms. Lookups stop trusting it as soon as it is found
/// lagging, and in a child process after `fork()`.
///
/// # `fork()`
///
/// A child process inherits the maps and none of the crate's threads; it restarts
/// the sweeper on its next insert, and a fork waits for the sweeper's batch in
/// progress, so the child never finds a shard locked by it. As with a `Mutex`, a map
/// that one of *your* threads was reading or writing at the instant of the fork can
/// stay locked in the child: fork before other threads use the maps, or `exec` after
/// the fork.
///
/// A value computed on a miss ([`get_or_insert_with`](Self::get_or_insert_with) and
/// its variants, `#[ttl_cached]`) takes its deadline from the CPU's cycle counter
/// where that is cheaper and steady (x86_64), anchored to the precise clock by the
/// ticker: it lives its TTL and about 250 µs more (under 0.4 ms), never less. Maps
/// built with a [`MockClock`](crate::MockClock) read only it, exactly.
///
/// # Examples
///
/// ```
/// use cache_core::TtlMap;
/// use std::time::Duration;
///
/// let sessions = TtlMap::with_ttl(Duration::from_secs(30));
/// sessions.insert("alice", 1);
/// assert_eq!(sessions.get("alice"), Some(1));
/// assert_eq!(sessions.len(), 1);
/// ```
pub struct TtlMap<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> TtlMap<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A map whose entries never expire unless inserted with
    /// [`insert_with_ttl`](Self::insert_with_ttl).
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::new();
    /// map.insert(1, "one");
    /// assert_eq!(map.get(&1), Some("one"));
    /// ```
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A map whose [`insert`](Self::insert) gives every entry this TTL.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    /// use std::time::Duration;
    ///
    /// let map = TtlMap::with_ttl(Duration::from_secs(20));
    /// map.insert("key", 7);
    /// assert!(map.remaining_ttl("key").unwrap() <= Duration::from_secs(20));
    /// ```
    pub fn with_ttl(ttl: Duration) -> Self {
        Self::builder().ttl(ttl).build()
    }

    /// A builder for the TTL, capacity, clock and sliding expiry.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    /// use std::time::Duration;
    ///
    /// let map: TtlMap<u64, u64> = TtlMap::builder().ttl(Duration::from_secs(5)).capacity(100).build();
    /// assert_eq!(map.capacity(), Some(100));
    /// ```
    pub fn builder() -> TtlMapBuilder<K, V> {
        TtlMapBuilder::new()
    }

    /// Stores `value` under `key` with the map's default TTL, replacing any value and
    /// deadline the key had. Returns the previous value if it was still live.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::new();
    /// assert_eq!(map.insert("k", 1), None);
    /// assert_eq!(map.insert("k", 2), Some(1));
    /// assert_eq!(map.get("k"), Some(2));
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.inner.insert(key, value, self.inner.ttl)
    }

    /// Stores `value` under `key` for `ttl`, whatever the map's default TTL. Returns the
    /// previous value if it was still live. A zero TTL stores an entry that is already
    /// expired.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{MockClock, TtlMap};
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let map = TtlMap::builder().clock(clock.clone()).build();
    /// map.insert_with_ttl("short", 1, Duration::from_secs(1));
    /// map.insert("forever", 2);
    /// clock.advance(Duration::from_secs(5));
    /// assert_eq!(map.get("short"), None);
    /// assert_eq!(map.get("forever"), Some(2));
    /// ```
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> Option<V> {
        self.inner.insert(key, value, Some(ttl))
    }

    /// A clone of the live value for `key`. Counts a hit or a miss.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::new();
    /// map.insert(String::from("alice"), 30);
    /// assert_eq!(map.get("alice"), Some(30)); // look up a String key by &str
    /// assert_eq!(map.get("bob"), None);
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let hash = self.inner.hash(key);
        self.inner.get_hashed(hash, |stored| stored.borrow() == key)
    }

    /// Whether `key` has a live value. Counts neither a hit nor a miss, and does not
    /// restart a sliding TTL.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::new();
    /// map.insert(1, ());
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let hash = self.inner.hash(key);
        let state = self.inner.shard(hash).read();
        state
            .find(hash, |stored| stored.borrow() == key)
            .is_some_and(|entry| self.inner.is_live(entry))
    }

    /// Removes `key`, returning its value if it was live.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::new();
    /// map.insert("k", 1);
    /// assert_eq!(map.remove("k"), Some(1));
    /// assert_eq!(map.remove("k"), None);
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let hash = self.inner.hash(key);
        self.inner
            .remove_hashed(hash, |stored| stored.borrow() == key)
    }

    /// The single-flight lookup and miss path of the sync `get_or_*` methods:
    /// `from_cache` turns a stored value into the result, `to_cache` picks what of a
    /// computed result to store.
    fn get_or_compute<R>(
        &self,
        key: K,
        compute: impl FnOnce() -> R,
        to_cache: impl FnOnce(&R) -> Option<V>,
        from_cache: impl FnOnce(V) -> R,
    ) -> R {
        let hash = self.inner.hash(&key);
        match self.inner.get_hashed(hash, |stored| *stored == key) {
            Some(value) => from_cache(value),
            None => compute_after_miss(
                &self.inner,
                hash,
                key,
                compute,
                |result| to_cache(result).map(Landing::new),
                from_cache,
            ),
        }
    }

    /// [`get_or_compute`](Self::get_or_compute) for the async methods.
    async fn get_or_compute_async<R, F>(
        &self,
        key: K,
        compute: impl FnOnce() -> F,
        to_cache: impl FnOnce(&R) -> Option<V>,
        from_cache: impl FnOnce(V) -> R,
    ) -> R
    where
        F: Future<Output = R>,
    {
        let hash = self.inner.hash(&key);
        match self.inner.get_hashed(hash, |stored| *stored == key) {
            Some(value) => from_cache(value),
            None => {
                let miss = compute_after_miss_async(
                    &self.inner,
                    hash,
                    key,
                    compute,
                    |result| to_cache(result).map(Landing::new),
                    from_cache,
                );
                miss.await
            }
        }
    }

    /// The value for `key`, serving a stale one while it is recomputed: for a map
    /// built with [`stale_while_revalidate`](TtlMapBuilder::stale_while_revalidate).
    ///
    /// - A live value is returned, as by [`get`](Self::get).
    /// - A value past its TTL but within the stale window is returned at once, and one
    ///   background refresh of the key starts (however many callers find it stale):
    ///   `init` runs on the crate's refresh threads (at most one per core, named
    ///   `ttl-cached-refresh`, started on first need) and its value is stored with the
    ///   map's TTL; later calls get it. If `init` panics, the stale value stays until
    ///   its window ends, and the failure is counted
    ///   ([`CacheStats::refreshes_failed`]).
    /// - Otherwise (absent, or past TTL + window) it is an ordinary miss:
    ///   [`get_or_insert_with`](Self::get_or_insert_with).
    ///
    /// Without a stale window, this is `get_or_insert_with`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{MockClock, TtlMap};
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let map = TtlMap::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_while_revalidate(Duration::from_secs(30))
    ///     .clock(clock.clone())
    ///     .build();
    /// assert_eq!(map.get_or_refresh_with(1, || "v1"), "v1"); // a miss: computed here
    /// clock.advance(Duration::from_secs(70));
    /// assert_eq!(map.get_or_refresh_with(1, || "v2"), "v1"); // stale, refreshing
    /// while map.stats().refreshes_succeeded == 0 {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(map.get(&1), Some("v2"));
    /// ```
    pub fn get_or_refresh_with(&self, key: K, init: impl FnOnce() -> V + Send + 'static) -> V
    where
        K: Clone,
    {
        let hash = self.inner.hash(&key);
        match self.inner.lookup_fresh(hash, |stored| *stored == key) {
            Freshness::Fresh(value) => value,
            Freshness::Stale(value) => {
                self.inner
                    .start_refresh(key, move || Some(Landing::new(init())));
                value
            }
            Freshness::Absent => self.get_or_insert_with(key, init),
        }
    }

    /// The live value for `key`, or the value of `init()`, stored under `key` with the
    /// map's default TTL.
    ///
    /// **Single-flight**: when several threads miss the same key at once, `init` runs
    /// once and every one of them gets its value; different keys never wait for each
    /// other. No lock is held while `init` runs, so `init` may use the map freely.
    ///
    /// - If `init` panics, the panic reaches this caller, nothing is stored, and one
    ///   waiting caller (if any) runs its own `init` instead.
    /// - If `init` calls `get_or_insert_with` for the **same key on the same thread**
    ///   (re-entrancy), the inner call does not wait for itself: it runs its own `init`
    ///   and returns that value without storing it; the outer call stores its result.
    /// - Two threads whose `init`s each wait for the key the other is computing deadlock,
    ///   as two threads locking two mutexes in opposite orders would.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let squares = TtlMap::new();
    /// assert_eq!(squares.get_or_insert_with(12, || 12 * 12), 144);
    /// assert_eq!(squares.get_or_insert_with(12, || unreachable!()), 144);
    /// ```
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        self.get_or_compute(key, init, |value| Some(value.clone()), |value| value)
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) for a fallible `init`: an
    /// `Ok` value is stored and returned; an `Err` is returned and not stored (callers
    /// that were waiting for this key then run their own `init`). In a map built with
    /// [`stale_if_error`](TtlMapBuilder::stale_if_error), an `Err` is answered with the
    /// key's value that expired less than that window ago, if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let parsed = TtlMap::new();
    /// let bad: Result<i32, _> = parsed.try_get_or_insert_with("x", || "x".parse::<i32>());
    /// assert!(bad.is_err());
    /// assert!(parsed.is_empty());
    /// assert_eq!(parsed.try_get_or_insert_with("7", || "7".parse::<i32>()), Ok(7));
    /// ```
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if self.inner.stale_if_error.is_zero() {
            return self.get_or_compute(key, init, |result| result.as_ref().ok().cloned(), Ok);
        }
        let (hash, earlier) = match self.hit_or_earlier(&key) {
            Ok(value) => return Ok(value),
            Err(missed) => missed,
        };
        let result = compute_after_miss(&self.inner, hash, key, init, Self::ok_landing, Ok);
        self.serve_over(result, earlier)
    }

    /// For stale-if-error: the live value, or the miss (the key's hash, and its value
    /// that expired within the window, read before `init` runs).
    fn hit_or_earlier(&self, key: &K) -> Result<V, (u64, Earlier<V>)> {
        let hash = self.inner.hash(key);
        match self.inner.get_hashed(hash, |stored| stored == key) {
            Some(value) => Ok(value),
            None => Err((
                hash,
                self.inner.stale_snapshot(hash, |stored| stored == key),
            )),
        }
    }

    /// What a fallible `init` stores: its `Ok` value.
    fn ok_landing<E>(result: &Result<V, E>) -> Option<Landing<V>> {
        result.as_ref().ok().cloned().map(Landing::new)
    }

    /// `result`, or in place of its `Err`, the `earlier` value (read before `init`
    /// ran) if it expired less than the map's stale-if-error window ago.
    fn serve_over<E>(&self, result: Result<V, E>, earlier: Earlier<V>) -> Result<V, E> {
        match (result, earlier) {
            (Err(_), Some((value, deadline)))
                if self.inner.within(deadline, self.inner.stale_if_error) =>
            {
                self.inner.count_error_served_over();
                Ok(value)
            }
            (result, _) => result,
        }
    }

    /// The async form of [`get_or_insert_with`](Self::get_or_insert_with): on a miss,
    /// awaits `init()` and stores its output. Runtime-agnostic.
    ///
    /// - A hit completes at once, without waiting on anything.
    /// - Single-flight across tasks: concurrent misses of one key await one `init`
    ///   future; the other callers *await* its value (they never block a thread).
    /// - No lock is held across an `.await`.
    /// - If the task running `init` is cancelled (its future dropped) or panics, nothing
    ///   is stored and a waiting caller runs its own `init`; no waiter hangs.
    /// - The returned future is `Send` when `init`'s future is.
    /// - Do not mix the two forms for one key on one thread: a sync
    ///   [`get_or_insert_with`](Self::get_or_insert_with) that finds this key being
    ///   computed by a task suspended on the same thread blocks that thread, and with it
    ///   the task it waits for (a single-threaded runtime would hang).
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Waker};
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = Context::from_waker(Waker::noop());
    /// #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v } }
    /// # }
    ///
    /// let users = TtlMap::new();
    /// let name = block_on(users.get_or_insert_with_async(7, || async { "ada".to_owned() }));
    /// assert_eq!(name, "ada");
    /// assert_eq!(users.get(&7).as_deref(), Some("ada"));
    /// ```
    pub async fn get_or_insert_with_async<F>(&self, key: K, init: impl FnOnce() -> F) -> V
    where
        F: Future<Output = V>,
    {
        self.get_or_compute_async(key, init, |value| Some(value.clone()), |value| value)
            .await
    }

    /// The async form of [`try_get_or_insert_with`](Self::try_get_or_insert_with): an
    /// `Ok` is stored and returned, an `Err` returned and not stored (or answered with
    /// an earlier value, with [`stale_if_error`](TtlMapBuilder::stale_if_error)).
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Waker};
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = Context::from_waker(Waker::noop());
    /// #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v } }
    /// # }
    ///
    /// let pages: TtlMap<&str, String> = TtlMap::new();
    /// let failed = block_on(pages.try_get_or_insert_with_async("/", || async { Err("timeout") }));
    /// assert_eq!(failed, Err("timeout"));
    /// assert!(pages.is_empty());
    /// ```
    pub async fn try_get_or_insert_with_async<F, E>(
        &self,
        key: K,
        init: impl FnOnce() -> F,
    ) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        if self.inner.stale_if_error.is_zero() {
            return self
                .get_or_compute_async(key, init, |result| result.as_ref().ok().cloned(), Ok)
                .await;
        }
        let (hash, earlier) = match self.hit_or_earlier(&key) {
            Ok(value) => return Ok(value),
            Err(missed) => missed,
        };
        let result =
            compute_after_miss_async(&self.inner, hash, key, init, Self::ok_landing, Ok).await;
        self.serve_over(result, earlier)
    }

    /// Removes every entry (their values are dropped before this returns). A
    /// computation under way in `get_or_insert_with` still stores its value when it ends.
    ///
    /// Like `HashMap::clear`, it keeps the tables' allocation, so that refilling does not
    /// grow them again; the next sweep (the sweeper's, or [`sweep`](Self::sweep))
    /// gives back the memory of tables left sparse.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::new();
    /// map.insert(1, 1);
    /// map.insert(2, 2);
    /// map.clear();
    /// assert!(map.is_empty());
    /// ```
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// Keeps only the live entries for which `keep` returns `true`, and removes the
    /// rest (expired entries leave too): bulk invalidation, e.g. every entry of one
    /// tenant. One pass over the entries, a shard at a time: `keep` runs with that
    /// shard's write lock held, so it must not use this map (as for a key's `Eq`), and
    /// lookups of that shard wait for it; the removed values are dropped after the
    /// lock is released. Removals count in neither `evictions` nor `expirations`
    /// (expired entries count as expirations). Entries inserted into a shard already
    /// visited while it runs are kept.
    ///
    /// If `keep` panics, the panic reaches the caller once the shard it happened in
    /// is consistent: what it refused there is removed, later shards are untouched.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::new();
    /// for id in 0..10 {
    ///     map.insert(("tenant-a", id), id);
    ///     map.insert(("tenant-b", id), id);
    /// }
    /// map.retain(|(tenant, _), _| *tenant != "tenant-a");
    /// assert_eq!(map.len(), 10);
    /// assert_eq!(map.get(&("tenant-a", 3)), None);
    /// assert_eq!(map.get(&("tenant-b", 3)), Some(3));
    /// ```
    pub fn retain(&self, keep: impl FnMut(&K, &V) -> bool) {
        self.inner.retain(keep);
    }

    /// The number of live entries: expired entries are never counted. Reading only:
    /// it takes each shard's read lock in turn and removes nothing (expired entries
    /// leave through lookups, writes, the sweeper and [`sweep`](Self::sweep)); it
    /// costs a pass over the entries of shards that hold expiring ones.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{MockClock, TtlMap};
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let map = TtlMap::builder().ttl(Duration::from_secs(1)).clock(clock.clone()).build();
    /// map.insert(1, 1);
    /// assert_eq!(map.len(), 1);
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(map.len(), 0);
    /// assert_eq!(map.stats().expirations, 0, "len() removed nothing");
    /// ```
    pub fn len(&self) -> usize {
        let now = self.inner.clock.precise_now();
        // Each shard evicts under the same lock it inserts with, so no shard is ever
        // seen over its quota, and the quotas add up to the capacity.
        self.inner
            .shards()
            .map(|shard| shard.read().live_len(now))
            .sum()
    }

    /// Whether the map has no live entries. Reading only, like [`len`](Self::len).
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map: TtlMap<u8, u8> = TtlMap::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        let now = self.inner.clock.precise_now();
        self.inner
            .shards()
            .all(|shard| shard.read().live_len(now) == 0)
    }

    /// Removes every expired entry now and returns how many. The background sweeper
    /// does this about every 100 ms; call it to reclaim memory at a moment you choose.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{MockClock, TtlMap};
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let map = TtlMap::builder().ttl(Duration::from_secs(1)).clock(clock.clone()).build();
    /// map.insert(1, 1);
    /// map.insert(2, 2);
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(map.sweep(), 2);
    /// assert_eq!(map.stats().expirations, 2);
    /// ```
    pub fn sweep(&self) -> usize {
        self.inner.sweep()
    }

    /// A snapshot of the map's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::new();
    /// map.get_or_insert_with(1, || 10);
    /// map.get_or_insert_with(1, || 10);
    /// let stats = map.stats();
    /// assert_eq!((stats.hits, stats.misses, stats.insertions), (1, 1, 1));
    /// ```
    pub fn stats(&self) -> CacheStats {
        let mut total = CacheStats::default();
        for shard in self.inner.shards() {
            shard.counters().add_to(&mut total);
        }
        for lookups in self.inner.lookups.iter() {
            lookups.add_to(&mut total);
        }
        self.inner.refreshes.add_to(&mut total);
        total
    }

    /// How long `key` stays live: `None` if it has no live value, `Some(Duration::MAX)`
    /// if it never expires. Counts neither a hit nor a miss.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{MockClock, TtlMap};
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let map = TtlMap::builder().clock(clock.clone()).build();
    /// map.insert_with_ttl("a", 1, Duration::from_secs(10));
    /// map.insert("b", 2);
    /// clock.advance(Duration::from_secs(4));
    /// assert_eq!(map.remaining_ttl("a"), Some(Duration::from_secs(6)));
    /// assert_eq!(map.remaining_ttl("b"), Some(Duration::MAX));
    /// assert_eq!(map.remaining_ttl("c"), None);
    /// ```
    pub fn remaining_ttl<Q>(&self, key: &Q) -> Option<Duration>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let hash = self.inner.hash(key);
        let shard = self.inner.shard(hash);
        let now = self.inner.clock.precise_now();
        let state = shard.read();
        let deadline = state
            .find(hash, |stored| stored.borrow() == key)?
            .deadline();
        if !is_live(deadline, now) {
            None
        } else if expires(deadline) {
            Some(Duration::from_nanos(deadline - now))
        } else {
            Some(Duration::MAX)
        }
    }

    /// The default TTL given to [`insert`](Self::insert), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// assert_eq!(TtlMap::<u8, u8>::new().ttl(), None);
    /// ```
    pub fn ttl(&self) -> Option<Duration> {
        self.inner.ttl
    }

    /// The capacity bound, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// assert_eq!(TtlMap::<u8, u8>::builder().capacity(3).build().capacity(), Some(3));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.inner.capacity
    }

    /// A copy of every live entry, in no particular order.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::new();
    /// map.insert(1, 'a');
    /// map.insert(2, 'b');
    /// let mut entries = map.entries();
    /// entries.sort();
    /// assert_eq!(entries, [(1, 'a'), (2, 'b')]);
    /// ```
    pub fn entries(&self) -> Vec<(K, V)>
    where
        K: Clone,
    {
        let now = self.inner.clock.precise_now();
        let mut entries = Vec::new();
        for shard in self.inner.shards() {
            let state = shard.read();
            entries.extend(
                state
                    .table
                    .iter()
                    .filter(|entry| entry.is_live(now))
                    .map(|entry| (entry.key.clone(), entry.value.clone())),
            );
        }
        entries
    }

    pub(crate) fn inner(&self) -> &Arc<Inner<K, V>> {
        &self.inner
    }
}

impl<K, V> Default for TtlMap<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Same as [`TtlMap::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> fmt::Debug for TtlMap<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Shows the configuration, live length and counters, not the entries.
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map: TtlMap<u8, u8> = TtlMap::new();
    /// assert!(format!("{map:?}").starts_with("TtlMap { len: 0"));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlMap")
            .field("len", &self.len())
            .field("ttl", &self.inner.ttl)
            .field("capacity", &self.inner.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<K, V> Drop for TtlMap<K, V> {
    /// Drops every value now, on this thread, even if the sweeper is looking at the
    /// map at this moment and briefly holds a reference to its shards.
    fn drop(&mut self) {
        let mut panic = None;
        for shard in Shard::all(&self.inner.shards) {
            let taken = shard.write().take_all();
            if let Some(caught) = drop_each(taken) {
                panic.get_or_insert(caught);
            }
        }
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
    }
}

#[cfg(test)]
mod tests;
