//! Deadlines: when an entry stops being live, and the per-shard index of them.
//!
//! Every entry stores one `u64` deadline on its map's clock. Entries that never expire
//! get a deadline in the far future, `NEVER + time of insertion`, which keeps them
//! ordered oldest-first for capacity eviction and can never be reached by a clock
//! (2^62 ns is 146 years of uptime).
//!
//! The index is a min-heap of [`Due`] records `(deadline, key hash)`. Why a heap and not
//! a FIFO: with one TTL per map, deadlines arrive in order and a FIFO would do, but
//! `insert_with_ttl` and sliding expiry make them arrive out of order. A binary heap
//! stays correct for both and costs little where a FIFO would have been enough: a push
//! of a deadline later than its parent's (the one-TTL case) stops after one comparison,
//! so inserts pay O(1); only the sweeper pays O(log n) per removal, off the hot path.
//!
//! Records are never updated in place. Overwriting a key pushes a new record and leaves
//! the old one stale; a stale record is recognised when it comes due (no entry with
//! that hash has that deadline) and dropped, so it can never remove a newer entry. To
//! bound the memory of stale records under heavy overwriting, a shard rebuilds its
//! heap from its table when stale records outnumber live ones.

use crate::clock::{duration_to_nanos, Nanos};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// Deadlines at or above this never come due.
pub(crate) const NEVER: Nanos = 1 << 62;

/// The deadline of an entry written at `now` with `ttl` (`None`: never expires).
pub(crate) fn deadline_after(now: Nanos, ttl: Option<Duration>) -> Nanos {
    match ttl {
        Some(ttl) => {
            let deadline = now.saturating_add(duration_to_nanos(ttl));
            if deadline >= NEVER {
                never_after(now)
            } else {
                deadline
            }
        }
        None => never_after(now),
    }
}

fn never_after(now: Nanos) -> Nanos {
    NEVER.saturating_add(now.min(NEVER - 1))
}

/// Whether an entry with this deadline is live at `now`: live while `now < deadline`.
#[inline]
pub(crate) fn is_live(deadline: Nanos, now: Nanos) -> bool {
    now < deadline
}

/// Whether a deadline can ever come due.
pub(crate) fn expires(deadline: Nanos) -> bool {
    deadline < NEVER
}

/// One index record: the entry whose key hashes to `hash` had deadline `at` when the
/// record was pushed. Ordered by `at` first, so the heap's top is the next one due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Due {
    pub(crate) at: Nanos,
    pub(crate) hash: u64,
}

/// An emptied heap allocation, freed when dropped.
pub(crate) struct SpareIndex(#[allow(dead_code)] BinaryHeap<Reverse<Due>>);

/// A min-heap of [`Due`] records.
#[derive(Debug, Default)]
pub(crate) struct DeadlineIndex {
    heap: BinaryHeap<Reverse<Due>>,
    /// How many records can ever come due (`at < NEVER`): tells the sweeper whether
    /// this shard needs it at all.
    expiring: usize,
}

impl DeadlineIndex {
    pub(crate) fn push(&mut self, due: Due) {
        if expires(due.at) {
            self.expiring += 1;
        }
        self.heap.push(Reverse(due));
    }

    /// The earliest record, if any.
    pub(crate) fn peek(&self) -> Option<Due> {
        self.heap.peek().map(|Reverse(due)| *due)
    }

    /// Removes and returns the earliest record.
    pub(crate) fn pop(&mut self) -> Option<Due> {
        let Reverse(due) = self.heap.pop()?;
        if expires(due.at) {
            self.expiring -= 1;
        }
        Some(due)
    }

    /// Removes and returns the earliest record if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Nanos) -> Option<Due> {
        match self.peek() {
            Some(due) if due.at <= now => self.pop(),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.heap.capacity()
    }

    /// Once the heap is under a quarter full, moves its records to a smaller one and
    /// returns the old allocation, for the caller to free outside its lock.
    pub(crate) fn shrink_if_sparse(&mut self) -> Option<SpareIndex> {
        let len = self.heap.len();
        if self.heap.capacity() <= 64 || self.heap.capacity() <= 4 * len {
            return None;
        }
        let mut smaller = BinaryHeap::with_capacity(2 * len);
        smaller.extend(self.heap.drain());
        Some(SpareIndex(std::mem::replace(&mut self.heap, smaller)))
    }

    /// Whether any record can ever come due.
    pub(crate) fn has_expiring(&self) -> bool {
        self.expiring > 0
    }

    pub(crate) fn clear(&mut self) {
        self.heap = BinaryHeap::new();
        self.expiring = 0;
    }

    /// Replaces every record with exactly `live` (one per entry that needs one).
    pub(crate) fn rebuild(&mut self, live: impl Iterator<Item = Due>) {
        let records: Vec<Reverse<Due>> = live.map(Reverse).collect();
        self.expiring = records.iter().filter(|Reverse(d)| expires(d.at)).count();
        // `From<Vec>` heapifies in O(n), cheaper than n pushes.
        self.heap = BinaryHeap::from(records);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_live_strictly_before_its_deadline() {
        let deadline = deadline_after(100, Some(Duration::from_nanos(50)));
        assert!(is_live(deadline, 149));
        assert!(!is_live(deadline, 150));
    }

    #[test]
    fn entries_without_ttl_never_come_due_but_keep_insertion_order() {
        let older = deadline_after(5, None);
        let newer = deadline_after(6, None);
        assert!(!expires(older));
        assert!(older < newer);
        assert!(is_live(older, NEVER - 1));
    }

    #[test]
    fn a_huge_ttl_means_never() {
        assert!(!expires(deadline_after(10, Some(Duration::MAX))));
    }

    #[test]
    fn the_index_pops_the_earliest_due_record_first() {
        let mut index = DeadlineIndex::default();
        index.push(Due { at: 30, hash: 1 });
        index.push(Due { at: 10, hash: 2 });
        index.push(Due { at: NEVER, hash: 3 });
        assert_eq!(index.pop_due(9), None);
        assert_eq!(index.pop_due(10), Some(Due { at: 10, hash: 2 }));
        assert_eq!(index.pop_due(100), Some(Due { at: 30, hash: 1 }));
        assert!(!index.has_expiring());
        assert_eq!(index.len(), 1);
    }
}
