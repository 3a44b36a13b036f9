//! [`Store`]: a `u64 → u64` map with a TTL, built fresh for a scenario, and one
//! implementation per contender.
//!
//! Each implementation is the plain, documented use of its library: no tuning a user
//! would not find in the README. Stores without expiry (quick_cache, the thread-local
//! limit) say so in [`Store::EXPIRES`]; their TTL argument is ignored.

use crate::Role;
use cache_core::TtlMap;
use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A thread-safe `u64 → u64` map with a TTL, as the scenarios use it.
pub trait Store: Sync + Sized {
    /// The row label in tables and the chart.
    const NAME: &'static str;
    /// Ours, a peer, or the limit.
    const ROLE: Role;
    /// Whether entries expire; `false` for stores that ignore the TTL.
    const EXPIRES: bool;

    /// A new, empty store whose entries live for `ttl`. `capacity` is the most
    /// entries the scenario will hold, for stores that must be told a bound.
    fn build(ttl: Duration, capacity: usize) -> Self;
    /// The live value of `key`.
    fn get(&self, key: u64) -> Option<u64>;
    /// Stores `value` under `key`, replacing any previous value.
    fn insert(&self, key: u64, value: u64);
    /// The live value of `key`, or `init()` stored under it.
    fn get_or_insert_with(&self, key: u64, init: impl FnOnce() -> u64) -> u64;
    /// Finishes deferred bookkeeping (moka's pending tasks) so that memory figures
    /// count what the store really holds. Most stores have none.
    fn settle(&self) {}
}

/// Runs a scenario written once for every [`Store`]: see [`for_each_store`].
pub trait StoreVisitor {
    /// Called once per implementation.
    fn visit<S: Store>(&mut self);
}

/// Visits every store, ours first and the limit last.
pub fn for_each_store(visitor: &mut impl StoreVisitor) {
    visitor.visit::<CacheCoreMap>();
    visitor.visit::<MutexHashMap<u64, u64>>();
    visitor.visit::<MokaCache>();
    visitor.visit::<CachedShardedTtl>();
    visitor.visit::<QuickCache>();
    visitor.visit::<ThreadLocalHashMap>();
}

/// `cache_core::TtlMap`, the map under test.
pub struct CacheCoreMap(TtlMap<u64, u64>);

impl Store for CacheCoreMap {
    const NAME: &'static str = "cache-core TtlMap";
    const ROLE: Role = Role::Ours;
    const EXPIRES: bool = true;

    fn build(ttl: Duration, _capacity: usize) -> Self {
        CacheCoreMap(TtlMap::with_ttl(ttl))
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    #[inline]
    fn get_or_insert_with(&self, key: u64, init: impl FnOnce() -> u64) -> u64 {
        self.0.get_or_insert_with(key, init)
    }
}

/// The hand-written alternative: one `Mutex` around a std `HashMap` of
/// `(value, deadline)`, expired entries ignored by lookups and never removed.
pub struct MutexHashMap<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    ttl: Duration,
}

impl<K: Hash + Eq, V: Clone> MutexHashMap<K, V> {
    /// An empty map whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        MutexHashMap {
            entries: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// The live value of `key`, or `init()` stored under `to_owned(key)`. `init` runs
    /// under the lock, as in the simplest hand-written memoization.
    pub fn get_or_insert_with<Q>(
        &self,
        key: &Q,
        to_owned: impl FnOnce(&Q) -> K,
        init: impl FnOnce() -> V,
    ) -> V
    where
        K: std::borrow::Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match entries.get(key) {
            Some((value, deadline)) if now < *deadline => value.clone(),
            _ => {
                let value = init();
                entries.insert(to_owned(key), (value.clone(), now + self.ttl));
                value
            }
        }
    }

    /// Forgets every entry and frees the table.
    pub fn clear(&self) {
        *self.entries.lock().unwrap_or_else(PoisonError::into_inner) = HashMap::new();
    }
}

impl Store for MutexHashMap<u64, u64> {
    const NAME: &'static str = "Mutex<HashMap>";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = true;

