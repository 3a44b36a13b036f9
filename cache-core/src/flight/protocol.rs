//! The single-flight protocol itself: a caller that missed joins the computation
//! under way for its key or leads it, and a leader always lands its flight, even when
//! its computation panics or (async) its future is dropped.
//!
//! The map provides the two halves that need its shards ([`FlightHost`]); this module
//! decides who computes, who waits, and what a waiter does when told to retry. It
//! must never hold a lock of the map while the user's computation runs.

use super::{lead_polling, Landing, Leader, Step};
use std::future::Future;
use std::marker::PhantomData;

/// What the protocol needs of a map: the halves that run under a shard's write lock.
pub(crate) trait FlightHost<K, V> {
    /// Under the key's shard write lock: the stored live value, or the flight under
    /// way for `key` to wait on, or a new flight led by `me` (which takes the key).
    /// A step that has the caller compute (`Lead`, `Reentered`) is counted as a
    /// computation there, under the lock.
    fn join_or_lead(&self, hash: u64, key: K, me: Leader) -> Step<K, V>;

    /// Ends flight `id`: stores `value` (if any) and removes the flight under one
    /// write lock, then wakes the waiters with no lock held.
    fn land(&self, hash: u64, id: u64, value: Option<Landing<V>>);
}

/// The miss path of a sync single-flight caller, after its lookup missed: join the
/// computation under way for `key`, or lead it; the leader runs `compute` with no lock
/// held.
///
/// `to_cache` picks what of the result to store, and at most for how long (`None`:
/// store nothing and let a waiter retry); `from_cache` turns a stored value into the
/// caller's result.
pub(crate) fn compute_after_miss<K, V: Clone, R>(
    host: &impl FlightHost<K, V>,
    hash: u64,
    key: K,
    compute: impl FnOnce() -> R,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    from_cache: impl FnOnce(V) -> R,
) -> R {
    let me = Leader::this_thread();
    let mut key = key;
    let id = loop {
        match host.join_or_lead(hash, key, me) {
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
    let abandon = AbandonOnDrop::new(host, hash, id);
    let result = compute();
    let value = to_cache(&result);
    abandon.land(value);
    result
}

/// [`compute_after_miss`] for async callers: waiters await the leader without
/// blocking a thread, and if the leader's future is dropped (cancelled) the flight is
/// abandoned, so a waiter takes over. A call for the same key from inside the leader's
/// own `init` computes its own value, as the sync form does, instead of awaiting itself.
pub(crate) async fn compute_after_miss_async<K, V: Clone, R, F>(
    host: &impl FlightHost<K, V>,
    hash: u64,
    key: K,
    compute: impl FnOnce() -> F,
    to_cache: impl FnOnce(&R) -> Option<Landing<V>>,
    from_cache: impl FnOnce(V) -> R,
) -> R
where
    F: Future<Output = R>,
{
    let me = Leader::new_task();
    let mut key = key;
    let id = loop {
        match host.join_or_lead(hash, key, me) {
            Step::Stored(value) => return from_cache(value),
            Step::Reentered => return compute().await,
            Step::Wait(returned, signal) => match signal.settled().await {
                Some(value) => return from_cache(value),
                None => key = returned,
            },
            Step::Lead(id) => break id,
        }
    };
    let abandon = AbandonOnDrop::new(host, hash, id);
    let result = lead_polling(me, compute()).await;
    let value = to_cache(&result);
    abandon.land(value);
    result
}

/// Held by a flight's leader while its computation runs: if the computation panics, or
/// (async) its future is dropped, the flight is abandoned so that a waiter takes over.
struct AbandonOnDrop<'a, H: FlightHost<K, V>, K, V> {
    host: &'a H,
    hash: u64,
    /// The flight's id; `None` once landed.
    id: Option<u64>,
    _types: PhantomData<fn(K, V)>,
}

impl<'a, H: FlightHost<K, V>, K, V> AbandonOnDrop<'a, H, K, V> {
    fn new(host: &'a H, hash: u64, id: u64) -> Self {
        AbandonOnDrop {
            host,
            hash,
            id: Some(id),
            _types: PhantomData,
        }
    }

    /// The computation finished: land the flight with what it produced.
    fn land(mut self, value: Option<Landing<V>>) {
        if let Some(id) = self.id.take() {
            self.host.land(self.hash, id, value);
        }
    }
}

impl<H: FlightHost<K, V>, K, V> Drop for AbandonOnDrop<'_, H, K, V> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.host.land(self.hash, id, None);
        }
    }
}
