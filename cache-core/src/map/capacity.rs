//! Capacity: the count of stored entries of a capacity-bounded map, and eviction when
//! an insert takes it over the bound.
//!
//! The count changes only under the lock of the shard whose table changes, so it
//! never wraps and never makes an eviction that the map's contents do not call for.
//! This module must never hold two shard locks at once.

use super::inner::{as_count, Inner};
use crate::shard::{Entry, Shard};
use crate::stats::Counters;
use crate::time::Nanos;
use std::hash::Hash;
use std::sync::atomic::Ordering;

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Counts an entry just added, under its shard's lock; whether the map is now over
    /// its capacity. The count changes only under the lock of the shard whose table
    /// changes, so a racing `clear` or removal can never see an entry that is not
    /// counted yet, and the count never wraps below zero (which would evict far below
    /// capacity).
    pub(super) fn count_new_entry(&self) -> bool {
        self.capacity.is_some_and(|capacity| {
            self.stored.fetch_add(1, Ordering::AcqRel) >= as_count(capacity)
        })
    }

    /// Uncounts removed entries: call it under the lock of the shard they left (see
    /// [`count_new_entry`](Self::count_new_entry)).
    pub(super) fn forget(&self, removed: usize) {
        if self.capacity.is_some() && removed > 0 {
            self.stored.fetch_sub(as_count(removed), Ordering::AcqRel);
        }
    }

    /// Evicts oldest entries until the map is back within its capacity (if it has one).
    /// Each eviction is first claimed on the shared count, so concurrent inserters
    /// never evict more than the excess between them.
    pub(super) fn evict_over_capacity(&self) {
        let Some(capacity) = self.capacity else {
            return;
        };
        // Bounded so that claims racing removals (each claim lowers the count before its
        // entry leaves) cannot keep it looping.
        let mut attempts = self.shards.len() * 2 + 8;
        while attempts > 0 {
            attempts -= 1;
            let claimed = self
                .stored
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |stored| {
                    (stored > as_count(capacity)).then(|| stored - 1)
                })
                .is_ok();
            if !claimed {
                return;
            }
            match self.take_oldest() {
                Some((entry, counters)) => {
                    if entry.is_live(self.clock.precise_now()) {
                        counters.evicted(1);
                    } else {
                        counters.expired(1);
                    }
                }
                // A concurrent removal got there first and decremented too: give back.
                None => {
                    self.stored.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
    }

    /// Removes the entry with the earliest deadline across all shards, one shard lock
    /// at a time. A shard's top record is a lower bound of its oldest entry (stale
    /// records are never later than the entry that replaced them), so the shard with
    /// the lowest top holds the oldest entry once its stale records are dropped; if
    /// dropping them shows otherwise, look again.
    pub(super) fn take_oldest(&self) -> Option<(Entry<K, V>, &Counters)> {
        let mut tops: Vec<Option<Nanos>> = self
            .shards()
            .map(|shard| shard.read().oldest_deadline())
            .collect();
        loop {
            let (chosen, _) = tops
                .iter()
                .enumerate()
                .filter_map(|(at, top)| Some((at, (*top)?)))
                .min_by_key(|(_, top)| *top)?;
            let bound = tops
                .iter()
                .enumerate()
                .filter(|(at, _)| *at != chosen)
                .filter_map(|(_, top)| *top)
                .min()
                .unwrap_or(Nanos::MAX);
            let shard = Shard::new(&self.shards, chosen);
            let taken = shard
                .write()
                .take_oldest_within(bound, self.policy, &self.hasher);
            match taken {
                Ok(entry) => return Some((entry, shard.counters())),
                Err(top) => tops[chosen] = top,
            }
        }
    }
}