    fn build(ttl: Duration, _capacity: usize) -> Self {
        MutexHashMap::new(ttl)
    }
    fn get(&self, key: u64) -> Option<u64> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(&key) {
            Some(&(value, deadline)) if Instant::now() < deadline => Some(value),
            _ => None,
        }
    }
    fn insert(&self, key: u64, value: u64) {
        let deadline = Instant::now() + self.ttl;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(key, (value, deadline));
    }
    fn get_or_insert_with(&self, key: u64, init: impl FnOnce() -> u64) -> u64 {
        MutexHashMap::get_or_insert_with(self, &key, |key| *key, init)
    }
}

/// `moka::sync::Cache` with `time_to_live`.
pub struct MokaCache(moka::sync::Cache<u64, u64>);

impl Store for MokaCache {
    const NAME: &'static str = "moka sync::Cache";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = true;

    fn build(ttl: Duration, _capacity: usize) -> Self {
        MokaCache(moka::sync::Cache::builder().time_to_live(ttl).build())
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn get_or_insert_with(&self, key: u64, init: impl FnOnce() -> u64) -> u64 {
        self.0.get_with(key, init)
    }
    fn settle(&self) {
        self.0.run_pending_tasks();
    }
}

/// `cached::ShardedTtlCache`: the store behind `#[concurrent_cached(ttl_secs = ..)]`.
pub struct CachedShardedTtl(cached::ShardedTtlCache<u64, u64>);

impl Store for CachedShardedTtl {
    const NAME: &'static str = "cached ShardedTtlCache";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = true;

    fn build(ttl: Duration, _capacity: usize) -> Self {
        CachedShardedTtl(cached::ShardedTtlCache::new(ttl))
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.set(key, value);
    }
    fn get_or_insert_with(&self, key: u64, init: impl FnOnce() -> u64) -> u64 {
        self.0.get_or_set_with(key, init)
    }
}

/// `quick_cache::sync::Cache`: no TTL (the TTL is ignored), bounded by `capacity`.
/// The speed bar for a sharded concurrent map.
pub struct QuickCache(quick_cache::sync::Cache<u64, u64>);

impl Store for QuickCache {
    const NAME: &'static str = "quick_cache (no TTL)";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = false;

    fn build(_ttl: Duration, capacity: usize) -> Self {
        QuickCache(quick_cache::sync::Cache::new(capacity.max(1)))
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn get_or_insert_with(&self, key: u64, init: impl FnOnce() -> u64) -> u64 {
        let found = self
            .0
            .get_or_insert_with(&key, || Ok::<_, Infallible>(init()));
        found.unwrap_or_else(|never| match never {})
    }
}

thread_local! {
    static THREAD_MAP: RefCell<HashMap<u64, u64>> = RefCell::new(HashMap::new());
}

/// The limit: each thread's own std `HashMap` (SipHash), no lock, no TTL. Each thread
/// sees only what it inserted itself, so scenarios fill it on every thread they use.
///
/// `build` and `drop` empty the calling thread's map, so one store at a time per
/// thread.
pub struct ThreadLocalHashMap(());

impl Store for ThreadLocalHashMap {
    const NAME: &'static str = "thread-local HashMap (limit)";
    const ROLE: Role = Role::Limit;
    const EXPIRES: bool = false;

    fn build(_ttl: Duration, _capacity: usize) -> Self {
        THREAD_MAP.with(|map| *map.borrow_mut() = HashMap::new());
        ThreadLocalHashMap(())
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        THREAD_MAP.with(|map| map.borrow().get(&key).copied())
    }
    fn insert(&self, key: u64, value: u64) {
        THREAD_MAP.with(|map| map.borrow_mut().insert(key, value));
    }
    #[inline]
    fn get_or_insert_with(&self, key: u64, init: impl FnOnce() -> u64) -> u64 {
        THREAD_MAP.with(|map| *map.borrow_mut().entry(key).or_insert_with(init))
    }
}

impl Drop for ThreadLocalHashMap {
    fn drop(&mut self) {
        // Frees the table now, so that memory figures see it go.
        let _ = THREAD_MAP.try_with(|map| *map.borrow_mut() = HashMap::new());
    }
}
