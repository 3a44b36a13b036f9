//! [`Memoized`]: the same small functions memoized with each library, the way its
//! README tells users to, for the function-level scenarios (hits, `&str` hits, misses,
//! reclaim).
//!
//! Every implementation memoizes the same work, [`compute`] and [`compute_str`], which
//! is cheap on purpose: a call then costs the cache, not the function.
//!
//! This module lives in the `compare` binary, not in the library, so that the scenarios
//! call every memoized function from the crate that defines it, as users mostly do.
//! (From another crate, inlining and code layout decided more of a hit's cost than the
//! cache did: 17 ns against 9 ns for the same `#[ttl_cached]` function.) They stay
//! `#[inline]`, as before, for every library alike.

use cache_bench::store::MutexHashMap;
use cache_bench::Role;
use cache_core::TtlMap;
use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::LazyLock;
use std::thread::LocalKey;
use std::time::Duration;

/// How long the memoized values of the hit and miss scenarios live.
pub const TTL: Duration = Duration::from_secs(60);
/// How long the values of the reclaim scenario live.
pub const BRIEF_TTL: Duration = Duration::from_secs(1);

/// Capacity given to quick_cache, which needs a bound: above what any scenario stores.
const QUICK_CACHE_CAPACITY: usize = 1 << 21;

/// The work behind every memoized `u64` function.
#[inline]
pub fn compute(key: u64) -> u64 {
    key.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (key >> 7)
}

/// The work behind every memoized `&str` function.
#[inline]
pub fn compute_str(key: &str) -> usize {
    key.bytes().map(usize::from).sum()
}

/// Three memoized functions and a way to forget what they memoized.
pub trait Memoized {
    /// The row label in tables.
    const NAME: &'static str;
    /// Ours, a peer, or the limit.
    const ROLE: Role;
    /// Whether memoized values expire at all.
    const EXPIRES: bool;

    /// [`compute`]`(key)`, memoized for [`TTL`].
    fn call(key: u64) -> u64;
    /// [`compute_str`]`(key)`, memoized for [`TTL`].
    fn call_str(key: &str) -> usize;
    /// [`compute`]`(key)`, memoized for [`BRIEF_TTL`]: the reclaim scenario.
    fn call_briefly(key: u64) -> u64;
    /// Forgets everything the three functions memoized (on this thread, for the
    /// thread-local limit).
    fn clear();
}

/// Runs a scenario written once for every [`Memoized`]: see [`for_each_memoized`].
pub trait MemoizedVisitor {
    /// Called once per implementation.
    fn visit<M: Memoized>(&mut self);
}

/// Visits every implementation, ours first (the macro, then the map it generates
/// code for) and the limit last.
pub fn for_each_memoized(visitor: &mut impl MemoizedVisitor) {
    visitor.visit::<CacheCoreFns>();
    visitor.visit::<CacheCoreGenericFns>();
    visitor.visit::<CacheCoreMapFns>();
    visitor.visit::<CachedFns>();
    visitor.visit::<ConcurrentCachedFns>();
    visitor.visit::<MokaFns>();
    visitor.visit::<MemoizeFns>();
    visitor.visit::<QuickCacheFns>();
    visitor.visit::<MutexHashMapFns>();
    visitor.visit::<ThreadLocalFns>();
}

/// cache-core: `#[ttl_cached(secs = ..)]`.
pub struct CacheCoreFns;

#[cache_core::ttl_cached(secs = 60)]
#[inline]
fn core_u64(key: u64) -> u64 {
    compute(key)
}

#[cache_core::ttl_cached(secs = 60)]
#[inline]
fn core_str(key: &str) -> usize {
    compute_str(key)
}

#[cache_core::ttl_cached(secs = 1)]
#[inline]
fn core_brief(key: u64) -> u64 {
    compute(key)
}

impl Memoized for CacheCoreFns {
    const NAME: &'static str = "cache-core #[ttl_cached(secs)]";
    const ROLE: Role = Role::Ours;
    const EXPIRES: bool = true;

    #[inline]
    fn call(key: u64) -> u64 {
        core_u64(key)
    }
    fn call_str(key: &str) -> usize {
        core_str(key)
    }
    fn call_briefly(key: u64) -> u64 {
        core_brief(key)
    }
    fn clear() {
        core_u64_clear();
        core_str_clear();
        core_brief_clear();
    }
}

/// cache-core: the same functions made generic over their result type (issue 17: one
/// map per instantiation, found by type), called as `::<u64>` / `::<usize>`.
pub struct CacheCoreGenericFns;

