//! The miss paths of a `redis = true` function: after the in-process lookup missed,
//! read Redis, and only if it has nothing usable run the body and write its result
//! to both levels. The sync forms block on the answer at most the command timeout;
//! the async forms await it.
//!
//! With single flight, all of this runs as the flight's computation: concurrent
//! callers of one key in this process make one Redis read, and at most one body run.
//! A value read from Redis lands in the map for no longer than it still lives there.
//! This module must never hold a lock while it waits for Redis or runs the body.

use super::level::{Fetched, RedisLevel};
use super::reply::Answer;
use super::{connected, Connected};
use crate::__private::Miss;
use crate::flight::{self, Landing};
use crate::TtlMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

/// Where a missed value came from.
enum Filled<R, V> {
    /// The body ran: its result, and what of it is cached (for how long at most).
    Computed(R, Option<Landing<V>>),
    /// Read from Redis, where it lives this much longer.
    FromRedis(V, Duration),
    /// Another caller of this process stored it meanwhile (single flight).
    Stored(V),
}

impl<R, V: Clone> Filled<R, V> {
    fn landing(&self) -> Option<Landing<V>> {
        match self {
            Filled::Computed(_, landing) => landing.clone(),
            Filled::FromRedis(value, remaining) => Some(Landing {
                value: value.clone(),
                at_most: Some(*remaining),
            }),
            Filled::Stored(_) => None,
        }
    }

    fn into_result(self, from_cache: impl FnOnce(V) -> R) -> R {
        match self {
            Filled::Computed(result, _) => result,
            Filled::FromRedis(value, _) | Filled::Stored(value) => from_cache(value),
        }
    }
}

/// The Redis side of one miss: the connection and the encoded arguments, or nothing
/// (local only: not connected, or arguments that do not encode).
struct Shared {
    connected: Arc<Connected>,
    arguments: Vec<u8>,
    ttl: Duration,
}

impl Shared {
    fn new<K, V>(level: &RedisLevel, map: &TtlMap<K, V>, key: &K) -> Option<Self>
    where
        K: Hash + Eq + Send + Sync + 'static + Serialize,
        V: Clone + Send + Sync + 'static,
    {
        let connected = connected()?;
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
        })
    }

    fn fetch_command(&self, level: &RedisLevel) -> redis::Cmd {
        level.fetch_command(&self.connected, &self.arguments, self.ttl)
    }

    fn read_fetch<V: DeserializeOwned>(&self, level: &RedisLevel, answer: Answer) -> Fetched<V> {
        level.read_fetch(&self.connected, &self.arguments, self.ttl, answer)
    }
}

/// Sends `command` and blocks for its answer, at most the command timeout.
fn request(connected: &Connected, command: redis::Cmd) -> Answer {
    let (slot, deadline) = connected.link.send(command)?;
    slot.wait_until(deadline)
}

/// Sends `command` and awaits its answer (given by the command timeout).
async fn request_async(connected: &Connected, command: redis::Cmd) -> Answer {
    let (slot, _) = connected.link.send(command)?;
    slot.answer().await
}

/// Redis, then the body: the computation of a sync miss.
fn fill<R, V>(
    level: &RedisLevel,
    shared: Option<&Shared>,
    compute: impl FnOnce() -> R,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    ttl_of: impl FnOnce(&V, Duration) -> Duration,
) -> Filled<R, V>
where
    V: Serialize + DeserializeOwned,
{
    if let Some(shared) = shared {
        let answer = request(&shared.connected, shared.fetch_command(level));
        if let Fetched::Hit(value, remaining) = shared.read_fetch(level, answer) {
            return Filled::FromRedis(value, remaining);
        }
    }
    level.count_computation();
    let result = compute();
    let landing = to_cache(&result);
    if let (Some(shared), Some(landing)) = (shared, &landing) {
        let ttl = landing.ttl(Some(shared.ttl)).unwrap_or(shared.ttl);
        let ttl = ttl_of(&landing.value, ttl);
        let store = level.store_command(&shared.connected, &shared.arguments, &landing.value, ttl);
        if let Some(store) = store {
            level.read_write(request(&shared.connected, store));
        }
    }
    Filled::Computed(result, landing)
}

