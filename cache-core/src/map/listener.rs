//! Eviction listeners: what a map tells its user about the entries that leave it.
//!
//! This module owns [`EvictionCause`] and the one way entries leave a map once they
//! are out of its table: [`Departures::send`], which hands each to the listener (or
//! drops it) with no lock held, one at a time, catching panics so that one
//! listener's panic never costs another entry its notification. It must never be
//! called while a shard lock is held: a listener is user code, and may use the map.

use crate::shard::{drop_each, Entry, Panic};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Why an entry left a map: the third argument of a listener set with
/// [`TtlMapBuilder::on_evict`](crate::TtlMapBuilder::on_evict).
///
/// # Examples
///
/// ```
/// use cache_core::{EvictionCause, TtlMap};
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let map = TtlMap::builder()
///     .on_evict(move |key: &&str, value: u32, cause| {
///         log.lock().unwrap().push((*key, value, cause));
///     })
///     .build();
/// map.insert("a", 1);
/// map.insert("a", 2);
/// map.remove("a");
/// assert_eq!(
///     *seen.lock().unwrap(),
///     [("a", 1, EvictionCause::Replaced), ("a", 2, EvictionCause::Removed)]
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EvictionCause {
    /// Its TTL ended: removed by the sweeper, by [`TtlMap::sweep`](crate::TtlMap::sweep),
    /// by a lookup that found it expired, or found expired when it was about to leave
    /// for another reason (an expired entry is always reported as expired).
    Expired,
    /// The map was full: the capacity policy chose it (see
    /// [`TtlMapBuilder::capacity`](crate::TtlMapBuilder::capacity)).
    Capacity,
    /// Removed by the user: [`TtlMap::remove`](crate::TtlMap::remove), a generated
    /// `_invalidate`, or refused by [`TtlMap::retain`](crate::TtlMap::retain).
    Removed,
    /// A new value was stored under its key.
    Replaced,
    /// [`TtlMap::clear`](crate::TtlMap::clear) (or a generated `_clear`).
    Cleared,
}

/// A map's listener, as the builder stores it.
pub(crate) type Listener<K, V> = Box<dyn Fn(&K, V, EvictionCause) + Send + Sync>;

/// Where the entries that leave a map go: its listener, if it has one; else they are
/// dropped.
pub(crate) struct Departures<'a, K, V>(pub(crate) Option<&'a Listener<K, V>>);

impl<K, V> Departures<'_, K, V> {
    /// Hands each entry to the listener with its cause (or drops it), on this thread,
    /// catching panics; the first is returned, for the caller to resume once its
    /// bookkeeping is done.
    pub(crate) fn send(
        &self,
        entries: impl IntoIterator<Item = Entry<K, V>>,
        cause: impl Fn(&Entry<K, V>) -> EvictionCause,
    ) -> Option<Panic> {
        let Some(listener) = self.0 else {
            return drop_each(entries);
        };
        let mut first = None;
        for entry in entries {
            let cause = cause(&entry);
            let Entry { key, value, .. } = entry;
            // The key is dropped after the call, caught on its own: a panicking `Drop`
            // of a key must not hide the listener's outcome, nor the other way round.
            let called = catch_unwind(AssertUnwindSafe(|| listener(&key, value, cause)));
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(key)));
            for outcome in [called, dropped] {
                if let Err(panic) = outcome {
                    first.get_or_insert(panic);
                }
            }
        }
        first
    }

    /// [`send`](Self::send) for one entry, resuming a panic at once.
    pub(crate) fn send_one(&self, entry: Entry<K, V>, cause: EvictionCause) {
        if let Some(panic) = self.send([entry], |_| cause) {
            std::panic::resume_unwind(panic);
        }
    }

    /// Whether anyone listens.
    pub(crate) fn listening(&self) -> bool {
        self.0.is_some()
    }

    /// Reports `entry`, whose value the caller also gets back: the listener gets a
    /// clone (no clone when nobody listens).
    pub(crate) fn hand_back(&self, entry: Entry<K, V>, cause: EvictionCause) -> V
    where
        V: Clone,
    {
        if self.0.is_none() {
            return entry.value;
        }
        let value = entry.value.clone();
        self.send_one(entry, cause);
        value
    }
}
