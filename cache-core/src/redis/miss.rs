//! The miss paths of a `redis = true` function: after the in-process lookup missed,
//! read Redis, and only if it has nothing usable run the body and write its result
//! to both levels. The sync forms block on the answer at most the command timeout;
//! the async forms await it.
//!
//! With single flight, all of this runs as the flight's computation: concurrent
//! callers of one key in this process make one Redis read, and at most one body run;
//! across processes, the read takes the key's lease or waits for its holder
//! (`lease.rs`). A value read from Redis lands in the map for no longer than it still
//! lives there, and not at all if an invalidation of its key came meanwhile (its
//! epoch, read before the read: see `registry.rs`); its arguments are noted in the
//! side index first, so that a later invalidation finds it. This module must never
//! hold a lock while it waits for Redis or runs the body.

use super::lease::{self, Computing, Found, Lease, Read};
use super::level::RedisLevel;
use super::reply::{Failure, Slot};
use super::{connected, Connected};
use crate::__private::Miss;
use crate::flight::{self, Epoch, Landing};
use crate::TtlMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

/// A queued request: its answer's slot and its deadline, or why it was not sent.
type Queued = Result<(Arc<Slot>, std::time::Instant), Failure>;

/// Where a missed value came from.
enum Filled<R, V> {
    /// The body ran: its result, and what of it is cached (for how long at most,
    /// and, if it went through Redis, under the epoch read before the miss's read).
    Computed(R, Option<Landing<V>>),
    /// Read from Redis, where it lives this much longer, under this epoch.
    FromRedis(V, Duration, Epoch),
    /// Another caller of this process stored it meanwhile (single flight).
    Stored(V),
}

impl<R, V: Clone> Filled<R, V> {
    fn landing(&self) -> Option<Landing<V>> {
        match self {
            Filled::Computed(_, landing) => landing.clone(),
            Filled::FromRedis(value, remaining, epoch) => Some(Landing {
                value: value.clone(),
                at_most: Some(*remaining),
                unless_moved: Some(*epoch),
            }),
            Filled::Stored(_) => None,
        }
    }

    fn into_result(self, from_cache: impl FnOnce(V) -> R) -> R {
        match self {
            Filled::Computed(result, _) => result,
            Filled::FromRedis(value, _, _) | Filled::Stored(value) => from_cache(value),
        }
    }
}

/// The Redis side of one miss: the connection and the encoded arguments, or nothing
/// (local only: not connected, or arguments that do not encode).
struct Shared {
    connected: Arc<Connected>,
    arguments: Vec<u8>,
    ttl: Duration,
    /// The map's hash of the key, for the side index (see `registry.rs`).
    hash: u64,
}

impl Shared {
    fn new<K, V>(
        level: &'static RedisLevel,
        map: &'static TtlMap<K, V>,
        key: &K,
        hash: u64,
    ) -> Option<Self>
    where
        K: Hash + Eq + Send + Sync + 'static + Serialize,
        V: Clone + Send + Sync + 'static,
    {
        let connected = connected()?;
        // Registered even while the link is down: what it computes meanwhile is
        // dropped when tracking is back.
        level.coherence.register(map, level.identity());
        // While the circuit is open, a miss is a local miss plus this load: no command
        // is built only to be refused (that cost 6x a local miss in `compare redis`).
        if !connected.link.is_up() {
            return None;
        }
        let arguments = level.arguments(key)?;
        Some(Shared {
            connected,
            arguments,
            ttl: map.ttl().unwrap_or(Duration::MAX),
            hash,
        })
    }

    /// Queues the store of a computed value (if any), then, right behind it (one
    /// round trip, and the value is there before the lease goes), the release of the
    /// lease (if held). The caller waits for both: when it returns, Redis holds the
    /// value and no lease of it.
    fn queue_store(
        &self,
        store: Option<redis::Cmd>,
        computing: Option<Computing>,
    ) -> [Option<Queued>; 2] {
        let link = &self.connected.link;
        let stored = store.map(|store| link.send(store));
        let released = computing
            .and_then(|computing| computing.lease)
            .and_then(Lease::into_release)
            .map(|release| link.send(release));
        [stored, released]
    }