/// What the generic functions compute: any type made from the computed number.
pub trait FromComputed: Clone + Send + Sync + 'static {
    /// The result for `computed`.
    fn from_computed(computed: u64) -> Self;
}

impl FromComputed for u64 {
    fn from_computed(computed: u64) -> Self {
        computed
    }
}

impl FromComputed for usize {
    fn from_computed(computed: u64) -> Self {
        computed as usize
    }
}

#[cache_core::ttl_cached(secs = 60)]
#[inline]
fn core_generic<T: FromComputed>(key: u64) -> T {
    T::from_computed(compute(key))
}

#[cache_core::ttl_cached(secs = 60)]
#[inline]
fn core_generic_str<T: FromComputed>(key: &str) -> T {
    T::from_computed(compute_str(key) as u64)
}

#[cache_core::ttl_cached(secs = 1)]
#[inline]
fn core_generic_brief<T: FromComputed>(key: u64) -> T {
    T::from_computed(compute(key))
}

impl Memoized for CacheCoreGenericFns {
    const NAME: &'static str = "cache-core #[ttl_cached] generic fn";
    const ROLE: Role = Role::Ours;
    const EXPIRES: bool = true;

    #[inline]
    fn call(key: u64) -> u64 {
        core_generic::<u64>(key)
    }
    fn call_str(key: &str) -> usize {
        core_generic_str::<usize>(key)
    }
    fn call_briefly(key: u64) -> u64 {
        core_generic_brief::<u64>(key)
    }
    fn clear() {
        core_generic_clear::<u64>();
        core_generic_str_clear::<usize>();
        core_generic_brief_clear::<u64>();
    }
}

/// cache-core without the macro: `TtlMap::get_or_insert_with` in a `static`, to show
/// what the generated code adds to the map itself.
pub struct CacheCoreMapFns;

static CORE_MAP_U64: LazyLock<TtlMap<u64, u64>> = LazyLock::new(|| TtlMap::with_ttl(TTL));
static CORE_MAP_STR: LazyLock<TtlMap<String, usize>> = LazyLock::new(|| TtlMap::with_ttl(TTL));
static CORE_MAP_BRIEF: LazyLock<TtlMap<u64, u64>> = LazyLock::new(|| TtlMap::with_ttl(BRIEF_TTL));

impl Memoized for CacheCoreMapFns {
    const NAME: &'static str = "cache-core TtlMap::get_or_insert_with";
    const ROLE: Role = Role::Ours;
    const EXPIRES: bool = true;

    #[inline]
    fn call(key: u64) -> u64 {
        CORE_MAP_U64.get_or_insert_with(key, || compute(key))
    }
    fn call_str(key: &str) -> usize {
        // `get` first: it takes the borrowed key, so a hit allocates nothing.
        match CORE_MAP_STR.get(key) {
            Some(value) => value,
            None => CORE_MAP_STR.get_or_insert_with(key.to_owned(), || compute_str(key)),
        }
    }
    fn call_briefly(key: u64) -> u64 {
        CORE_MAP_BRIEF.get_or_insert_with(key, || compute(key))
    }
    fn clear() {
        CORE_MAP_U64.clear();
        CORE_MAP_STR.clear();
        CORE_MAP_BRIEF.clear();
    }
}

/// cached: `#[cached(ttl_secs = ..)]`, one `RwLock` around a `TtlCache`.
pub struct CachedFns;

#[cached::macros::cached(name = "CACHED_U64", ttl_secs = 60)]
#[inline]
fn cached_u64(key: u64) -> u64 {
    compute(key)
}

#[cached::macros::cached(
    name = "CACHED_STR",
    ttl_secs = 60,
    key = "String",
    convert = r#"{ key.to_owned() }"#
)]
#[inline]
fn cached_str(key: &str) -> usize {
    compute_str(key)
}

#[cached::macros::cached(name = "CACHED_BRIEF", ttl_secs = 1)]
#[inline]
fn cached_brief(key: u64) -> u64 {
    compute(key)
}

impl Memoized for CachedFns {
    const NAME: &'static str = "cached #[cached(ttl_secs)]";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = true;

    fn call(key: u64) -> u64 {
        cached_u64(key)
    }
    fn call_str(key: &str) -> usize {
        cached_str(key)
    }
    fn call_briefly(key: u64) -> u64 {
        cached_brief(key)
    }
    fn clear() {
        use cached::Cached;
        CACHED_U64.write().cache_clear();
        CACHED_STR.write().cache_clear();
        CACHED_BRIEF.write().cache_clear();
    }
}

/// cached: `#[concurrent_cached(ttl_secs = ..)]`, a `ShardedTtlCache`.
pub struct ConcurrentCachedFns;

