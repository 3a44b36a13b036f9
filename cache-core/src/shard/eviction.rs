//! Which entry a full shard of a capacity-bounded map evicts: S3-FIFO (Yang et al.,
//! SOSP 2023), the family quick_cache's policy belongs to.
//!
//! A new key enters a small FIFO queue (1% of the shard's quota). When the shard
//! is over its quota, the small queue's oldest entry leaves it: to the main queue if it
//! was read since it came in, otherwise out of the map, its hash remembered in a
//! **ghost** (a table of fingerprints as large as the quota). A new key whose hash is in the ghost (it was evicted young, then
//! asked for again) goes straight to the main queue. The main queue is a CLOCK: its
//! oldest entry is evicted if it was not read since it was last looked at, else it
//! goes round again with one read fewer. So a key read once and never again (a scan)
//! leaves from the small queue without disturbing the main one, and a key that keeps
//! being read stays however old it is.
//!
//! Reads are counted in the entry itself (two bits beside its deadline, saturating at
//! [`MAX_READS`], written only while below it: see `Entry::mark_read`), so a hit on a
//! hot key writes nothing. The queues hold 8-byte records (the key hash and a tag of
//! the entry's deadline, as the deadline index's do), never pointers: a record whose
//! entry has left (expired, removed, overwritten) is found stale when it comes out,
//! and dropped.
//!
//! This module decides; it never drops a value (the evicted entry is handed back to
//! be dropped after the shard's lock is released) and never reads a clock.

use super::deadline_index::Queued;
use std::collections::VecDeque;

/// The ghost slot of a key hash (its low bits, as a table of `slots` buckets would
/// use) and its fingerprint there (other bits, never 0).
fn ghost_slot(hash: u64, slots: usize) -> (usize, u32) {
    let slot = hash as usize & (slots - 1);
    let fingerprint = (hash >> 32) as u32 | 1;
    (slot, fingerprint)
}

/// The most reads an entry counts: how many rounds of the main queue a key that
/// stopped being read survives. (At most 3: two bits of the entry's word.)
pub(crate) const MAX_READS: u64 = 3;

/// The small queue's share of a shard's quota, in thousandths. S3-FIFO's paper uses
/// 10%; quick_cache 3%. Measured (`compare -- ratio`, the hit ratio against the best
/// peer on each of its 15 workloads, with ghost 100% and 3 reads): 10% trailed on
/// the loop by 11 to 18 points, 3% by 5 to 12, 1% by 3; every Zipf row was within
/// ±0.1 point of the best peer or ahead with 1% and 3%.
const SMALL_PERMILLE: usize = 10;

/// The ghost's slots: the shard's quota rounded up to a power of two (a ghost half
/// the quota lost about 4 points on the loop workload in `compare -- ratio`).
fn ghost_slots(quota: usize) -> usize {
    quota.max(1).next_power_of_two()
}

/// What [`Eviction::next`] asks the shard about the entry a record is for.
pub(crate) enum Verdict {
    /// Evict it (the shard removes it and hands it back).
    Evict,
    /// Keep it: the record goes to the main queue (with the entry's reads lowered by one).
    Keep,
}

/// The eviction state of one shard of a capacity-bounded map (empty and unused in
/// other maps: queues that never grow allocate nothing).
#[derive(Debug, Default)]
pub(crate) struct Eviction {
    /// The most entries the shard holds.
    quota: usize,
    small: VecDeque<Queued>,
    main: VecDeque<Queued>,
    /// Fingerprints of keys evicted from the small queue, one slot per key hash's
    /// low bits (0: empty): a newer eviction overwrites an older one in its slot, so
    /// the ghost forgets at random rather than oldest first, for one 4-byte store or
    /// load per use (a hash table of hashes cost a fifth of an evicting insert).
    /// Allocated when the shard first evicts.
    ghost: Box<[u32]>,
}

impl Eviction {
    /// The state of a shard that holds at most `quota` entries.
    pub(crate) fn with_quota(quota: usize) -> Self {
        Eviction {
            quota,
            ..Eviction::default()
        }
    }

    /// The most entries the shard holds.
    pub(crate) fn quota(&self) -> usize {
        self.quota
    }

    /// Queues the record of a key just stored (a new key, or a new value for one): to
    /// the main queue if its hash is in the ghost, else to the small one.
    pub(crate) fn admit(&mut self, record: Queued) {
        if self.take_ghost(record.hash()) {
            self.main.push_back(record);
        } else {
            self.small.push_back(record);
        }
    }

    /// The next entry to consider, oldest first: from the small queue while it holds
    /// more than its share (or the main queue is empty), else from the main queue.
    /// `judge` resolves the record to its entry and decides (`None`: the record is
    /// stale, drop it). Returns the record
    /// of the entry to evict, or `None` if the queues ran dry.
    pub(crate) fn next(
        &mut self,
        mut judge: impl FnMut(Queued) -> Option<Verdict>,
    ) -> Option<Queued> {
        let small_share = (self.quota * SMALL_PERMILLE / 1000).max(1);
        loop {
            let from_small = self.small.len() >= small_share || self.main.is_empty();
            let record = if from_small {
                self.small.pop_front()?
            } else {
                self.main.pop_front()?
            };
            match judge(record) {
                None => {}
                Some(Verdict::Keep) => self.main.push_back(record),
                Some(Verdict::Evict) => {
                    if from_small {
                        self.remember(record.hash());
                    }
                    return Some(record);
                }
            }
        }
    }