    fn read(&self, level: &'static RedisLevel, fleet: bool) -> Read<'_> {
        Read {
            level,
            connected: &self.connected,
            arguments: &self.arguments,
            ttl: self.ttl,
            fleet,
        }
    }
}

/// After the body ran: what of it is cached (under the epoch read before the miss's
/// read, if it went through Redis), and its store in Redis (with the generation the
/// read found, if any).
fn computed<R, V>(
    level: &'static RedisLevel,
    shared: Option<&Shared>,
    computing: Option<&Computing>,
    result: R,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    ttl_of: impl FnOnce(&V, Duration) -> Duration,
) -> (Filled<R, V>, Option<redis::Cmd>)
where
    V: Serialize,
{
    let mut landing = to_cache(&result);
    let mut store = None;
    if let (Some(shared), Some(landing)) = (shared, &landing) {
        let ttl = landing.ttl(Some(shared.ttl)).unwrap_or(shared.ttl);
        let ttl = ttl_of(&landing.value, ttl);
        let generation = computing.and_then(|computing| computing.generation.as_deref());
        store = level.store_command(
            &shared.connected,
            &shared.arguments,
            &landing.value,
            ttl,
            generation,
        );
        level.coherence.note(&shared.arguments, shared.hash);
    }
    if let Some(landing) = &mut landing {
        landing.unless_moved = computing.map(|computing| computing.epoch);
    }
    (Filled::Computed(result, landing), store)
}

/// Redis (waiting for another process's computation, with `fleet`), then the body:
/// the computation of a sync miss.
fn fill<R, V>(
    level: &'static RedisLevel,
    shared: Option<&Shared>,
    fleet: bool,
    compute: impl FnOnce() -> R,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    ttl_of: impl FnOnce(&V, Duration) -> Duration,
) -> Filled<R, V>
where
    V: Serialize + DeserializeOwned,
{
    let mut computing = None;
    if let Some(shared) = shared {
        match lease::read(&shared.read(level, fleet)) {
            Found::Value(value, remaining, epoch) => {
                level.coherence.note(&shared.arguments, shared.hash);
                return Filled::FromRedis(value, remaining, epoch);
            }
            Found::Compute(found) => computing = Some(found),
        }
    }
    level.count_computation();
    // A panic in the body drops the lease (in `computing`): released.
    let result = compute();
    let (filled, store) = computed(level, shared, computing.as_ref(), result, to_cache, ttl_of);
    if let Some(shared) = shared {
        for queued in shared.queue_store(store, computing).into_iter().flatten() {
            level.read_write(queued.and_then(|(slot, deadline)| slot.wait_until(deadline)));
        }
    }
    filled
}

/// [`fill`], awaiting Redis.
async fn fill_async<R, V, F>(
    level: &'static RedisLevel,
    shared: Option<&Shared>,
    fleet: bool,
    compute: impl FnOnce() -> F,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    ttl_of: impl FnOnce(&V, Duration) -> Duration,
) -> Filled<R, V>
where
    V: Serialize + DeserializeOwned,
    F: Future<Output = R>,
{
    let mut computing = None;
    if let Some(shared) = shared {
        match lease::read_async(&shared.read(level, fleet)).await {
            Found::Value(value, remaining, epoch) => {
                level.coherence.note(&shared.arguments, shared.hash);
                return Filled::FromRedis(value, remaining, epoch);
            }
            Found::Compute(found) => computing = Some(found),
        }
    }
    level.count_computation();
    // A cancelled future, or a panic in the body, drops the lease: released.
    let result = compute().await;
    let (filled, store) = computed(level, shared, computing.as_ref(), result, to_cache, ttl_of);
    if let Some(shared) = shared {
        for queued in shared.queue_store(store, computing).into_iter().flatten() {
            level.read_write(match queued {
                Ok((slot, _)) => slot.answer().await,
                Err(failure) => Err(failure),
            });
        }
    }
    filled
}

/// The single-flight miss path of a sync `redis = true` function, after its lookup
/// missed.
pub fn compute_after_miss<K, V, R>(
    map: &'static TtlMap<K, V>,
    level: &'static RedisLevel,
    miss: Miss,
    key: K,
    compute: impl FnOnce() -> R,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    from_cache: impl FnOnce(V) -> R,
) -> R
where
    K: Hash + Eq + Send + Sync + 'static + Serialize,
    V: Clone + Send + Sync + 'static + Serialize + DeserializeOwned,
{
    let shared = Shared::new(level, map, &key, miss.hash);
    let filled = flight::compute_after_miss(
        map.inner(),
        miss.hash,
        key,
        || {
            fill(
                level,
                shared.as_ref(),
                true,
                compute,
                to_cache,
                |value, ttl| capped(map, value, ttl),
            )
        },
        Filled::landing,
        Filled::Stored,
    );
    filled.into_result(from_cache)
}

/// The single-flight miss path of an async `redis = true` function.
pub async fn compute_after_miss_async<K, V, R, F>(
    map: &'static TtlMap<K, V>,
    level: &'static RedisLevel,
    miss: Miss,
    key: K,
    compute: impl FnOnce() -> F,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    from_cache: impl FnOnce(V) -> R,
) -> R
where
    K: Hash + Eq + Send + Sync + 'static + Serialize,
    V: Clone + Send + Sync + 'static + Serialize + DeserializeOwned,
    F: Future<Output = R>,
{
    let shared = Shared::new(level, map, &key, miss.hash);
    let filled = flight::compute_after_miss_async(
        map.inner(),
        miss.hash,
        key,
        || {
            fill_async(
                level,
                shared.as_ref(),
                true,
                compute,
                to_cache,
                |value, ttl| capped(map, value, ttl),
            )
        },
        Filled::landing,
        Filled::Stored,
    )
    .await;
    filled.into_result(from_cache)
}

/// The Redis TTL of `value`: `ttl`, capped by the map's per-value rule.
fn capped<K, V>(map: &TtlMap<K, V>, value: &V, ttl: Duration) -> Duration
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    map.inner().ttl_for(value, Some(ttl)).unwrap_or(ttl)
}

