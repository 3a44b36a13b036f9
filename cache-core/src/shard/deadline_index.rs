//! The per-shard index of deadlines: which entries come due next.
//!
//! The index: a FIFO queue of 8-byte records for deadlines that arrive in order (with
//! one TTL per map, all of them) and a min-heap of [`Due`] records for the others
//! (`insert_with_ttl`, sliding expiry); see [`DeadlineIndex`]. With one TTL an insert
//! appends to the queue and the sweeper takes from its front: O(1) both ways, and
//! 8 bytes per entry (a heap of `(deadline, hash)` pairs took 16 and a cache miss per
//! insert).
//!
//! Records are never updated in place. Overwriting a key pushes a new record and leaves
//! the old one stale; a stale record is recognised when it comes due (no entry with
//! that hash has that deadline, or that deadline's tag) and dropped, so it can never
//! remove a newer entry. To bound the memory of stale records under heavy overwriting,
//! a shard rebuilds its index from its table when they outnumber live ones (into the
//! heap, in O(n); the queue takes the records pushed after).
//!
//! This module must never decide that an entry expired: it only says where to look;
//! the shard checks the entry's own deadline.

use crate::hash::FREE_BITS;
use crate::time::deadline::{expires, Nanos};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// One index record: the entry whose key hashes to `hash` had deadline `at` when the
/// record was pushed. Ordered by `at` first, so the heap's top is the next one due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Due {
    pub(crate) at: Nanos,
    pub(crate) hash: u64,
}

/// A record in the queue, 8 bytes: the key hash, with a tag of the deadline in the bits
/// every key hash leaves zero ([`FREE_BITS`]). The deadline itself is the entry's: the
/// tag tells whether the entry found by the hash is still the one the record was
/// pushed for (a key overwritten since has a new deadline, so almost surely a new tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Queued(u64);

impl Queued {
    pub(crate) fn new(due: Due) -> Self {
        debug_assert_eq!(due.hash & FREE_BITS, 0, "hashes come from KeyHasher");
        Queued(due.hash | tag_of(due.at))
    }

    /// The key hash of the entry this record is for.
    pub(crate) fn hash(self) -> u64 {
        self.0 & !FREE_BITS
    }

    /// Whether an entry with this `deadline` may be the one this record was pushed for.
    /// Wrong, at odds of 1 in 512, for an entry overwritten since: see [`DeadlineIndex`].
    #[inline]
    pub(crate) fn is_for(self, deadline: Nanos) -> bool {
        self.0 & FREE_BITS == tag_of(deadline)
    }
}

/// Appends `record` to `queue`, growing it no further than `limit` records by itself
/// (0: no limit; past the limit it doubles as usual): a bounded shard's queues stop at
/// the size its quota needs instead of the next power of two, which at 1M entries
/// was up to 8 bytes an entry per queue.
#[inline]
pub(crate) fn push_within(queue: &mut VecDeque<Queued>, record: Queued, limit: usize) {
    make_room_within(queue, limit);
    queue.push_back(record);
}

/// Makes room in `queue` for one more record, growing it no further than `limit`
/// records (see [`push_within`]).
#[inline]
pub(crate) fn make_room_within(queue: &mut VecDeque<Queued>, limit: usize) {
    if queue.len() == queue.capacity() && queue.len() < limit {
        let room = (limit - queue.len()).min(queue.len().max(8));
        queue.reserve_exact(room);
    }
}

/// Nine bits that depend on every bit of `at`, placed at [`FREE_BITS`].
fn tag_of(at: Nanos) -> u64 {
    let mixed = at.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 55) << FREE_BITS.trailing_zeros()
}

/// Emptied index allocations, freed when dropped.
pub(crate) struct SpareIndex {
    _queue: VecDeque<Queued>,
    _heap: BinaryHeap<Reverse<Due>>,
}

