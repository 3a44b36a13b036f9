//! [`TtlMapBuilder`]: a map's TTL, capacity, clock and sliding expiry, and the sizes
//! of its fixed parts (shards, lock stripes) chosen from the core count.
//!
//! This module must never decide anything per entry: it only builds.

use super::inner::{Inner, StaleCounters, ValueTtl};
use super::listener::{EvictionCause, Listener};
use super::TtlMap;
use crate::hash::{KeyHasher, MAX_SHARDS};
use crate::shard::{new_shards, IndexPolicy};
use crate::stats::LookupCounters;
use crate::time::deadline::{duration_to_nanos, NEVER};
use crate::time::jitter::Jitter;
use crate::time::{Clock, MockClock};
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Shards per available core: enough that two threads on random keys rarely share one.
const SHARDS_PER_CORE: usize = 16;
const MIN_SHARDS: usize = 8;
/// The most shards an unbounded map has (a bounded one may have up to twice its
/// default count: see [`bounded_shard_count`]).
const MAX_DEFAULT_SHARDS: usize = MAX_SHARDS / 2;

/// A capacity-bounded map has fewer shards when its capacity is small, so that each
/// shard's quota stays at least this: every shard evicts on its own, and a policy run
/// over a handful of entries remembers too little to choose well.
const MIN_QUOTA: usize = 64;

/// How full a bounded shard's table is at its quota (numerator, denominator): high,
/// for memory, but short of hashbrown's 7/8, where the deleted-slot markers eviction
/// leaves behind would make it double the table. Measured in `compare -- ratio`'s
/// memory table after many evictions (a table that doubled shows at once).
const QUOTA_LOAD: (usize, usize) = (3, 4);

/// Lock stripes per available core, and their bounds (see [`default_stripe_count`]).
const STRIPES_PER_CORE: usize = 4;
const MIN_STRIPES: usize = 8;
const MAX_STRIPES: usize = 32;

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
    listener: Option<Listener<K, V>>,
    jitter: Option<Jitter>,
    stale_window: Duration,
    /// How long past its deadline an entry is kept for `stale_if_error` (the map
    /// keeps it for the longer of this and `stale_window`).
    stale_if_error: Duration,
    value_ttl: Option<ValueTtl<V>>,
    _types: PhantomData<fn(K, V)>,
}

