//! Counters of what a map did. Writers count per shard, beside the shard they already
//! write; lookups count per stripe of threads, so that a hit writes no line that another
//! running thread writes.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a map's counters, from [`TtlMap::stats`](crate::TtlMap::stats).
///
/// - `hits` / `misses`: lookups (`get`, `get_or_insert_with`, …) that found a live
///   value, or did not. `contains_key` counts in neither.
/// - `computations`: runs of the value's computation (`get_or_insert_with`'s `init`
///   and its variants, a `#[ttl_cached]` function's body), whatever they returned, a
///   panic included. Callers that waited for another caller's computation of the same
///   key count as misses, not computations: 50 callers coalesced into one read as 50
///   misses and 1 computation.
/// - `insertions`: values stored, by `insert` or by a computed miss.
/// - `evictions`: live entries removed to stay within the capacity.
/// - `expirations`: entries removed because they expired, whoever removed them (the
///   sweeper, [`sweep`](crate::TtlMap::sweep), or a lookup that found them expired).
///
/// `remove` and `clear` count in neither `evictions` nor `expirations`.
///
/// # Examples
///
/// ```
/// use cache_core::{CacheStats, TtlMap};
///
/// let map = TtlMap::new();
/// map.insert(1, "one");
/// map.get(&1);
/// map.get(&2);
/// assert_eq!(map.get_or_insert_with(3, || "three"), "three");
/// assert_eq!(
///     map.stats(),
///     CacheStats {
///         hits: 1,
///         misses: 2,
///         computations: 1,
///         insertions: 2,
///         evictions: 0,
///         expirations: 0,
///         ..CacheStats::default()
///     }
/// );
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found a live value.
    pub hits: u64,
    /// Lookups that found no live value.
    pub misses: u64,
    /// Runs of a computation of a missing value (see above).
    pub computations: u64,
    /// Values stored.
    pub insertions: u64,
    /// Live entries removed to respect the capacity.
    pub evictions: u64,
    /// Entries removed because their TTL ran out.
    pub expirations: u64,
    /// Lookups of [`TtlMap::get_or_refresh_with`](crate::TtlMap::get_or_refresh_with),
    /// or calls of a `#[ttl_cached(stale_while_revalidate = N)]` function, that
    /// returned a stale value (past its TTL, within the
    /// [stale-while-revalidate](crate::TtlMapBuilder::stale_while_revalidate) window).
    /// Counted apart from hits and misses.
    pub stale_hits: u64,
    /// Background refreshes started: one per stale key at a time, however many
    /// callers found it stale.
    pub refreshes_started: u64,
    /// Background refreshes whose value was stored.
    pub refreshes_succeeded: u64,
    /// Background refreshes that panicked, or (of a `#[ttl_cached]` function) whose
    /// result was not stored (`Err`, `None`, or `ttl_from` said `None`): the stale
    /// value stays until its window ends.
    pub refreshes_failed: u64,
    /// Calls of a `#[ttl_cached(stale_if_error = N)]` function whose body returned
    /// `Err` and that returned the key's earlier `Ok` value instead (one that had
    /// expired less than `N` seconds before). Each is also counted as the miss and
    /// the computation it was; the error itself is not cached.
    pub errors_served_over: u64,
}

impl CacheStats {
    /// The share of lookups that hit, from 0.0 to 1.0 (0.0 before any lookup).
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::CacheStats;
    ///
    /// let stats = CacheStats { hits: 3, misses: 1, ..CacheStats::default() };
    /// assert_eq!(stats.hit_rate(), 0.75);
    /// ```
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

/// Lookup counters of one stripe of threads (see `shard_locks`), on lines of their own.
#[derive(Default, Debug)]
#[repr(align(128))]
pub(crate) struct LookupCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    stale_hits: AtomicU64,
    /// Computations of callers that compute without single flight (no lock to count
    /// them under).
    computations: AtomicU64,
}

impl LookupCounters {
    #[inline]
    pub(crate) fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }
    #[inline]
    pub(crate) fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn stale_hit(&self) {
        self.stale_hits.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn computed(&self) {
        self.computations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_to(&self, total: &mut CacheStats) {
        total.hits += self.hits.load(Ordering::Relaxed);
        total.misses += self.misses.load(Ordering::Relaxed);
        total.stale_hits += self.stale_hits.load(Ordering::Relaxed);
        total.computations += self.computations.load(Ordering::Relaxed);
    }
}

/// One shard's counters of what writers did.
#[derive(Default, Debug)]
pub(crate) struct Counters {
    computations: AtomicU64,
    insertions: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
}

impl Counters {
    /// Counts an insertion; only ever called with the shard's write lock held. So a
    /// plain load and store cannot lose a count, and spare every insert a locked
    /// read-modify-write (~6 ns here: a few percent of a miss).
    pub(crate) fn inserted_under_lock(&self) {
        let insertions = self.insertions.load(Ordering::Relaxed);
        self.insertions.store(insertions + 1, Ordering::Relaxed);
    }
    /// Counts a computation that a caller is about to run; only ever called with the
    /// shard's write lock held (see `inserted_under_lock`).
    pub(crate) fn computed_under_lock(&self) {
        let computations = self.computations.load(Ordering::Relaxed);
        self.computations.store(computations + 1, Ordering::Relaxed);
    }
    pub(crate) fn evicted(&self, count: u64) {
        if count > 0 {
            self.evictions.fetch_add(count, Ordering::Relaxed);
        }
    }
    pub(crate) fn expired(&self, count: u64) {
        if count > 0 {
            self.expirations.fetch_add(count, Ordering::Relaxed);
        }
    }

    pub(crate) fn add_to(&self, total: &mut CacheStats) {
        total.computations += self.computations.load(Ordering::Relaxed);
        total.insertions += self.insertions.load(Ordering::Relaxed);
        total.evictions += self.evictions.load(Ordering::Relaxed);
        total.expirations += self.expirations.load(Ordering::Relaxed);
    }
}