/// The deadlines of one shard's entries, earliest first.
///
/// Two parts. Records pushed in deadline order, which is nearly all of them when a map
/// has one TTL, go to a FIFO **queue** of 8-byte [`Queued`] records: a push appends,
/// touching only the queue's end (a heap's push reads a parent far away, a cache miss
/// on every insert), and a pop takes the front. The rest (`insert_with_ttl` with a
/// shorter TTL, sliding expiry, records that never come due) go to a min-**heap** of
/// 16-byte [`Due`] records.
///
/// A queued record does not store its deadline: when it reaches the front, the index
/// asks the shard for the deadline of its entry (a `resolve` function: the deadline of
/// the entry with the record's hash that the record [`is_for`](Queued::is_for), if
/// any) and keeps it in `front_at`. Records with no such entry are stale (the entry was
/// removed or overwritten) and dropped then. If an overwrite kept the tag (1 in 512),
/// the stale record takes the new, later deadline; a sweep that finds nothing due
/// sees it out of order against the record behind it and moves it to the heap (see
/// `unblock_queue`), so the records queued behind it are not held back. Records are
/// never handed out early, and lookups expire entries exactly whatever the index
/// says. Two kinds of maps use the heap alone: sliding expiry moves deadlines
/// without pushing records, which the tag would take for staleness; and a
/// capacity-bounded map evicts the entry closest to expiry, which a wrong tag could
/// make it get wrong.
#[derive(Debug)]
pub(crate) struct DeadlineIndex {
    /// Records that can come due (`at < NEVER`), in deadline order.
    queue: VecDeque<Queued>,
    /// The deadline of the queue's front record (meaningless while the queue is empty).
    /// A lower bound of when its entry expires: the entry can only have moved later.
    front_at: Nanos,
    /// The deadline of the last record queued: an earlier one goes to the heap.
    back_at: Nanos,
    heap: BinaryHeap<Reverse<Due>>,
    /// How many heap records can come due.
    heap_expiring: usize,
    /// False for maps that use the heap alone (see above).
    queue_allowed: bool,
    /// The most records the queue grows to by itself (see [`push_within`]); 0: no
    /// limit.
    queue_limit: usize,
}

impl DeadlineIndex {
    /// An empty index; `heap_only` for maps that cannot use the queue (see above).
    pub(crate) fn new(heap_only: bool) -> Self {
        DeadlineIndex {
            queue: VecDeque::new(),
            front_at: 0,
            back_at: 0,
            heap: BinaryHeap::new(),
            heap_expiring: 0,
            queue_allowed: !heap_only,
            queue_limit: 0,
        }
    }

    /// Lets the queue grow by itself to `records` and no further (see [`push_within`]):
    /// for a shard that keeps its records below that (a bounded one).
    pub(crate) fn limit_queue(&mut self, records: usize) {
        self.queue_limit = records;
    }

    pub(crate) fn push(&mut self, due: Due) {
        let in_order = self.queue.is_empty() || due.at >= self.back_at;
        if self.queue_allowed && in_order && expires(due.at) {
            if self.queue.is_empty() {
                self.front_at = due.at;
            }
            push_within(&mut self.queue, Queued::new(due), self.queue_limit);
            self.back_at = due.at;
        } else {
            self.heap.push(Reverse(due));
            if expires(due.at) {
                self.heap_expiring += 1;
            }
        }
    }

    /// The earliest record, if any (its deadline is a lower bound: see `front_at`).
    pub(crate) fn peek(&self) -> Option<Due> {
        let queued = self.queue.front().map(|front| Due {
            at: self.front_at,
            hash: front.hash(),
        });
        let heaped = self.heap.peek().map(|Reverse(due)| *due);
        match (queued, heaped) {
            (Some(queued), Some(heaped)) => Some(queued.min(heaped)),
            (queued, heaped) => queued.or(heaped),
        }
    }