impl<K, V> TtlMapBuilder<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder with no TTL, no capacity, the process clock, and no sliding expiry.
    pub(super) fn new() -> Self {
        TtlMapBuilder {
            ttl: None,
            capacity: None,
            clock: Clock::default(),
            refresh_on_hit: false,
            listener: None,
            jitter: None,
            stale_window: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            value_ttl: None,
            _types: PhantomData,
        }
    }

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

    /// At most `capacity` entries (`len() <= capacity`, always). What is evicted
    /// first is what is least likely to be asked for again, by S3-FIFO: a new key
    /// starts in a small probation queue and is evicted from there unless it is read
    /// again before its turn comes; keys read again move to the main queue, where a
    /// key leaves only after going a whole round without a read. So one-off keys (a
    /// scan) never push out the keys that keep being read. A key evicted young but
    /// asked for again comes back into the main queue if a frequency sketch (TinyLFU)
    /// says it was used more often than the entry it would replace, so that when all
    /// keys are equally frequent (a loop a little larger than the capacity) the map
    /// keeps a fixed set rather than cycling through all of them. Expired entries are
    /// never served, whatever the policy thinks of them.
    ///
    /// The capacity is split into equal quotas, one per shard, and a full shard evicts
    /// from itself, under the lock its insert already holds: an eviction never visits
    /// another shard. (So a map can evict before `len()` reaches `capacity`, when the
    /// keys happen to crowd one shard.) Evictions are counted in
    /// [`CacheStats::evictions`](crate::CacheStats::evictions). A capacity of 0 stores
    /// nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::TtlMap;
    ///
    /// let map = TtlMap::builder().capacity(2).build();
    /// map.insert("a", 1);
    /// map.insert("b", 2);
    /// map.get("a"); // "a" is read again: it stays
    /// map.insert("c", 3); // evicts "b", never read
    /// assert_eq!(map.len(), 2);
    /// assert_eq!(map.get("b"), None);
    /// assert_eq!(map.get("a"), Some(1));
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
    /// Keeps each entry `window` past its TTL, to be served stale by
    /// [`TtlMap::get_or_refresh_with`] while one background refresh recomputes it
    /// (RFC 5861's stale-while-revalidate). Every other lookup ([`TtlMap::get`],
    /// [`TtlMap::get_or_insert_with`], …) still treats the entry as expired at its TTL:
    /// only the refreshing call serves stale values. After TTL + `window` the entry is
    /// gone (the sweeper frees it then), and a call is an ordinary miss.
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
    ///     .stale_while_revalidate(Duration::from_secs(5))
    ///     .clock(clock.clone())
    ///     .build();
    /// map.insert("rate", 1.10);
    /// clock.advance(Duration::from_secs(12));
    /// assert_eq!(map.get("rate"), None); // past its TTL for every other lookup
    /// // Served at once, while a background thread computes the new value:
    /// assert_eq!(map.get_or_refresh_with("rate", || 1.12), 1.10);
    /// ```
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.stale_window = window;
        self
    }

    /// Stale-if-error (RFC 5861's name): when the `init` of
    /// [`try_get_or_insert_with`](TtlMap::try_get_or_insert_with) (or its async form)
    /// fails, and the key had a value that expired less than `window` ago, the call
    /// returns that value instead of the error, and counts the error in
    /// [`CacheStats::errors_served_over`](crate::CacheStats::errors_served_over).
    ///
    /// For this, each entry stays `window` past its TTL, readable by this alone (and by
    /// [`get_or_refresh_with`](TtlMap::get_or_refresh_with) within its own window):
    /// every other lookup treats it as expired at its TTL, so no other call returns a
    /// value past its deadline. The `Err` itself is not stored, and the earlier value
    /// stays for the rest of its window. `#[ttl_cached(stale_if_error = N)]` is built
    /// on it.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{MockClock, TtlMap};
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let rates = TtlMap::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_if_error(Duration::from_secs(600))
    ///     .clock(clock.clone())
    ///     .build();
    /// let fetched: Result<f64, &str> = rates.try_get_or_insert_with("EUR", || Ok(1.08));
    /// assert_eq!(fetched, Ok(1.08));
    /// clock.advance(Duration::from_secs(90)); // expired 30 s ago
    /// assert_eq!(rates.get("EUR"), None);
    /// // The rates service is down: the last good rate is served over the error.
    /// assert_eq!(rates.try_get_or_insert_with("EUR", || Err("timeout")), Ok(1.08));
    /// assert_eq!(rates.stats().errors_served_over, 1);
    /// clock.advance(Duration::from_secs(600)); // expired 630 s ago: past the window
    /// assert_eq!(rates.try_get_or_insert_with("EUR", || Err("timeout")), Err("timeout"));
    /// ```
    pub fn stale_if_error(mut self, window: Duration) -> Self {
        self.stale_if_error = window;
        self
    }

    /// Caps the TTL of the values `rule` names (`Some(cap)`; `None`: the TTL they are
    /// stored with): for generated code (`err_secs`, `none_secs`).
    pub(crate) fn value_ttl(mut self, rule: ValueTtl<V>) -> Self {
        self.value_ttl = Some(rule);
        self
    }

    /// Spreads expiry: each stored entry's TTL (the map's, or one given to
    /// [`TtlMap::insert_with_ttl`]) is drawn uniformly from `[ttl × (1 − fraction),
    /// ttl]`, so that entries stored together (a cache warmed at start-up, a burst of
    /// misses) do not all expire, and send their recomputations to the source, at the
    /// same moment. Never longer than the TTL: an entry is never served past it.
    ///
    /// A jittered map's deadlines arrive out of order, so about half its deadline
    /// records go to the index's heap (16 bytes each) instead of its queue (8).
    ///
    /// # Panics
    ///
    /// If `fraction` is not strictly between 0 and 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{MockClock, TtlMap};
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let map = TtlMap::builder()
    ///     .ttl(Duration::from_secs(100))
    ///     .jitter(0.2)
    ///     .clock(clock.clone())
    ///     .build();
    /// for key in 0..1_000 {
    ///     map.insert(key, key);
    /// }
    /// clock.advance(Duration::from_secs(80)); // every TTL is at least 80 s
    /// assert_eq!(map.len(), 1_000);
    /// clock.advance(Duration::from_secs(10)); // and they end spread over 80..=100 s
    /// assert!(map.len() > 200 && map.len() < 800);
    /// clock.advance(Duration::from_secs(10));
    /// assert_eq!(map.len(), 0);
    /// ```
    pub fn jitter(mut self, fraction: f64) -> Self {
        let jitter = Jitter::new(fraction);
        assert!(
            jitter.is_some(),
            "TtlMapBuilder::jitter: the fraction must be strictly between 0 and 1, got {fraction}"
        );
        self.jitter = jitter;
        self
    }

    /// Calls `listener(&key, value, cause)` for every entry that leaves the map, with
    /// why it left ([`EvictionCause`]): expired (swept, or found expired by a lookup),
    /// evicted for capacity, removed (or refused by [`TtlMap::retain`]), replaced by a
    /// new value, or cleared. Entries still in the map when it is dropped are dropped
    /// with it, unreported.
    ///
    /// The listener runs on the thread that made the entry leave (the sweeper's, for
    /// expiry in the background), after the map's lock is released, so it may use the
    /// map. It gets the value itself; where the caller gets it back too
    /// ([`TtlMap::remove`], [`TtlMap::insert`]), the listener gets a clone. A listener
    /// that panics loses nothing: every other entry is still reported, and the panic
    /// reaches the caller that made the entries leave once they all are (on the
    /// sweeper, it is caught). A slow listener delays the sweeping of other maps by at
    /// most one batch of entries: the sweeper moves on, and comes back for the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::{EvictionCause, TtlMap};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let evicted = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&evicted);
    /// let map = TtlMap::builder()
    ///     .capacity(100)
    ///     .on_evict(move |_key: &u64, _value: u64, cause| {
    ///         if cause == EvictionCause::Capacity {
    ///             counter.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .build();
    /// for key in 0..150 {
    ///     map.insert(key, key);
    /// }
    /// assert_eq!(evicted.load(Ordering::Relaxed), 50);
    /// ```
    pub fn on_evict(
        mut self,
        listener: impl Fn(&K, V, EvictionCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Box::new(listener));
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
        let shard_count = match self.capacity {
            Some(capacity) => bounded_shard_count(capacity),
            None => default_shard_count(),
        };
        let policy = IndexPolicy {
            sliding: self.refresh_on_hit && self.ttl.is_some(),
        };
        let capacity = self.capacity.unwrap_or(0);
        // Equal quotas that add up to the capacity exactly.
        let quotas = (0..shard_count)
            .map(|shard| capacity / shard_count + usize::from(shard < capacity % shard_count));
        let shards = new_shards(
            shard_count,
            default_stripe_count(),
            policy,
            quotas,
            self.capacity.is_some(),
        );
        TtlMap {
            inner: Arc::new(Inner {
                lookups: (0..shards.stripes())
                    .map(|_| LookupCounters::default())
                    .collect(),
                shards,
                shard_count,
                hasher: KeyHasher::default(),
                ttl: self.ttl,
                capacity: self.capacity,
                policy,
                clock: self.clock,
                listener: self.listener,
                jitter: self.jitter,
                stale_window: duration_to_nanos(self.stale_window.max(self.stale_if_error))
                    .min(NEVER),
                stale_if_error: self.stale_if_error,
                revalidate_window: duration_to_nanos(self.stale_window).min(NEVER),
                refreshing: Mutex::default(),
                refreshes: StaleCounters::default(),
                value_ttl: self.value_ttl,
                registered: AtomicBool::new(false),
            }),
        }
    }
}

