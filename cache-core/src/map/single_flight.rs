//! The map's half of single flight (see `flight/`): under the key's shard write lock,
//! join or register a flight, and land one (store its value, take it out) so that no
//! caller can ever find neither the flight nor the value.
//!
//! This module must never wake a waiter while it holds a shard lock: a waker is
//! executor code, which may use the map.

use super::inner::Inner;
use crate::flight::{FlightHost, Landing, Leader, Signal, Step};
use std::hash::Hash;
use std::sync::Arc;

impl<K, V> FlightHost<K, V> for Arc<Inner<K, V>>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn join_or_lead(&self, hash: u64, key: K, me: Leader) -> Step<K, V> {
        let mut state = self.shard(hash).write();
        if let Some(entry) = state.find(hash, |stored| *stored == key) {
            if self.is_live(entry) {
                return Step::Stored(entry.value.clone());
            }
        }
        let step = state.flights.join_or_register(hash, key, me);
        if matches!(step, Step::Lead(_) | Step::Reentered) {
            // Counted here, under the write lock, with a plain store: a read-modify-
            // write once the lock is let go would wait for the unlock's store (a few
            // percent of a miss, measured).
            self.shard(hash).counters().computed_under_lock();
        }
        step
    }

    /// Ends flight `id`: takes it out of its shard, stores `value` (if any) under the
    /// same lock, so that no caller can find neither the flight nor the entry, then
    /// wakes the waiters, if any came, once every lock is released (a waker runs
    /// executor code, which may use this map). They are woken even if storing unwinds.
    fn land(&self, hash: u64, id: u64, value: Option<Landing<V>>) {
        struct SettleOnDrop<V: Clone> {
            signal: Option<Arc<Signal<V>>>,
            stored: Option<V>,
        }
        impl<V: Clone> Drop for SettleOnDrop<V> {
            fn drop(&mut self) {
                if let Some(signal) = &self.signal {
                    signal.settle(self.stored.take());
                }
            }
        }

        let ttl = match &value {
            Some(landing) => self.ttl_for(&landing.value, landing.ttl(self.ttl)),
            None => self.ttl,
        };
        let deadline = self.deadline_at(self.clock.deadline_now(), ttl);
        // Declared before the guard, so dropped after it, on every path.
        let mut settle = SettleOnDrop {
            signal: None,
            stored: None,
        };
        let mut state = self.shard(hash).write();
        let Some(mut flight) = state.flights.take(id) else {
            return;
        };
        settle.signal = flight.signal.take();
        match value {
            Some(Landing {
                value,
                unless_moved: Some(epoch),
                ..
            }) if epoch.moved() => {
                // Invalidated on its way: the waiters get it (it was current when
                // read, as the leader's own caller does), the map does not.
                drop(state);
                settle.stored = settle.signal.is_some().then_some(value);
                drop(flight);
            }
            Some(Landing { value, .. }) => {
                if settle.signal.is_some() {
                    settle.stored = Some(value.clone());
                }
                // The replaced value, if any, is dropped after the lock is released.
                let _replaced = self.store(state, hash, flight.key, value, deadline);
            }
            None => {
                drop(state);
                drop(flight);
            }
        }
    }
}