#[cached::macros::concurrent_cached(name = "CONCURRENT_U64", ttl_secs = 60)]
#[inline]
fn concurrent_u64(key: u64) -> u64 {
    compute(key)
}

#[cached::macros::concurrent_cached(
    name = "CONCURRENT_STR",
    ttl_secs = 60,
    key = "String",
    convert = r#"{ key.to_owned() }"#
)]
#[inline]
fn concurrent_str(key: &str) -> usize {
    compute_str(key)
}

#[cached::macros::concurrent_cached(name = "CONCURRENT_BRIEF", ttl_secs = 1)]
#[inline]
fn concurrent_brief(key: u64) -> u64 {
    compute(key)
}

impl Memoized for ConcurrentCachedFns {
    const NAME: &'static str = "cached #[concurrent_cached(ttl_secs)]";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = true;

    fn call(key: u64) -> u64 {
        concurrent_u64(key)
    }
    fn call_str(key: &str) -> usize {
        concurrent_str(key)
    }
    fn call_briefly(key: u64) -> u64 {
        concurrent_brief(key)
    }
    fn clear() {
        CONCURRENT_U64.clear();
        CONCURRENT_STR.clear();
        CONCURRENT_BRIEF.clear();
    }
}

/// moka: `sync::Cache::get_with` (`get_with_by_ref` for `&str`, which clones the key
/// only on a miss) in a `static`.
pub struct MokaFns;

fn moka_with_ttl<K, V>(ttl: Duration) -> moka::sync::Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::sync::Cache::builder().time_to_live(ttl).build()
}

static MOKA_U64: LazyLock<moka::sync::Cache<u64, u64>> = LazyLock::new(|| moka_with_ttl(TTL));
static MOKA_STR: LazyLock<moka::sync::Cache<String, usize>> = LazyLock::new(|| moka_with_ttl(TTL));
static MOKA_BRIEF: LazyLock<moka::sync::Cache<u64, u64>> =
    LazyLock::new(|| moka_with_ttl(BRIEF_TTL));

impl Memoized for MokaFns {
    const NAME: &'static str = "moka get_with";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = true;

    fn call(key: u64) -> u64 {
        MOKA_U64.get_with(key, || compute(key))
    }
    fn call_str(key: &str) -> usize {
        MOKA_STR.get_with_by_ref(key, || compute_str(key))
    }
    fn call_briefly(key: u64) -> u64 {
        MOKA_BRIEF.get_with(key, || compute(key))
    }
    fn clear() {
        for cache in [&*MOKA_U64, &*MOKA_BRIEF] {
            cache.invalidate_all();
            cache.run_pending_tasks();
        }
        MOKA_STR.invalidate_all();
        MOKA_STR.run_pending_tasks();
    }
}

/// memoize: `#[memoize(TimeToLive: .., SharedCache)]`. It takes owned arguments only,
/// so the `&str` function is called with `key.to_owned()`.
pub struct MemoizeFns;

#[memoize::memoize(TimeToLive: Duration::from_secs(60), SharedCache)]
#[inline]
fn memoize_u64(key: u64) -> u64 {
    compute(key)
}

#[memoize::memoize(TimeToLive: Duration::from_secs(60), SharedCache)]
#[inline]
fn memoize_str(key: String) -> usize {
    compute_str(&key)
}

#[memoize::memoize(TimeToLive: Duration::from_secs(1), SharedCache)]
#[inline]
fn memoize_brief(key: u64) -> u64 {
    compute(key)
}

impl Memoized for MemoizeFns {
    const NAME: &'static str = "memoize TimeToLive+SharedCache";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = true;

    fn call(key: u64) -> u64 {
        memoize_u64(key)
    }
    fn call_str(key: &str) -> usize {
        memoize_str(key.to_owned())
    }
    fn call_briefly(key: u64) -> u64 {
        memoize_brief(key)
    }
    fn clear() {
        memoized_flush_memoize_u64();
        memoized_flush_memoize_str();
        memoized_flush_memoize_brief();
    }
}

/// quick_cache: `sync::Cache::get_or_insert_with`, no TTL (values never expire).
pub struct QuickCacheFns;

fn quick_cache<K, V>() -> quick_cache::sync::Cache<K, V>
where
    K: std::hash::Hash + Eq + Clone,
    V: Clone,
{
    quick_cache::sync::Cache::new(QUICK_CACHE_CAPACITY)
}