    /// Removes and returns the earliest record; `resolve` finds the deadline of the
    /// next queued record's entry (see [`DeadlineIndex`]).
    pub(crate) fn pop(&mut self, resolve: impl FnMut(Queued) -> Option<Nanos>) -> Option<Due> {
        let earliest = self.peek()?;
        let from_queue = self
            .heap
            .peek()
            .is_none_or(|Reverse(heaped)| earliest < *heaped);
        if from_queue {
            self.queue.pop_front();
            self.resolve_front(resolve);
        } else {
            self.heap.pop();
            if expires(earliest.at) {
                self.heap_expiring -= 1;
            }
        }
        Some(earliest)
    }

    /// Removes and returns the earliest record if it is due at `now`.
    pub(crate) fn pop_due(
        &mut self,
        now: Nanos,
        mut resolve: impl FnMut(Queued) -> Option<Nanos>,
    ) -> Option<Due> {
        if self.any_due(now, &mut resolve) {
            self.pop(resolve)
        } else {
            None
        }
    }

    /// Whether a record is due at `now`. Not [`peek`](Self::peek): a stale front that
    /// kept its tag can hide due records behind it, and this moves it out of their
    /// way first (see `unblock_queue`).
    pub(crate) fn any_due(
        &mut self,
        now: Nanos,
        mut resolve: impl FnMut(Queued) -> Option<Nanos>,
    ) -> bool {
        loop {
            match self.peek() {
                Some(due) if due.at <= now => return true,
                _ if self.unblock_queue(now, &mut resolve) => {}
                _ => return false,
            }
        }
    }

    /// When nothing is due: checks that the queue's front is not a stale record whose
    /// tag an overwrite kept (1 in 512), which took its entry's new, later deadline
    /// and would hold back every record behind it until then (and the memory of their
    /// expired entries). Queued records are in deadline order, so if the record behind
    /// the front is for an entry due earlier than the front's, the front is out of
    /// place: it moves to the heap, at its entry's deadline, where it comes due exactly
    /// then (stale or not, that is right), and the queue goes on. Returns whether it
    /// moved one. Stale records met behind the front are dropped on the way.
    ///
    /// One look per sweep round that finds nothing due. Not caught: a front whose next
    /// record is itself stale with a kept tag and an even later deadline (1 in 512 of
    /// the 1 in 512); such a front holds the queue back until its own deadline.
    fn unblock_queue(
        &mut self,
        now: Nanos,
        resolve: &mut impl FnMut(Queued) -> Option<Nanos>,
    ) -> bool {
        while self.front_at > now && self.queue.len() >= 2 {
            match resolve(self.queue[1]) {
                None => {
                    self.queue.remove(1);
                }
                Some(next_at) if next_at < self.front_at => {
                    let out_of_place = self.queue.pop_front().map(Queued::hash);
                    if let Some(hash) = out_of_place {
                        self.heap.push(Reverse(Due {
                            at: self.front_at,
                            hash,
                        }));
                        // Queued records always come due.
                        self.heap_expiring += 1;
                    }
                    self.front_at = next_at;
                    return true;
                }
                Some(_) => return false,
            }
        }
        false
    }

