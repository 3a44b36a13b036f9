//! [`TtlMap`]: the public map, its builder, and the operations that span shards.
//!
//! A map is a fixed array of [`Shard`]s chosen by key hash, so that threads working on
//! different keys rarely touch the same lock or cache line. A lookup takes one shard's
//! read lock, checks the deadline (usually one atomic load of the coarse clock, see
//! `clock.rs`), clones the value and bumps its thread stripe's hit counter: it writes
//! only lines of its own thread's stripe (see `shard_locks.rs`), so lookups on
//! different cores scale, even on the same keys. Writes take one shard's write
//! lock; only capacity-bounded maps keep a map-wide entry count, so that `len()` can
//! never exceed the capacity by more than the inserts in flight.
//!
//! This module never holds two shard locks at once, and never holds one while user
//! code other than `Hash`, `Eq` or `Clone` runs (`init` closures, `Drop` of values).

use crate::flight::{lead_polling, Flight, Leader, Signal};
use crate::hash::{shard_of, KeyHasher, MAX_SHARDS};
use crate::shard::{
    drop_each, new_shards, Entry, IndexPolicy, Shard, ShardWriteGuard, Shards, Swept,
};
use crate::stats::{CacheStats, Counters, LookupCounters};
use crate::sweeper::{self, Sweep};
use crate::sync::shim;
use crate::time::deadline::{deadline_after, expires, is_live};
use crate::time::{Clock, MockClock, Nanos};
use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// The most expired entries removed under one shard lock: a reader that arrives while
/// a million entries expire waits for at most one batch, not for all. On a large map a
/// removal costs a cache miss or two in the table (the deadline queue is read in
/// order), so a batch holds the lock for a microsecond or two: short enough that a
/// waiting reader spins instead of sleeping in the kernel, whose wake-up alone can
/// take tens of microseconds. Measured with the heap index and std locks (`compare --
/// stall`, hits >= 20 µs while 1M entries expire): 15,346 at 128 entries a batch,
/// 5,044 at 8, 1,095 at 4, against about 400 for a map with no sweeper at all.
pub(crate) const SWEEP_BATCH: usize = 4;

/// Shards per available core: enough that two threads on random keys rarely share one.
const SHARDS_PER_CORE: usize = 16;
const MIN_SHARDS: usize = 8;

/// Lock stripes per available core, and their bounds (see [`default_stripe_count`]).
const STRIPES_PER_CORE: usize = 4;
const MIN_STRIPES: usize = 8;
const MAX_STRIPES: usize = 32;

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
///   insert into a full map evicts the entry closest to expiry (for entries without a
///   TTL: the oldest). An insert stores its entry, then evicts, with no lock held in
///   between, so memory can briefly hold one entry per concurrently inserting thread
///   beyond the capacity.
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
/// than that; the coarse clock is kept within 100 ms of real time by the sweeper
/// thread, so this is exact unless the OS starves that thread for over 150 ms.
///
/// A value computed on a miss ([`get_or_insert_with`](Self::get_or_insert_with) and
/// its variants, `#[ttl_cached]`) takes its deadline from the CPU's cycle counter
/// where that is cheaper and steady (x86_64), anchored to the precise clock by the
/// sweeper: it lives its TTL and about 250 µs more (under 0.4 ms), never less. Maps
/// built with a [`MockClock`] read only it, exactly.
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

/// Configures a [`TtlMap`]; from [`TtlMap::builder`].
///
/// # Examples
///
/// ```
/// use cache_core::TtlMap;
/// use std::time::Duration;
///
/// let map: TtlMap<u64, String> = TtlMap::builder()
///     .ttl(Duration::from_secs(60))
///     .capacity(10_000)
///     .build();
/// assert_eq!(map.capacity(), Some(10_000));
/// ```
#[must_use = "a builder does nothing until `.build()`"]
pub struct TtlMapBuilder<K, V> {
    ttl: Option<Duration>,
    capacity: Option<usize>,
    clock: Clock,
    refresh_on_hit: bool,
    _types: PhantomData<fn(K, V)>,
}

