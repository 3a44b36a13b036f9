//! [`Bounded`]: a `u64 → u64` cache held to a capacity, as the hit-ratio scenario uses
//! it, and one implementation per contender.
//!
//! Each is its library's documented capacity bound and nothing else: no tuning a user
//! would not find in the README. Stores that expire entries get a TTL far beyond the
//! run, so only the capacity decides what they keep. Stores with `&mut self` lookups
//! (an LRU list moves the entry it finds) sit behind a `Mutex`, as a user sharing them
//! between threads would put them.

use cache_bench::Role;
use cache_core::TtlMap;
use cached::stores::LruTtlCache;
use cached::Cached as _;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The TTL of every store that has one: far beyond any stream, so nothing expires.
const TTL: Duration = Duration::from_secs(3600);

/// A thread-safe, capacity-bounded `u64 → u64` cache.
pub trait Bounded: Sync + Sized {
    /// The column label in tables and the chart's legend.
    const NAME: &'static str;
    /// Ours or a peer (there is no limit row: an unbounded map hits everything).
    const ROLE: Role;

    /// A new, empty store that holds at most `capacity` entries.
    fn build(capacity: usize) -> Self;
    /// The value of `key`, if the store still holds it.
    fn get(&self, key: u64) -> Option<u64>;
    /// Stores `value` under `key`, evicting by the store's own policy when full.
    fn insert(&self, key: u64, value: u64);
    /// Deferred admission and eviction work (moka's pending tasks): run regularly by the
    /// replay, and once before the store is counted. Most stores do it inside each call.
    fn catch_up(&self) {}
    /// Entries held now, to check that the store kept its bound.
    fn len(&self) -> usize;
}

/// Runs a scenario written once for every [`Bounded`]: see [`for_each_bounded`].
pub trait BoundedVisitor {
    /// Called once per store.
    fn visit<B: Bounded>(&mut self);
}

/// Visits every store, ours first and the classic LRU baseline last.
pub fn for_each_bounded(visitor: &mut impl BoundedVisitor) {
    visitor.visit::<CacheCoreBounded>();
    visitor.visit::<MokaBounded>();
    visitor.visit::<QuickCacheBounded>();
    visitor.visit::<CachedLruTtl>();
    visitor.visit::<LruCrate>();
}

/// `cache_core::TtlMap` built with `.capacity(n)`, the map under test.
pub struct CacheCoreBounded(TtlMap<u64, u64>);

impl Bounded for CacheCoreBounded {
    const NAME: &'static str = "cache-core TtlMap";
    const ROLE: Role = Role::Ours;

    fn build(capacity: usize) -> Self {
        CacheCoreBounded(TtlMap::builder().ttl(TTL).capacity(capacity).build())
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// `moka::sync::Cache` with `max_capacity(n)` (TinyLFU admission, LRU eviction).
pub struct MokaBounded(moka::sync::Cache<u64, u64>);

impl Bounded for MokaBounded {
    const NAME: &'static str = "moka sync::Cache";
    const ROLE: Role = Role::Peer;

    fn build(capacity: usize) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(capacity as u64)
            .time_to_live(TTL)
            .build();
        MokaBounded(cache)
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn catch_up(&self) {
        // moka records reads and writes in channels and applies them (admission,
        // eviction, frequency sketch) in batches; left alone it does so only when a
        // channel fills, so it would be measured lagging behind its own policy.
        self.0.run_pending_tasks();
    }
    fn len(&self) -> usize {
        self.0.entry_count() as usize
    }
}

/// `quick_cache::sync::Cache::new(n)` (S3-FIFO: a small probation queue, a main queue
/// and ghost keys of recent evictions); no TTL.
pub struct QuickCacheBounded(quick_cache::sync::Cache<u64, u64>);

impl Bounded for QuickCacheBounded {
    const NAME: &'static str = "quick_cache (no TTL)";
    const ROLE: Role = Role::Peer;

    fn build(capacity: usize) -> Self {
        QuickCacheBounded(quick_cache::sync::Cache::new(capacity))
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// cached's `LruTtlCache` (an LRU list with a TTL) behind a `Mutex`.
pub struct CachedLruTtl(Mutex<LruTtlCache<u64, u64>>);

impl CachedLruTtl {
    fn lock(&self) -> MutexGuard<'_, LruTtlCache<u64, u64>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Bounded for CachedLruTtl {
    const NAME: &'static str = "cached LruTtlCache";
    const ROLE: Role = Role::Peer;

    fn build(capacity: usize) -> Self {
        CachedLruTtl(Mutex::new(LruTtlCache::new(capacity, TTL)))
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.lock().cache_get(&key).copied()
    }
    fn insert(&self, key: u64, value: u64) {
        self.lock().cache_set(key, value);
    }
    fn len(&self) -> usize {
        self.lock().cache_size()
    }
}

/// The `lru` crate's `LruCache` behind a `Mutex`: the classic least-recently-used
/// baseline, no TTL.
pub struct LruCrate(Mutex<lru::LruCache<u64, u64>>);

impl LruCrate {
    fn lock(&self) -> MutexGuard<'_, lru::LruCache<u64, u64>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Bounded for LruCrate {
    const NAME: &'static str = "lru LruCache (no TTL)";
    const ROLE: Role = Role::Peer;

    fn build(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).expect("an LRU needs room for one entry");
        LruCrate(Mutex::new(lru::LruCache::new(capacity)))
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.lock().get(&key).copied()
    }
    fn insert(&self, key: u64, value: u64) {
        self.lock().put(key, value);
    }
    fn len(&self) -> usize {
        self.lock().len()
    }
}