    /// Drops stale records off the queue's front until one resolves to a deadline.
    fn resolve_front(&mut self, mut resolve: impl FnMut(Queued) -> Option<Nanos>) {
        while let Some(&front) = self.queue.front() {
            if let Some(at) = resolve(front) {
                self.front_at = at;
                return;
            }
            self.queue.pop_front();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len() + self.heap.len()
    }

    /// Drops `record` if it is one of the last few queued (it is stale: its entry
    /// left). Only the queue's end is looked at, so it costs a few compares; a record
    /// further in stays until it comes due or the shard drops stale records. Never
    /// the front, whose entry's deadline `front_at` holds.
    pub(crate) fn forget_recent(&mut self, record: Queued) {
        const LOOK_BACK: usize = 4;
        let len = self.queue.len();
        let recent = (len.saturating_sub(LOOK_BACK).max(1)..len).rev();
        if let Some(at) = recent.into_iter().find(|&at| self.queue[at] == record) {
            self.queue.remove(at);
        }
    }

    /// Records in the heap.
    pub(crate) fn heap_len(&self) -> usize {
        self.heap.len()
    }

    /// Drops the queued records whose entry `resolve` does not find, keeping the rest
    /// in order, in place: no allocation, and the records stay 8 bytes (a
    /// [`rebuild`](Self::rebuild) moves them all to the heap, at 16).
    pub(crate) fn retain_queued(&mut self, mut resolve: impl FnMut(Queued) -> Option<Nanos>) {
        self.queue.retain(|&record| resolve(record).is_some());
        self.resolve_front(resolve);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.heap.is_empty()
    }

    /// Records the index has room for without allocating.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.queue.capacity() + self.heap.capacity()
    }

    /// Once a part is under a quarter full, moves its records to a smaller allocation
    /// and returns the old ones, for the caller to free outside its lock.
    pub(crate) fn shrink_if_sparse(&mut self) -> Option<SpareIndex> {
        let sparse = |len: usize, capacity: usize| capacity > 64 && capacity > 4 * len;
        let queue_sparse = sparse(self.queue.len(), self.queue.capacity());
        let heap_sparse = sparse(self.heap.len(), self.heap.capacity());
        if !queue_sparse && !heap_sparse {
            return None;
        }
        let mut spare = SpareIndex {
            _queue: VecDeque::new(),
            _heap: BinaryHeap::new(),
        };
        if queue_sparse {
            let mut smaller = VecDeque::with_capacity(2 * self.queue.len());
            smaller.extend(self.queue.drain(..));
            spare._queue = std::mem::replace(&mut self.queue, smaller);
        }
        if heap_sparse {
            let mut smaller = BinaryHeap::with_capacity(2 * self.heap.len());
            smaller.extend(self.heap.drain());
            spare._heap = std::mem::replace(&mut self.heap, smaller);
        }
        Some(spare)
    }

    /// Whether any record can ever come due.
    pub(crate) fn has_expiring(&self) -> bool {
        !self.queue.is_empty() || self.heap_expiring > 0
    }

    /// Drops every record and frees the memory.
    pub(crate) fn clear(&mut self) {
        let queue_limit = self.queue_limit;
        *self = DeadlineIndex::new(!self.queue_allowed);
        self.queue_limit = queue_limit;
    }

    /// Drops every record and keeps the memory, for a shard about to be refilled.
    pub(crate) fn clear_keeping_capacity(&mut self) {
        self.queue.clear();
        self.heap.clear();
        self.heap_expiring = 0;
    }

    /// Replaces every record with exactly `live` (one per entry that needs one), in the
    /// heap: `From<Vec>` heapifies in O(n), where ordering them for the queue would
    /// sort. The queue refills with the records pushed from then on.
    pub(crate) fn rebuild(&mut self, live: impl Iterator<Item = Due>) {
        let records: Vec<Reverse<Due>> = live.map(Reverse).collect();
        self.queue.clear();
        self.heap_expiring = records.iter().filter(|Reverse(d)| expires(d.at)).count();
        self.heap = BinaryHeap::from(records);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::deadline::NEVER;

    /// Entries as the shard's table holds them: key hash → deadline.
    struct Entries(std::collections::HashMap<u64, Nanos>);

    impl Entries {
        fn new(entries: &[(u64, Nanos)]) -> Self {
            Entries(entries.iter().copied().collect())
        }

        fn resolve(&self) -> impl Fn(Queued) -> Option<Nanos> + '_ {
            |record| {
                let at = *self.0.get(&record.hash())?;
                record.is_for(at).then_some(at)
            }
        }
    }

