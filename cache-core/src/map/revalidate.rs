//! One background refresh per key at a time: the claim a refresher holds on its key,
//! and how it lands (stores the new value, or leaves the stale one, counted).
//!
//! A claim is let go on every path, a panic or a dropped (cancelled) async refresh
//! included, so that a key is never left "being refreshed" forever. This module never
//! holds the `refreshing` lock while user code runs (`init`, `Hash`/`Eq` aside) or
//! while it stores.

use super::inner::Inner;
use crate::flight::Landing;
use std::hash::Hash;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, PoisonError};

/// The right to refresh one key, until it lands or is dropped (a failure).
pub(crate) struct RefreshClaim<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    inner: Arc<Inner<K, V>>,
    /// `None` once let go.
    key: Option<K>,
}

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Claims the refresh of `key`, counted as started; `None` if one is running.
    pub(crate) fn claim_refresh(self: &Arc<Self>, key: K) -> Option<RefreshClaim<K, V>>
    where
        K: Clone,
    {
        {
            let mut refreshing = self
                .refreshing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if refreshing.contains(&key) {
                return None;
            }
            refreshing.push(key.clone());
        }
        self.refreshes.started.fetch_add(1, Relaxed);
        Some(RefreshClaim {
            inner: Arc::clone(self),
            key: Some(key),
        })
    }

    /// Starts one background refresh of `key` (none if one is running): `init` runs on
    /// the refresh pool and what it lands is stored with the map's TTL (or the
    /// landing's, if shorter). A panic in `init`, or nothing to store (`None`: a
    /// failed result of a `#[ttl_cached]` body), leaves the stale value in place, and
    /// is counted as a failed refresh.
    pub(crate) fn start_refresh(
        self: &Arc<Self>,
        key: K,
        init: impl FnOnce() -> Option<Landing<V>> + Send + 'static,
    ) where
        K: Clone,
    {
        let Some(claim) = self.claim_refresh(key) else {
            return;
        };
        crate::refresh::spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(init));
            // A panic drops the claim unlanded: a failure.
            if let Ok(landing) = outcome {
                claim.land(landing);
            }
        });
    }
}

impl<K, V> RefreshClaim<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Stores what the refresh computed (`None`: nothing, a failure, and the stale
    /// value stays), then lets the key go. Whether it was stored.
    pub(crate) fn land(mut self, landing: Option<Landing<V>>) -> bool
    where
        K: Clone,
    {
        let Some(key) = self.key.take() else {
            return false;
        };
        let inner = Arc::clone(&self.inner);
        let stored = landing.is_some_and(|landing| {
            // Stored before the key is let go, so a caller that finds no refresh
            // running finds the new value.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let ttl = landing.ttl(inner.ttl);
                inner.insert(key.clone(), landing.value, ttl);
            }))
            .is_ok()
        });
        let counter = if stored {
            &inner.refreshes.succeeded
        } else {
            &inner.refreshes.failed
        };
        counter.fetch_add(1, Relaxed);
        inner.release_refresh(&key);
        stored
    }
}

impl<K, V> Drop for RefreshClaim<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Not landed: the refresh panicked, or (async) was dropped before it finished.
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.inner.refreshes.failed.fetch_add(1, Relaxed);
            self.inner.release_refresh(&key);
        }
    }
}

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn release_refresh(&self, key: &K) {
        let mut refreshing = self
            .refreshing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        refreshing.retain(|running| running != key);
    }
}