static QUICK_U64: LazyLock<quick_cache::sync::Cache<u64, u64>> = LazyLock::new(quick_cache);
static QUICK_STR: LazyLock<quick_cache::sync::Cache<String, usize>> = LazyLock::new(quick_cache);
static QUICK_BRIEF: LazyLock<quick_cache::sync::Cache<u64, u64>> = LazyLock::new(quick_cache);

impl Memoized for QuickCacheFns {
    const NAME: &'static str = "quick_cache (no TTL)";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = false;

    fn call(key: u64) -> u64 {
        let found = QUICK_U64.get_or_insert_with(&key, || Ok::<_, Infallible>(compute(key)));
        found.unwrap_or_else(|never| match never {})
    }
    fn call_str(key: &str) -> usize {
        let found = QUICK_STR.get_or_insert_with(key, || Ok::<_, Infallible>(compute_str(key)));
        found.unwrap_or_else(|never| match never {})
    }
    fn call_briefly(key: u64) -> u64 {
        let found = QUICK_BRIEF.get_or_insert_with(&key, || Ok::<_, Infallible>(compute(key)));
        found.unwrap_or_else(|never| match never {})
    }
    fn clear() {
        QUICK_U64.clear();
        QUICK_STR.clear();
        QUICK_BRIEF.clear();
    }
}

/// The hand-written alternative: a `static Mutex<HashMap<K, (V, Instant)>>`, as
/// memoize's `SharedCache` generates too.
pub struct MutexHashMapFns;

static MUTEX_U64: LazyLock<MutexHashMap<u64, u64>> = LazyLock::new(|| MutexHashMap::new(TTL));
static MUTEX_STR: LazyLock<MutexHashMap<String, usize>> = LazyLock::new(|| MutexHashMap::new(TTL));
static MUTEX_BRIEF: LazyLock<MutexHashMap<u64, u64>> =
    LazyLock::new(|| MutexHashMap::new(BRIEF_TTL));

impl Memoized for MutexHashMapFns {
    const NAME: &'static str = "Mutex<HashMap>";
    const ROLE: Role = Role::Peer;
    const EXPIRES: bool = true;

    fn call(key: u64) -> u64 {
        MUTEX_U64.get_or_insert_with(&key, |key| *key, || compute(key))
    }
    fn call_str(key: &str) -> usize {
        MUTEX_STR.get_or_insert_with(key, str::to_owned, || compute_str(key))
    }
    fn call_briefly(key: u64) -> u64 {
        MUTEX_BRIEF.get_or_insert_with(&key, |key| *key, || compute(key))
    }
    fn clear() {
        MUTEX_U64.clear();
        MUTEX_STR.clear();
        MUTEX_BRIEF.clear();
    }
}

/// The limit: each thread's own std `HashMap`, no lock, no TTL.
pub struct ThreadLocalFns;

thread_local! {
    static LOCAL_U64: RefCell<HashMap<u64, u64>> = RefCell::new(HashMap::new());
    static LOCAL_STR: RefCell<HashMap<String, usize>> = RefCell::new(HashMap::new());
    static LOCAL_BRIEF: RefCell<HashMap<u64, u64>> = RefCell::new(HashMap::new());
}

/// The value of `key` in this thread's `map`, or `init()` stored under it.
#[inline]
fn local_get_or_insert<K, Q, V>(
    map: &'static LocalKey<RefCell<HashMap<K, V>>>,
    key: &Q,
    to_owned: impl FnOnce(&Q) -> K,
    init: impl FnOnce() -> V,
) -> V
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: ?Sized + std::hash::Hash + Eq,
    V: Clone,
{
    map.with(|map| {
        if let Some(value) = map.borrow().get(key) {
            return value.clone();
        }
        let value = init();
        map.borrow_mut().insert(to_owned(key), value.clone());
        value
    })
}

impl Memoized for ThreadLocalFns {
    const NAME: &'static str = "thread-local HashMap (limit)";
    const ROLE: Role = Role::Limit;
    const EXPIRES: bool = false;

    #[inline]
    fn call(key: u64) -> u64 {
        local_get_or_insert(&LOCAL_U64, &key, |key| *key, || compute(key))
    }
    fn call_str(key: &str) -> usize {
        local_get_or_insert(&LOCAL_STR, key, str::to_owned, || compute_str(key))
    }
    fn call_briefly(key: u64) -> u64 {
        local_get_or_insert(&LOCAL_BRIEF, &key, |key| *key, || compute(key))
    }
    fn clear() {
        LOCAL_U64.with(|map| *map.borrow_mut() = HashMap::new());
        LOCAL_STR.with(|map| *map.borrow_mut() = HashMap::new());
        LOCAL_BRIEF.with(|map| *map.borrow_mut() = HashMap::new());
    }
}