impl<K, V> TtlMapBuilder<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The TTL of entries stored by [`TtlMap::insert`] and by computed misses.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    /// use std::time::Duration;
    ///
    /// let map: TtlMap<u8, u8> = TtlMap::builder().ttl(Duration::from_millis(250)).build();
    /// assert_eq!(map.ttl(), Some(Duration::from_millis(250)));
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// At most `capacity` entries: when full, an insert of a new key evicts the entry
    /// closest to expiry (entries without a TTL count as expiring after every entry with
    /// one, oldest first). Evictions are counted in [`CacheStats::evictions`]. A
    /// capacity of 0 stores nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::builder().capacity(2).build();
    /// map.insert("a", 1);
    /// map.insert("b", 2);
    /// map.insert("c", 3); // evicts "a", the oldest
    /// assert_eq!(map.len(), 2);
    /// assert_eq!(map.get("a"), None);
    /// assert_eq!(map.stats().evictions, 1);
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Reads time only from `clock`, exactly, instead of the process clock: for tests.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{MockClock, TtlMap};
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let map = TtlMap::builder().ttl(Duration::from_secs(1)).clock(clock.clone()).build();
    /// map.insert(1, 'x');
    /// clock.advance(Duration::from_secs(1));
    /// assert!(!map.contains_key(&1));
    /// ```
    pub fn clock(mut self, clock: MockClock) -> Self {
        self.clock = Clock::Mock(clock);
        self
    }

    /// Sliding expiry: every hit restarts the entry's TTL (the map's default TTL), so
    /// entries expire only after going unread for a whole TTL.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{MockClock, TtlMap};
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let map = TtlMap::builder()
    ///     .ttl(Duration::from_secs(10))
    ///     .refresh_on_hit(true)
    ///     .clock(clock.clone())
    ///     .build();
    /// map.insert("k", 1);
    /// clock.advance(Duration::from_secs(8));
    /// assert_eq!(map.get("k"), Some(1)); // restarts the 10 s
    /// clock.advance(Duration::from_secs(8));
    /// assert_eq!(map.get("k"), Some(1));
    /// ```
    pub fn refresh_on_hit(mut self, refresh: bool) -> Self {
        self.refresh_on_hit = refresh;
        self
    }

    /// Builds the map.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map: TtlMap<String, u32> = TtlMap::builder().build();
    /// assert!(map.is_empty());
    /// ```
    pub fn build(self) -> TtlMap<K, V> {
        let shard_count = default_shard_count();
        let policy = IndexPolicy {
            index_all: self.capacity.is_some(),
            sliding: self.refresh_on_hit && self.ttl.is_some(),
        };
        let shards = new_shards(shard_count, default_stripe_count(), policy);
        TtlMap {
            inner: Arc::new(Inner {
                lookups: (0..shards.stripes())
                    .map(|_| LookupCounters::default())
                    .collect(),
                shards,
                shard_mask: shard_count - 1,
                hasher: KeyHasher::default(),
                ttl: self.ttl,
                capacity: self.capacity,
                policy,
                clock: self.clock,
                stored: OwnLine(AtomicIsize::new(0)),
                registered: AtomicBool::new(false),
            }),
        }
    }
}

fn default_shard_count() -> usize {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    (cores * SHARDS_PER_CORE)
        .next_power_of_two()
        .clamp(MIN_SHARDS, MAX_SHARDS)
}

/// Stripes of the shard locks (see `shard_locks`): enough that the threads a program
/// runs at once rarely share one, since two that do write the same lines on each hit.
/// Each costs a map one 128-byte line per 16 shards and each write one load.
fn default_stripe_count() -> usize {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    (cores * STRIPES_PER_CORE).clamp(MIN_STRIPES, MAX_STRIPES)
}

/// A number of entries as the signed capacity count (entries never reach `isize::MAX`).
fn as_count(entries: usize) -> isize {
    isize::try_from(entries).unwrap_or(isize::MAX)
}

/// A value on cache lines of its own.
#[repr(align(128))]
struct OwnLine<T>(T);