/// [`fill`], awaiting Redis.
async fn fill_async<R, V, F>(
    level: &RedisLevel,
    shared: Option<&Shared>,
    compute: impl FnOnce() -> F,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    ttl_of: impl FnOnce(&V, Duration) -> Duration,
) -> Filled<R, V>
where
    V: Serialize + DeserializeOwned,
    F: Future<Output = R>,
{
    if let Some(shared) = shared {
        let answer = request_async(&shared.connected, shared.fetch_command(level)).await;
        if let Fetched::Hit(value, remaining) = shared.read_fetch(level, answer) {
            return Filled::FromRedis(value, remaining);
        }
    }
    level.count_computation();
    let result = compute().await;
    let landing = to_cache(&result);
    if let (Some(shared), Some(landing)) = (shared, &landing) {
        let ttl = landing.ttl(Some(shared.ttl)).unwrap_or(shared.ttl);
        let ttl = ttl_of(&landing.value, ttl);
        let store = level.store_command(&shared.connected, &shared.arguments, &landing.value, ttl);
        if let Some(store) = store {
            level.read_write(request_async(&shared.connected, store).await);
        }
    }
    Filled::Computed(result, landing)
}

/// The single-flight miss path of a sync `redis = true` function, after its lookup
/// missed.
pub fn compute_after_miss<K, V, R>(
    map: &TtlMap<K, V>,
    level: &RedisLevel,
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
    let shared = Shared::new(level, map, &key);
    let filled = flight::compute_after_miss(
        map.inner(),
        miss.hash,
        key,
        || {
            fill(level, shared.as_ref(), compute, to_cache, |value, ttl| {
                capped(map, value, ttl)
            })
        },
        Filled::landing,
        Filled::Stored,
    );
    filled.into_result(from_cache)
}

/// The single-flight miss path of an async `redis = true` function.
pub async fn compute_after_miss_async<K, V, R, F>(
    map: &TtlMap<K, V>,
    level: &RedisLevel,
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
    let shared = Shared::new(level, map, &key);
    let filled = flight::compute_after_miss_async(
        map.inner(),
        miss.hash,
        key,
        || {
            fill_async(level, shared.as_ref(), compute, to_cache, |value, ttl| {
                capped(map, value, ttl)
            })
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

/// Stores a value filled without single flight (`single_flight = false`).
fn land_unshared<K, R, V>(map: &TtlMap<K, V>, key: K, filled: &Filled<R, V>)
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    if let Some(landing) = filled.landing() {
        let ttl = landing.ttl(map.ttl()).unwrap_or(Duration::MAX);
        map.insert_with_ttl(key, landing.value, ttl);
    }
}

/// The miss path of a sync `redis = true` function with `single_flight = false`.
pub fn compute_unshared<K, V, R>(
    map: &TtlMap<K, V>,
    level: &RedisLevel,
    _miss: Miss,
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
    let shared = Shared::new(level, map, &key);
    let filled = fill(level, shared.as_ref(), compute, to_cache, |value, ttl| {
        capped(map, value, ttl)
    });
    land_unshared(map, key, &filled);
    filled.into_result(from_cache)
}

/// The miss path of an async `redis = true` function with `single_flight = false`.
pub async fn compute_unshared_async<K, V, R, F>(
    map: &TtlMap<K, V>,
    level: &RedisLevel,
    _miss: Miss,
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
    let shared = Shared::new(level, map, &key);
    let filled = fill_async(level, shared.as_ref(), compute, to_cache, |value, ttl| {
        capped(map, value, ttl)
    })
    .await;
    land_unshared(map, key, &filled);
    filled.into_result(from_cache)
}

/// `_refresh`: the fresh value, in the map and in Redis, without waiting for Redis's
/// answer (commands run in order, so this process's next read sees it).
pub fn store<K, V>(map: &TtlMap<K, V>, level: &RedisLevel, key: K, landing: Landing<V>)
where
    K: Hash + Eq + Send + Sync + 'static + Serialize,
    V: Clone + Send + Sync + 'static + Serialize,
{
    if let Some(shared) = Shared::new(level, map, &key) {
        let ttl = landing.ttl(Some(shared.ttl)).unwrap_or(shared.ttl);
        let ttl = capped(map, &landing.value, ttl);
        let store = level.store_command(&shared.connected, &shared.arguments, &landing.value, ttl);
        if let Some(store) = store {
            shared.connected.link.send_detached(store);
        }
    }
    crate::__private::store_landing(map, key, landing);
}

/// `_invalidate`: deletes the entry in Redis (the map's part is `remove_hashed`), without waiting for the answer.
pub fn remove<K: Serialize + ?Sized>(level: &RedisLevel, key: &K) {
    if let (Some(connected), Some(arguments)) = (connected(), level.arguments(key)) {
        connected
            .link
            .send_detached(level.remove_command(&connected, &arguments));
    }
}

/// `_clear`: a new generation, without waiting for the answer.
pub fn clear(level: &RedisLevel) {
    if let Some(connected) = connected() {
        connected
            .link
            .send_detached(level.clear_command(&connected));
    }
}