/// Stores a value filled without single flight (`single_flight = false`), unless it
/// was invalidated on its way.
fn land_unshared<K, R, V>(map: &TtlMap<K, V>, key: K, filled: &Filled<R, V>)
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let Some(landing) = filled.landing() else {
        return;
    };
    match landing.unless_moved {
        Some(epoch) => {
            map.inner().insert_unless_moved(key, landing, epoch);
        }
        None => {
            let ttl = landing.ttl(map.ttl()).unwrap_or(Duration::MAX);
            map.insert_with_ttl(key, landing.value, ttl);
        }
    }
}

/// The miss path of a sync `redis = true` function with `single_flight = false`.
pub fn compute_unshared<K, V, R>(
    map: &'static TtlMap<K, V>,
    level: &'static RedisLevel,
    miss: Miss,
    key: K,
    compute: impl FnOnce() -> R,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    from_cache: impl FnOnce(V) -> R,
) -> R
where
    K: Hash + Eq + Send + Sync + 'static + Serialize,
    V: Clone + Send + Sync + 'static + Serialize + DeserializeOwned,
{
    map.inner().count_unshared_computation();
    let shared = Shared::new(level, map, &key, miss.hash);
    let filled = fill(
        level,
        shared.as_ref(),
        false,
        compute,
        to_cache,
        |value, ttl| capped(map, value, ttl),
    );
    land_unshared(map, key, &filled);
    filled.into_result(from_cache)
}