impl<T> std::ops::Deref for OwnLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The shared part of a map: what the sweeper holds weakly.
pub(crate) struct Inner<K, V> {
    shards: Shards<K, V>,
    shard_mask: usize,
    /// Hits and misses, per stripe of threads (a lookup's guard says which).
    lookups: Box<[LookupCounters]>,
    /// Randomly seeded per map: keys an attacker picks cannot be made to collide.
    hasher: KeyHasher,
    ttl: Option<Duration>,
    capacity: Option<usize>,
    policy: IndexPolicy,
    clock: Clock,
    /// Entries in the tables, live or expired; kept only for capacity-bounded maps.
    /// Written by every insert, so kept off the lines lookups read.
    /// Signed: an eviction claims its decrement before it removes its entry, so a
    /// racing `clear` can take the count below zero for a moment; it must not wrap.
    stored: OwnLine<AtomicIsize>,
    /// Whether the sweeper knows this map.
    registered: AtomicBool,
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
        TtlMapBuilder {
            ttl: None,
            capacity: None,
            clock: Clock::default(),
            refresh_on_hit: false,
            _types: PhantomData,
        }
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
            None => {
                let inner = &self.inner;
                inner.compute_after_miss(hash, key, compute, to_cache, from_cache)
            }
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
                let inner = &self.inner;
                let miss = inner.compute_after_miss_async(hash, key, compute, to_cache, from_cache);
                miss.await
            }
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
    /// that were waiting for this key then run their own `init`).
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
        self.get_or_compute(key, init, |result| result.as_ref().ok().cloned(), Ok)
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
    /// `Ok` is stored and returned, an `Err` returned and not stored.
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
        self.get_or_compute_async(key, init, |result| result.as_ref().ok().cloned(), Ok)
            .await
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
        let stored: usize = self
            .inner
            .shards()
            .map(|shard| shard.read().live_len(now))
            .sum();
        // An insert stores first and evicts right after, so for an instant the tables
        // can hold one entry per inserting thread beyond the capacity; never report it.
        self.inner
            .capacity
            .map_or(stored, |capacity| stored.min(capacity))
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

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    #[inline]
    pub(crate) fn hash<Q: ?Sized + Hash>(&self, key: &Q) -> u64 {
        self.hasher.hash(key)
    }

    #[inline]
    fn shard(&self, hash: u64) -> Shard<'_, K, V> {
        Shard::new(&self.shards, shard_of(hash, self.shard_mask))
    }

    fn shards(&self) -> impl Iterator<Item = Shard<'_, K, V>> {
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
                if self.policy.sliding {
                    // Precise: a sliding deadline must not start from a lagging clock.
                    let now = self.clock.precise_now();
                    entry.extend_deadline(deadline_after(now, self.ttl));
                }
                let value = entry.value.clone();
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

    /// Liveness for lookups. The clock is read only for entries that can expire, so
    /// maps of entries without TTL never pay for it.
    #[inline]
    fn is_live(&self, entry: &Entry<K, V>) -> bool {
        let deadline = entry.deadline();
        !expires(deadline) || self.clock.is_live(deadline)
    }

    /// Passive expiry: a lookup found this key expired, so remove it now.
    fn remove_expired(&self, hash: u64, mut is_key: impl FnMut(&K) -> bool) {
        let shard = self.shard(hash);
        let now = self.clock.precise_now();
        let removed = {
            let mut state = shard.write();
            let removed = match state.find(hash, &mut is_key) {
                Some(entry) if !entry.is_live(now) => state.remove(hash, is_key),
                _ => None,
            };
            self.forget(usize::from(removed.is_some()));
            removed
        };
        if removed.is_some() {
            shard.counters().expired(1);
        }
    }

    pub(crate) fn remove_hashed(&self, hash: u64, is_key: impl FnMut(&K) -> bool) -> Option<V> {
        let shard = self.shard(hash);
        let now = self.clock.precise_now();
        let removed = {
            let mut state = shard.write();
            let removed = state.remove(hash, is_key)?;
            self.forget(1);
            removed
        };
        if removed.is_live(now) {
            Some(removed.value)
        } else {
            // It had expired before anyone removed it: that is an expiration.
            shard.counters().expired(1);
            None
        }
    }

    fn insert(self: &Arc<Self>, key: K, value: V, ttl: Option<Duration>) -> Option<V> {
        let hash = self.hash(&key);
        let deadline = deadline_after(self.clock.precise_now(), ttl);
        let state = self.shard(hash).write();
        self.store(state, hash, key, value, deadline)
    }

    /// Stores an entry in the locked shard of `hash`, releases the lock, then does the
    /// bookkeeping: counters, capacity, waking the sweeper. Returns the replaced value
    /// if it was live.
    fn store(
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
            return None;
        }
        let replaced = state.put(hash, key, value, deadline, self.policy, &self.hasher);
        let over_capacity = replaced.is_none() && self.count_new_entry();
        drop(state);
        if over_capacity {
            self.evict_over_capacity();
        }
        if expires(deadline) && self.clock.wants_sweeper() {
            sweeper::schedule(self, &self.registered);
        }
        match replaced {
            Some(old) if self.is_live(&old) => Some(old.value),
            Some(_expired) => {
                shard.counters().expired(1);
                None
            }
            None => None,
        }
    }

    /// Counts an entry just added, under its shard's lock; whether the map is now over
    /// its capacity. The count changes only under the lock of the shard whose table
    /// changes, so a racing `clear` or removal can never see an entry that is not
    /// counted yet, and the count never wraps below zero (which would evict far below
    /// capacity).
    fn count_new_entry(&self) -> bool {
        self.capacity.is_some_and(|capacity| {
            self.stored.fetch_add(1, Ordering::AcqRel) >= as_count(capacity)
        })
    }

    fn evict_over_capacity(&self) {
        if let Some(capacity) = self.capacity {
            self.evict_over(capacity);
        }
    }

    /// Uncounts removed entries: call it under the lock of the shard they left (see
    /// [`count_new_entry`](Self::count_new_entry)).
    fn forget(&self, removed: usize) {
        if self.capacity.is_some() && removed > 0 {
            self.stored.fetch_sub(as_count(removed), Ordering::AcqRel);
        }
    }

    /// Evicts oldest entries until the map is back within `capacity`. Each eviction is
    /// first claimed on the shared count, so concurrent inserters never evict more
    /// than the excess between them.
    fn evict_over(&self, capacity: usize) {
        // Bounded so that a count disturbed by a racing `clear` cannot spin forever.
        let mut attempts = self.shards.len() * 2 + 8;
        while attempts > 0 {
            attempts -= 1;
            let claimed = self
                .stored
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |stored| {
                    (stored > as_count(capacity)).then(|| stored - 1)
                })
                .is_ok();
            if !claimed {
                return;
            }
            match self.take_oldest() {
                Some((entry, counters)) => {
                    if entry.is_live(self.clock.precise_now()) {
                        counters.evicted(1);
                    } else {
                        counters.expired(1);
                    }
                }
                // A concurrent removal got there first and decremented too: give back.
                None => {
                    self.stored.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
    }

    /// Removes the entry with the earliest deadline across all shards, one shard lock
    /// at a time. A shard's top record is a lower bound of its oldest entry (stale
    /// records are never later than the entry that replaced them), so the shard with
    /// the lowest top holds the oldest entry once its stale records are dropped; if
    /// dropping them shows otherwise, look again.
    fn take_oldest(&self) -> Option<(Entry<K, V>, &Counters)> {
        let mut tops: Vec<Option<Nanos>> = self
            .shards()
            .map(|shard| shard.read().oldest_deadline())
            .collect();
        loop {
            let (chosen, _) = tops
                .iter()
                .enumerate()
                .filter_map(|(at, top)| Some((at, (*top)?)))
                .min_by_key(|(_, top)| *top)?;
            let bound = tops
                .iter()
                .enumerate()
                .filter(|(at, _)| *at != chosen)
                .filter_map(|(_, top)| *top)
                .min()
                .unwrap_or(Nanos::MAX);
            let shard = Shard::new(&self.shards, chosen);
            let taken = shard
                .write()
                .take_oldest_within(bound, self.policy, &self.hasher);
            match taken {
                Ok(entry) => return Some((entry, shard.counters())),
                Err(top) => tops[chosen] = top,
            }
        }
    }

    /// The miss path of single-flight callers, after a lookup missed: join the
    /// computation under way for `key`, or lead it; the leader runs `compute` with no
    /// lock held.
    ///
    /// `to_cache` picks what of the result to store (`None`: store nothing and let a
    /// waiter retry); `from_cache` turns a stored value into the caller's result.
    pub(crate) fn compute_after_miss<R>(
        self: &Arc<Self>,
        hash: u64,
        key: K,
        compute: impl FnOnce() -> R,
        to_cache: impl FnOnce(&R) -> Option<V>,
        from_cache: impl FnOnce(V) -> R,
    ) -> R {
        let me = Leader::this_thread();
        let mut key = key;
        let id = loop {
            match self.join_or_lead(hash, key, me) {
                Step::Stored(value) => return from_cache(value),
                Step::Reentered => return compute(),
                Step::Wait(returned, signal) => match signal.wait() {
                    Some(value) => return from_cache(value),
                    // The leader stored nothing (panic, error): go round, maybe lead.
                    None => key = returned,
                },
                Step::Lead(id) => break id,
            }
        };
        let abandon = AbandonOnDrop::new(self, hash, id);
        let result = compute();
        let value = to_cache(&result);
        abandon.land(value);
        result
    }

    /// [`compute_after_miss`](Self::compute_after_miss) for async callers: waiters
    /// await the leader without blocking a thread, and if the leader's future is
    /// dropped (cancelled) the flight is abandoned, so a waiter takes over. A call for
    /// the same key from inside the leader's own `init` computes its own value, as the
    /// sync form does, instead of awaiting itself.
    pub(crate) async fn compute_after_miss_async<R, F>(
        self: &Arc<Self>,
        hash: u64,
        key: K,
        compute: impl FnOnce() -> F,
        to_cache: impl FnOnce(&R) -> Option<V>,
        from_cache: impl FnOnce(V) -> R,
    ) -> R
    where
        F: Future<Output = R>,
    {
        let me = Leader::new_task();
        let mut key = key;
        let id = loop {
            match self.join_or_lead(hash, key, me) {
                Step::Stored(value) => return from_cache(value),
                Step::Reentered => return compute().await,
                Step::Wait(returned, signal) => match signal.settled().await {
                    Some(value) => return from_cache(value),
                    None => key = returned,
                },
                Step::Lead(id) => break id,
            }
        };
        let abandon = AbandonOnDrop::new(self, hash, id);
        let result = lead_polling(me, compute()).await;
        let value = to_cache(&result);
        abandon.land(value);
        result
    }

    /// Under the shard's write lock: the stored value, or the flight under way for
    /// `key` to wait on, or a new flight led by `me` (which takes the key).
    fn join_or_lead(&self, hash: u64, key: K, me: Leader) -> Step<K, V> {
        let mut state = self.shard(hash).write();
        if let Some(entry) = state.find(hash, |stored| *stored == key) {
            if self.is_live(entry) {
                return Step::Stored(entry.value.clone());
            }
        }
        let under_way = state
            .flights
            .iter_mut()
            .find(|flight| flight.hash == hash && flight.key == key);
        if let Some(flight) = under_way {
            if flight.leader.is_up_the_stack() {
                return Step::Reentered;
            }
            let signal = flight.signal.get_or_insert_with(|| Arc::new(Signal::new()));
            return Step::Wait(key, Arc::clone(signal));
        }
        let id = state.next_flight;
        state.next_flight = id.wrapping_add(1);
        state.flights.push(Flight {
            hash,
            key,
            id,
            signal: None,
            leader: me,
        });
        Step::Lead(id)
    }

    /// Ends flight `id`: takes it out of its shard, stores `value` (if any) under the
    /// same lock, so that no caller can find neither the flight nor the entry, then
    /// wakes the waiters, if any came, once every lock is released (a waker runs
    /// executor code, which may use this map). They are woken even if storing unwinds.
    fn land(self: &Arc<Self>, hash: u64, id: u64, value: Option<V>) {
        struct SettleOnDrop<V: Clone> {
            signal: Option<Arc<Signal<V>>>,
            stored: Option<V>,
        }
        impl<V: Clone> Drop for SettleOnDrop<V> {
            fn drop(&mut self) {
                if let Some(signal) = &self.signal {
                    signal.settle(self.stored.take());
                }
            }
        }

        let deadline = deadline_after(self.clock.deadline_now(), self.ttl);
        // Declared before the guard, so dropped after it, on every path.
        let mut settle = SettleOnDrop {
            signal: None,
            stored: None,
        };
        let mut state = self.shard(hash).write();
        let position = state.flights.iter().position(|flight| flight.id == id);
        let Some(mut flight) = position.map(|at| state.flights.swap_remove(at)) else {
            return;
        };
        settle.signal = flight.signal.take();
        match value {
            Some(value) => {
                if settle.signal.is_some() {
                    settle.stored = Some(value.clone());
                }
                // The replaced value, if any, is dropped after the lock is released.
                let _replaced = self.store(state, hash, flight.key, value, deadline);
            }
            None => {
                drop(state);
                drop(flight);
            }
        }
    }

    pub(crate) fn sweep(&self) -> usize {
        self.sweep_at(self.clock.precise_now(), Patience::UntilDone)
    }

    /// Removes what expired by `now`, a batch per shard at a time, round-robin, so no
    /// shard is locked for more than one batch in a row.
    fn sweep_at(&self, now: Nanos, patience: Patience) -> usize {
        let mut total = 0;
        let mut swept = Swept::with_capacity(SWEEP_BATCH);
        let mut panic = None;
        let mut idle_rounds = 0;
        let mut pending: Vec<Shard<'_, K, V>> = self.shards().collect();
        while !pending.is_empty() {
            let mut progressed = false;
            pending.retain(|shard| {
                // Lookups waiting for this shard (behind our last batch, or an insert) go
                // first: we come back to it next round.
                let Some(mut state) = shard.write_unless_readers_wait() else {
                    return true;
                };
                progressed = true;
                let more =
                    state.take_expired(now, SWEEP_BATCH, self.policy, &self.hasher, &mut swept);
                let count = swept.expired.len();
                self.forget(count);
                drop(state);
                shard.counters().expired(count as u64);
                total += count;
                // Values and spare allocations are dropped here, with no lock held,
                // after the bookkeeping, so a panicking `Drop` leaves the counts right.
                if let Some(caught) = swept.release() {
                    panic.get_or_insert(caught);
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

    fn clear(&self) {
        let mut panic = None;
        for shard in self.shards() {
            let taken = {
                let mut state = shard.write();
                let taken = state.take_all_keeping_capacity();
                self.forget(taken.len());
                taken
            };
            if let Some(caught) = drop_each(taken) {
                panic.get_or_insert(caught);
            }
        }
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
    }

    fn has_expiring(&self) -> bool {
        self.shards().any(|shard| shard.read().index.has_expiring())
    }
}

/// How long a sweep stays with shards it cannot take at once.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Patience {
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

/// What a caller that missed does next.
enum Step<K, V> {
    /// Someone stored the value meanwhile.
    Stored(V),
    /// This thread is already computing this key, further up its own stack.
    Reentered,
    /// Another caller is computing it: wait, and keep the key to retry with.
    Wait(K, Arc<Signal<V>>),
    /// This caller computes it, as listed flight `id`.
    Lead(u64),
}

/// Held by a flight's leader while its computation runs: if the computation panics, or
/// (async) its future is dropped, the flight is abandoned so that a waiter takes over.
struct AbandonOnDrop<'a, K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    inner: &'a Arc<Inner<K, V>>,
    hash: u64,
    /// The flight's id; `None` once landed.
    id: Option<u64>,
}

impl<'a, K, V> AbandonOnDrop<'a, K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(inner: &'a Arc<Inner<K, V>>, hash: u64, id: u64) -> Self {
        AbandonOnDrop {
            inner,
            hash,
            id: Some(id),
        }
    }

    /// The computation finished: land the flight with what it produced.
    fn land(mut self, value: Option<V>) {
        if let Some(id) = self.id.take() {
            self.inner.land(self.hash, id, value);
        }
    }
}

impl<K, V> Drop for AbandonOnDrop<'_, K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.inner.land(self.hash, id, None);
        }
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