    fn pop_all_due(index: &mut DeadlineIndex, now: Nanos, entries: &Entries) -> Vec<Due> {
        std::iter::from_fn(|| index.pop_due(now, entries.resolve())).collect()
    }

    #[test]
    fn the_index_pops_the_earliest_due_record_first() {
        for heap_only in [false, true] {
            let entries = Entries::new(&[(1, 30), (2, 10), (3, NEVER), (4, 20)]);
            let mut index = DeadlineIndex::new(heap_only);
            index.push(Due { at: 10, hash: 2 });
            index.push(Due { at: 30, hash: 1 });
            // Out of order: goes to the heap, still comes out in deadline order.
            index.push(Due { at: 20, hash: 4 });
            index.push(Due { at: NEVER, hash: 3 });
            assert_eq!(index.pop_due(9, entries.resolve()), None);
            assert_eq!(
                pop_all_due(&mut index, 100, &entries),
                [
                    Due { at: 10, hash: 2 },
                    Due { at: 20, hash: 4 },
                    Due { at: 30, hash: 1 }
                ],
                "heap only: {heap_only}"
            );
            assert!(!index.has_expiring());
            assert_eq!(index.len(), 1);
        }
    }

    #[test]
    fn in_order_records_are_queued_and_take_their_deadline_from_the_entry() {
        let entries = Entries::new(&[(1, 10), (2, 20), (3, 30)]);
        let mut index = DeadlineIndex::new(false);
        for (hash, at) in [(1, 10), (2, 20), (3, 30)] {
            index.push(Due { at, hash });
        }
        assert_eq!(index.heap.len(), 0, "no record needed the heap");
        assert_eq!(index.peek(), Some(Due { at: 10, hash: 1 }));
        assert_eq!(
            index.pop_due(15, entries.resolve()),
            Some(Due { at: 10, hash: 1 })
        );
        assert_eq!(index.pop_due(15, entries.resolve()), None);
        assert_eq!(index.peek(), Some(Due { at: 20, hash: 2 }));
    }

    #[test]
    fn stale_queued_records_are_dropped_when_they_reach_the_front() {
        // Entry 2 was removed, entry 3 overwritten with a later deadline (a new record).
        let entries = Entries::new(&[(1, 10), (3, 45), (4, 40)]);
        let mut index = DeadlineIndex::new(false);
        for (hash, at) in [(1, 10), (2, 20), (3, 30), (4, 40), (3, 45)] {
            index.push(Due { at, hash });
        }
        assert_eq!(
            pop_all_due(&mut index, 100, &entries),
            [
                Due { at: 10, hash: 1 },
                Due { at: 40, hash: 4 },
                Due { at: 45, hash: 3 }
            ]
        );
        assert!(index.is_empty());
        assert!(!index.has_expiring());
    }

    #[test]
    fn a_rebuild_keeps_exactly_the_live_records_and_queues_what_follows() {
        let entries = Entries::new(&[(2, 20), (4, 40), (5, 5), (7, 70)]);
        let mut index = DeadlineIndex::new(false);
        for (hash, at) in [(1, 10), (2, 20), (3, 30), (4, 40), (5, 5), (2, 20)] {
            index.push(Due { at, hash });
        }
        index.rebuild(
            [(2, 20), (4, 40), (5, 5)]
                .map(|(hash, at)| Due { at, hash })
                .into_iter(),
        );
        assert_eq!(index.len(), 3);
        index.push(Due { at: 70, hash: 7 });
        assert_eq!(
            index.queue.len(),
            1,
            "records after a rebuild are queued again"
        );
        assert_eq!(
            pop_all_due(&mut index, 100, &entries),
            [
                Due { at: 5, hash: 5 },
                Due { at: 20, hash: 2 },
                Due { at: 40, hash: 4 },
                Due { at: 70, hash: 7 }
            ]
        );
        assert!(!index.has_expiring());
    }