/// The miss path of an async `redis = true` function with `single_flight = false`.
pub async fn compute_unshared_async<K, V, R, F>(
    map: &'static TtlMap<K, V>,
    level: &'static RedisLevel,
    miss: Miss,
    key: K,
    compute: impl FnOnce() -> F,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    from_cache: impl FnOnce(V) -> R,
) -> R
where
    K: Hash + Eq + Send + Sync + 'static + Serialize,
    V: Clone + Send + Sync + 'static + Serialize + DeserializeOwned,
    F: Future<Output = R>,
{
    map.inner().count_unshared_computation();
    let shared = Shared::new(level, map, &key, miss.hash);
    let filled = fill_async(
        level,
        shared.as_ref(),
        false,
        compute,
        to_cache,
        |value, ttl| capped(map, value, ttl),
    )
    .await;
    land_unshared(map, key, &filled);
    filled.into_result(from_cache)
}

/// `_refresh`: the fresh value, in the map and in Redis, without waiting for Redis's
/// answer (commands run in order, so this process's next read sees it). Values in
/// flight for this key are refused (its epoch moves first); other processes drop
/// their copies when the write reaches them. If the write is lost (Redis down), the
/// function's generation moves once Redis is back.
pub fn store<K, V>(
    map: &'static TtlMap<K, V>,
    level: &'static RedisLevel,
    key: K,
    landing: Landing<V>,
) where
    K: Hash + Eq + Send + Sync + 'static + Serialize,
    V: Clone + Send + Sync + 'static + Serialize,
{
    let hash = map.inner().hash(&key);
    if let Some(shared) = Shared::new(level, map, &key, hash) {
        level.coherence.refuse_in_flight(&shared.arguments);
        let ttl = landing.ttl(Some(shared.ttl)).unwrap_or(shared.ttl);
        let ttl = capped(map, &landing.value, ttl);
        // The script (the generation is not known here): this process hears of its
        // own write, and drops the copy stored below once it does.
        let store = level.store_command(
            &shared.connected,
            &shared.arguments,
            &landing.value,
            ttl,
            None,
        );
        let catch_up = level.clear_command(&shared.connected);
        match store {
            Some(store) => shared.connected.link.send_detached(store, Some(catch_up)),
            // Too large for Redis: the entry there (if any) is now stale.
            None => shared.connected.link.send_detached(
                level.remove_command(&shared.connected, &shared.arguments),
                Some(catch_up),
            ),
        }
        level.coherence.note(&shared.arguments, hash);
        if !shared.connected.tracking.is_live() {
            // Nothing would drop it when it changes (see `Read::epoch`): Redis
            // serves it, the old copy goes.
            let _ = map.remove(&key);
            return;
        }
    }
    crate::__private::store_landing(map, key, landing);
}

/// `_invalidate`: deletes the entry in Redis (the map's part is `remove_hashed`),
/// without waiting for the answer; values in flight for this key are refused. If the
/// deletion is lost (Redis down), the function's generation moves once Redis is back.
pub fn remove<K: Serialize + ?Sized>(level: &'static RedisLevel, key: &K) {
    let Some(arguments) = level.arguments(key) else {
        return;
    };
    level.coherence.refuse_in_flight(&arguments);
    if let Some(connected) = connected() {
        let catch_up = level.clear_command(&connected);
        connected
            .link
            .send_detached(level.remove_command(&connected, &arguments), Some(catch_up));
    }
}

/// `_clear`: a new generation, without waiting for the answer (sent again once Redis
/// is back, if lost); values in flight are refused.
pub fn clear(level: &'static RedisLevel) {
    level.coherence.clear();
    if let Some(connected) = connected() {
        let command = level.clear_command(&connected);
        connected.link.send_detached(command.clone(), Some(command));
    }
}