/// The shard count of a map of `capacity` entries: the default count, fewer for a
/// small capacity (as many as keep every quota at least [`MIN_QUOTA`]), and for a
/// large one up to twice as many, so that each quota fills [`QUOTA_LOAD`] of a
/// power-of-two table (hashbrown's tables double: a quota a little over a power of
/// two's 7/8 would leave its table nearly half empty; at 1M `u64 → u64` entries that
/// was 52 of the 64 bytes an entry may take).
fn bounded_shard_count(capacity: usize) -> usize {
    let preferred = default_shard_count();
    let most = (capacity / MIN_QUOTA).clamp(1, MAX_SHARDS);
    if most <= preferred {
        // Fewer, larger quotas evict better (and a power of two, as unbounded maps).
        return 1 << (usize::BITS - 1 - most.leading_zeros());
    }
    // The largest power-of-two table whose share at QUOTA_LOAD is at most the quota
    // at the preferred count; then as many shards as give quotas no larger.
    let preferred_quota = capacity / preferred;
    let mut buckets = preferred_quota.next_power_of_two();
    while buckets * QUOTA_LOAD.0 / QUOTA_LOAD.1 > preferred_quota && buckets > 1 {
        buckets /= 2;
    }
    let quota = (buckets * QUOTA_LOAD.0 / QUOTA_LOAD.1).max(1);
    capacity.div_ceil(quota).clamp(preferred, most)
}

fn default_shard_count() -> usize {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    (cores * SHARDS_PER_CORE)
        .next_power_of_two()
        .clamp(MIN_SHARDS, MAX_DEFAULT_SHARDS)
}

/// Stripes of the shard locks (see `shard_locks`): enough that the threads a program
/// runs at once rarely share one, since two that do write the same lines on each hit.
/// Each costs a map one 128-byte line per 16 shards and each write one load.
fn default_stripe_count() -> usize {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    (cores * STRIPES_PER_CORE).clamp(MIN_STRIPES, MAX_STRIPES)
}