    #[test]
    fn a_stale_record_that_kept_its_tag_does_not_hold_back_the_records_behind_it() {
        // Entry 1 was overwritten: deadline 10 became a much later one with the same
        // tag, and a new record was pushed for it. Entries 2 and 3 come due at 20 and
        // 30. (Entry 0 puts entry 1's record second, so that it takes its deadline
        // from the entry when it reaches the front.)
        let kept_tag = (1_000..)
            .find(|&at| Queued::new(Due { at: 10, hash: 1 }).is_for(at))
            .unwrap();
        let entries = Entries::new(&[(0, 5), (1, kept_tag), (2, 20), (3, 30)]);
        let mut index = DeadlineIndex::new(false);
        for (hash, at) in [(0, 5), (1, 10), (2, 20), (3, 30), (1, kept_tag)] {
            index.push(Due { at, hash });
        }
        assert_eq!(
            pop_all_due(&mut index, 100, &entries),
            [
                Due { at: 5, hash: 0 },
                Due { at: 20, hash: 2 },
                Due { at: 30, hash: 3 }
            ]
        );
        // Entry 1 still comes due exactly at its deadline, through the moved record
        // and its own (the shard removes the entry at the first; the second then
        // finds none).
        assert_eq!(index.pop_due(kept_tag - 1, entries.resolve()), None);
        let entry_1 = Due {
            at: kept_tag,
            hash: 1,
        };
        assert_eq!(
            pop_all_due(&mut index, kept_tag, &entries),
            [entry_1, entry_1]
        );
        assert!(index.is_empty());
        assert!(!index.has_expiring());
    }

    #[test]
    fn a_tag_tells_a_new_deadline_from_the_recorded_one_almost_always() {
        let recorded = Queued::new(Due {
            at: 1_000_000_007,
            hash: 42,
        });
        assert!(recorded.is_for(1_000_000_007));
        assert_eq!(recorded.hash(), 42);
        // Overwrites land at any later time: 1 in 512 keep the tag.
        let kept_tag = (1..=100_000_u64)
            .filter(|later| recorded.is_for(1_000_000_007 + later * 977))
            .count();
        assert!((100..=300).contains(&kept_tag), "{kept_tag} of 100000");
    }

    #[test]
    fn a_queued_record_takes_eight_bytes() {
        assert_eq!(std::mem::size_of::<Queued>(), 8);
    }

    #[test]
    fn a_recent_stale_record_is_forgotten_but_never_the_front() {
        let mut index = DeadlineIndex::new(false);
        let entries = Entries::new(&[(1, 10), (3, 30)]);
        for (hash, at) in [(1, 10), (2, 20), (3, 30)] {
            index.push(Due { at, hash });
        }
        // Key 2 was evicted: its record, second from the back, goes at once.
        index.forget_recent(Queued::new(Due { at: 20, hash: 2 }));
        assert_eq!(index.len(), 2);
        // The front is the sweeper's to drop (its deadline is what `peek` reports).
        index.forget_recent(Queued::new(Due { at: 10, hash: 1 }));
        assert_eq!(index.len(), 2);
        let due = pop_all_due(&mut index, 30, &entries);
        assert_eq!(due, [Due { at: 10, hash: 1 }, Due { at: 30, hash: 3 }]);
    }

    #[test]
    fn retaining_queued_records_keeps_their_order_and_the_front_deadline() {
        let mut index = DeadlineIndex::new(false);
        for (hash, at) in [(1, 10), (2, 20), (3, 30), (4, 40)] {
            index.push(Due { at, hash });
        }
        // Keys 1 and 3 left.
        let entries = Entries::new(&[(2, 20), (4, 40)]);
        index.retain_queued(entries.resolve());
        assert_eq!(index.peek(), Some(Due { at: 20, hash: 2 }));
        let due = pop_all_due(&mut index, 40, &entries);
        assert_eq!(due, [Due { at: 20, hash: 2 }, Due { at: 40, hash: 4 }]);
    }
}