    /// Records in the queues, stale ones included.
    pub(crate) fn records(&self) -> usize {
        self.small.len() + self.main.len()
    }

    /// Keeps only the records `live` accepts, and one per key hash (the main
    /// queue's, else the newest): for a shard whose stale records outnumber its
    /// entries.
    pub(crate) fn retain_records(&mut self, mut live: impl FnMut(Queued) -> bool) {
        let mut seen = std::collections::HashSet::new();
        for queue in [&mut self.main, &mut self.small] {
            let mut kept: VecDeque<Queued> = queue
                .iter()
                .rev()
                .filter(|record| live(**record) && seen.insert(record.hash()))
                .copied()
                .collect();
            kept.make_contiguous().reverse();
            *queue = kept;
        }
    }

    /// Forgets every record (the shard was emptied); the ghost is kept, since the keys
    /// it remembers may come back.
    pub(crate) fn clear(&mut self) {
        self.small.clear();
        self.main.clear();
    }

    fn remember(&mut self, hash: u64) {
        if self.ghost.is_empty() {
            self.ghost = vec![0; ghost_slots(self.quota)].into_boxed_slice();
        }
        let (slot, fingerprint) = ghost_slot(hash, self.ghost.len());
        self.ghost[slot] = fingerprint;
    }

    /// Whether `hash` is in the ghost; if so, forgets it there.
    fn take_ghost(&mut self, hash: u64) -> bool {
        if self.ghost.is_empty() {
            return false;
        }
        let (slot, fingerprint) = ghost_slot(hash, self.ghost.len());
        let found = self.ghost[slot] == fingerprint;
        if found {
            self.ghost[slot] = 0;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::deadline_index::Due;
    use crate::time::Nanos;

    /// Entries as a shard holds them: hash → (deadline, reads).
    struct Entries(std::collections::HashMap<u64, (Nanos, u64)>);

    impl Entries {
        /// Evicts from `eviction` as a shard over its quota does; the evicted hash.
        fn evict_one(&mut self, eviction: &mut Eviction) -> Option<u64> {
            let entries = &mut self.0;
            let evicted = eviction.next(|record| {
                let (at, reads) = entries.get_mut(&record.hash())?;
                if !record.is_for(*at) {
                    return None;
                }
                if *reads > 0 {
                    *reads -= 1;
                    Some(Verdict::Keep)
                } else {
                    Some(Verdict::Evict)
                }
            })?;
            entries.remove(&evicted.hash());
            Some(evicted.hash())
        }

        fn insert(&mut self, eviction: &mut Eviction, hash: u64) {
            self.0.insert(hash, (1_000 + hash, 0));
            eviction.admit(Queued::new(Due {
                at: 1_000 + hash,
                hash,
            }));
            if self.0.len() > eviction.quota() {
                self.evict_one(eviction);
            }
        }

        fn read(&mut self, hash: u64) -> bool {
            match self.0.get_mut(&hash) {
                Some((_, reads)) => {
                    *reads = (*reads + 1).min(MAX_READS);
                    true
                }
                None => false,
            }
        }
    }

    #[test]
    fn a_key_read_once_in_a_while_survives_a_scan_of_new_keys() {
        let mut eviction = Eviction::with_quota(100);
        let mut entries = Entries(Default::default());
        for hash in 0..100 {
            entries.insert(&mut eviction, hash);
        }
        // Keys 0..10 are read; then 1,000 keys are scanned once each.
        for round in 0..10 {
            for hash in 0..10 {
                assert!(entries.read(hash), "round {round}: {hash} still there");
            }
            for hash in 0..100 {
                entries.insert(&mut eviction, 10_000 + round * 100 + hash);
            }
        }
        for hash in 0..10 {
            assert!(entries.read(hash), "{hash} survived the scan");
        }
        assert_eq!(entries.0.len(), 100, "the quota holds");
    }

    #[test]
    fn a_key_evicted_young_and_asked_for_again_goes_to_the_main_queue() {
        let mut eviction = Eviction::with_quota(10);
        let mut entries = Entries(Default::default());
        for hash in 0..11 {
            entries.insert(&mut eviction, hash);
        }
        assert!(!entries.0.contains_key(&0), "evicted from the small queue");
        entries.insert(&mut eviction, 0);
        assert_eq!(eviction.main.back().map(|r| r.hash()), Some(0));
    }

    #[test]
    fn stale_records_are_dropped_and_never_evict_anything() {
        let mut eviction = Eviction::with_quota(4);
        let mut entries = Entries(Default::default());
        for hash in 0..4 {
            entries.insert(&mut eviction, hash);
        }
        // Key 0 left (expired); key 1 was overwritten with a new deadline.
        entries.0.remove(&0);
        entries.0.insert(1, (5_000, 0));
        eviction.admit(Queued::new(Due { at: 5_000, hash: 1 }));
        assert_eq!(entries.evict_one(&mut eviction), Some(2));
        assert_eq!(entries.evict_one(&mut eviction), Some(3));
        assert_eq!(entries.evict_one(&mut eviction), Some(1));
        assert_eq!(entries.evict_one(&mut eviction), None);
    }
}
