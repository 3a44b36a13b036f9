//! Which entry a full shard of a capacity-bounded map evicts: S3-FIFO (Yang et al.,
//! SOSP 2023), the family quick_cache's policy belongs to.
//!
//! A new key enters a small FIFO queue (0.3% of the shard's quota, at least one
//! entry). When the shard is over its quota, the small queue's oldest entry leaves
//! it: to the main queue if it was read since it came in, otherwise out of the map,
//! its hash remembered in a **ghost** (a table of fingerprints as large as the
//! quota). A new key whose hash is in the ghost (it was evicted young, then asked
//! for again) goes to the main queue (but see admission below). The main queue is a CLOCK: its
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
//! A key that comes back from the ghost does not displace a main-queue entry for
//! free: both are looked up in a **frequency sketch** (TinyLFU, as moka's policy and
//! Caffeine's: four 4-bit counters per key in a table of two per entry of the quota,
//! halved every two quotas of counts), and the newcomer takes the victim's place only
//! if it was used more often; else the newcomer is the one evicted. So when every key is as
//! frequent as every other (a loop a little larger than the capacity), the main
//! queue keeps a fixed set instead of cycling through all of them and hitting none.
//! The sketch counts a key's stores (misses) and its reads as the main queue's CLOCK
//! collects them from the entry, never on the hit itself: hits keep writing nothing.
//!
//! This module decides; it never drops a value (the evicted entry is handed back to
//! be dropped after the shard's lock is released) and never reads a clock.

use super::deadline_index::{make_room_within, push_within, Queued};
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

/// The small queue's share of a shard's quota, in thousandths (at least one entry).
/// S3-FIFO's paper uses 10%; quick_cache 3%. Measured (`compare -- ratio`, the hit
/// ratio against the best peer on each of its 15 workloads, with ghost 100% and 3
/// reads): without admission, 10% trailed on the loop by 11 to 18 points, 3% by 5 to
/// 12, 1% by 3; with it, 1% by 0.8 and 0.3% by 0.5 (on a loop the small queue's
/// entries are capacity wasted), every other row level or better.
const SMALL_PERMILLE: usize = 3;

/// The sketch halves its counters every this many quotas of counts. Measured
/// (`compare -- ratio`): 10 (Caffeine's) lost 2 points on the shifting hot set, where
/// the old set's counts must fade before the new one gets in; 2 lost nothing.
const SAMPLE_QUOTAS: usize = 2;

/// The ghost's slots: the shard's quota rounded up to a power of two (a ghost half
/// the quota lost about 4 points on the loop workload in `compare -- ratio`).
fn ghost_slots(quota: usize) -> usize {
    quota.max(1).next_power_of_two()
}

/// Room for stale records (overwritten, removed or expired entries') in a queue
/// beyond one a quota entry, before it grows past its natural size. (Either queue
/// can hold every entry: the small one does when no key is ever read.)
const QUEUE_SLACK: usize = 64;

/// What [`Eviction::next`] asks the shard about the entry a record is for.
pub(crate) enum Verdict {
    /// Evict it (the shard removes it and hands it back).
    Evict,
    /// Keep it: the record goes to the main queue (with the entry's reads lowered by one).
    Keep,
    /// It has no reads left, but a newcomer from the ghost lost to it on frequency
    /// (the judge was told it may not evict): it stays where it is, the newcomer goes.
    Spare,
}

/// Which entry [`Eviction::next`] chose.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Evicted {
    /// The entry of this record, which the judge already removed.
    Judged(Queued),
    /// The key just stored (this record's), back from the ghost but used less often
    /// than the main queue's victim: the shard removes it.
    Newcomer(Queued),
}

/// A count-min sketch of 4-bit counters: how often each key hash was counted lately,
/// over-estimated by collisions, never under. Halved every [`Frequency::sample`]
/// counts, so that what was popular long ago fades.
///
/// Blocked: a key's four counters sit in one 64-bit word (sixteen counters), chosen
/// by the hash, so that counting or estimating a key reads one word, not four far
/// apart (each a likely cache miss on an evicting insert).
#[derive(Debug, Default)]
struct Frequency {
    /// Sixteen counters a word; a power of two of words (empty until the shard first
    /// evicts: maps that never fill pay nothing).
    words: Box<[u64]>,
    counted: usize,
    sample: usize,
}

impl Frequency {
    fn for_quota(quota: usize) -> Self {
        // Two counters a key: a byte per entry. (Caffeine uses sixteen.)
        let words = (2 * quota / 16).next_power_of_two().max(4);
        Frequency {
            words: vec![0; words].into_boxed_slice(),
            counted: 0,
            sample: SAMPLE_QUOTAS * quota.max(1),
        }
    }

    /// The word of `hash`'s counters, and their four bit offsets in it: the top bits
    /// of a multiplicative hash pick the word (they depend on every bit of `hash`),
    /// the next sixteen bits the counters (one in each quarter of the word, so the
    /// four are distinct).
    fn counters(&self, hash: u64) -> (usize, [u32; 4]) {
        const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
        let mixed = hash.wrapping_add(SEED).wrapping_mul(SEED);
        let word_bits = self.words.len().trailing_zeros();
        let word = (mixed >> (64 - word_bits)) as usize;
        let picks = (mixed >> (48 - word_bits)) as u32;
        let offsets = [0, 1, 2, 3].map(|quarter| (quarter * 4 + (picks >> (quarter * 4) & 3)) * 4);
        (word, offsets)
    }

    fn estimate(&self, hash: u64) -> u64 {
        if self.words.is_empty() {
            return 0;
        }
        let (word, offsets) = self.counters(hash);
        let word = self.words[word];
        offsets
            .iter()
            .map(|&shift| word >> shift & 0xF)
            .min()
            .unwrap_or(0)
    }

    fn count(&mut self, hash: u64) {
        if self.words.is_empty() {
            return;
        }
        let (word, offsets) = self.counters(hash);
        let word = &mut self.words[word];
        for shift in offsets {
            if *word >> shift & 0xF < 0xF {
                *word += 1 << shift;
            }
        }
        self.counted += 1;
        if self.counted >= self.sample {
            for word in self.words.iter_mut() {
                *word = (*word >> 1) & 0x7777_7777_7777_7777;
            }
            self.counted /= 2;
        }
    }
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
    frequency: Frequency,
    /// A key back from the ghost, stored into a full shard: it joins the main queue
    /// only if it beats the victim on frequency (see [`Eviction::next`]).
    pending: Option<Queued>,
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

    /// Counts a use of the key just stored (a new key, or a new value for one) and
    /// queues its record: to the small queue, or, if its hash is in the ghost, to the
    /// main one; but if the shard is `over_quota`, a key from the ghost waits for
    /// [`next`](Self::next) to weigh it against the main queue's victim.
    pub(crate) fn admit(&mut self, record: Queued, over_quota: bool) {
        self.frequency.count(record.hash());
        if self.take_ghost(record.hash()) {
            if over_quota {
                self.pending = Some(record);
            } else {
                self.push_main(record);
            }
        } else {
            self.push_small(record);
        }
    }

    /// Chooses the entry to evict from a shard over its quota: the next one to
    /// consider, oldest first, from the small queue while it holds more than its share
    /// (or the main queue is empty), else from the main queue. `judge(record,
    /// may_evict)` resolves the record to its entry and decides (`None`: the record is
    /// stale, drop it); `may_evict` is false when a key waiting to join the main queue
    /// (see [`admit`](Self::admit)) was used no more often than this entry, which the
    /// judge then spares if it would have evicted it. `None` if the queues ran dry.
    pub(crate) fn next(
        &mut self,
        mut judge: impl FnMut(Queued, bool) -> Option<Verdict>,
    ) -> Option<Evicted> {
        if self.ghost.is_empty() {
            // The shard is full for the first time: from now on it remembers.
            self.ghost = vec![0; ghost_slots(self.quota)].into_boxed_slice();
            self.frequency = Frequency::for_quota(self.quota);
        }
        let newcomer = self.pending.take();
        let small_share = (self.quota * SMALL_PERMILLE / 1000).max(1);
        let evicted = loop {
            let from_small = self.small.len() >= small_share || self.main.is_empty();
            let popped = if from_small {
                self.small.pop_front()
            } else {
                self.main.pop_front()
            };
            let Some(record) = popped else {
                break None;
            };
            let may_evict = match newcomer {
                Some(newcomer) if !from_small && newcomer.hash() != record.hash() => {
                    self.frequency.estimate(newcomer.hash())
                        > self.frequency.estimate(record.hash())
                }
                _ => true,
            };
            match judge(record, may_evict) {
                None => {}
                Some(Verdict::Keep) => {
                    // A read the entry had collected: the sketch counts it now.
                    self.frequency.count(record.hash());
                    self.push_main(record);
                }
                Some(Verdict::Evict) => {
                    if from_small {
                        self.remember(record.hash());
                    }
                    break Some(Evicted::Judged(record));
                }
                Some(Verdict::Spare) => {
                    // The hand stays on the spared entry; the newcomer leaves young,
                    // so the ghost remembers it again.
                    make_room_within(&mut self.main, self.quota + QUEUE_SLACK);
                    self.main.push_front(record);
                    let newcomer = newcomer.expect("only a newcomer makes a spare");
                    self.remember(newcomer.hash());
                    return Some(Evicted::Newcomer(newcomer));
                }
            }
        };
        if let Some(newcomer) = newcomer {
            self.push_main(newcomer);
        }
        evicted
    }

    /// Records the queues, the ghost and the sketch have room for (for memory tests):
    /// (queued records, ghost slots, sketch counters).
    #[cfg(test)]
    pub(crate) fn capacities(&self) -> (usize, usize, usize) {
        (
            self.small.capacity() + self.main.capacity(),
            self.ghost.len(),
            self.frequency.words.len() * 16,
        )
    }

    /// Records in the queues, stale ones included.
    pub(crate) fn records(&self) -> usize {
        self.small.len() + self.main.len() + usize::from(self.pending.is_some())
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
        self.pending = None;
    }

    /// Appends to the main queue, which grows by itself to the quota and a little
    /// more (it holds at most one live record an entry), not to the next power of two.
    fn push_main(&mut self, record: Queued) {
        push_within(&mut self.main, record, self.quota + QUEUE_SLACK);
    }

    /// Appends to the small queue (the same limit as the main one's).
    fn push_small(&mut self, record: Queued) {
        push_within(&mut self.small, record, self.quota + QUEUE_SLACK);
    }

    fn remember(&mut self, hash: u64) {
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
            let evicted = eviction.next(|record, may_evict| {
                let (at, reads) = entries.get_mut(&record.hash())?;
                if !record.is_for(*at) {
                    return None;
                }
                if *reads > 0 {
                    *reads -= 1;
                    Some(Verdict::Keep)
                } else if may_evict {
                    Some(Verdict::Evict)
                } else {
                    Some(Verdict::Spare)
                }
            })?;
            let (Evicted::Judged(record) | Evicted::Newcomer(record)) = evicted;
            entries.remove(&record.hash());
            Some(record.hash())
        }

        fn insert(&mut self, eviction: &mut Eviction, hash: u64) {
            let over_quota = !self.0.contains_key(&hash) && self.0.len() >= eviction.quota();
            self.0.insert(hash, (1_000 + hash, 0));
            eviction.admit(
                Queued::new(Due {
                    at: 1_000 + hash,
                    hash,
                }),
                over_quota,
            );
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
        eviction.admit(Queued::new(Due { at: 5_000, hash: 1 }), false);
        assert_eq!(entries.evict_one(&mut eviction), Some(2));
        assert_eq!(entries.evict_one(&mut eviction), Some(3));
        assert_eq!(entries.evict_one(&mut eviction), Some(1));
        assert_eq!(entries.evict_one(&mut eviction), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "22,000 operations: slow under Miri")]
    fn a_loop_a_little_larger_than_the_quota_keeps_a_fixed_set() {
        // Every key as frequent as every other: a newcomer from the ghost never
        // displaces a main-queue key, so most of the loop hits once it settles.
        let mut eviction = Eviction::with_quota(1_000);
        let mut entries = Entries(Default::default());
        let mut hits = 0;
        for round in 0..20 {
            for hash in 0..1_100 {
                if entries.read(hash) {
                    hits += u64::from(round >= 10);
                } else {
                    entries.insert(&mut eviction, hash);
                }
            }
        }
        assert_eq!(entries.0.len(), 1_000, "the quota holds");
        // LRU or FIFO would hit nothing, S3-FIFO alone about 895 a round; the best
        // possible is 1,000 of 1,100.
        assert!(
            hits > 10 * 950,
            "{hits} hits in the last 10 rounds of 1,100"
        );
    }

    #[test]
    fn a_key_back_from_the_ghost_displaces_a_main_key_only_if_used_more_often() {
        let mut eviction = Eviction::with_quota(10);
        let mut entries = Entries(Default::default());
        for hash in 0..10 {
            entries.insert(&mut eviction, hash);
            entries.read(hash);
        }
        // Key 100 leaves young (to the ghost); keys 0..10, read, move to the main
        // queue: each counted twice (stored, read), key 100 once.
        entries.insert(&mut eviction, 100);
        assert!(!entries.0.contains_key(&100));
        assert_eq!(eviction.main.len(), 10);
        // Back from the ghost and counted twice: no more than the victim, so the
        // newcomer is the one evicted.
        entries.insert(&mut eviction, 100);
        assert!(
            !entries.0.contains_key(&100),
            "a tie keeps the main queue as it is"
        );
        assert!((0..10).all(|hash| entries.0.contains_key(&hash)));
        // Counted a third time: it takes the victim's place.
        entries.insert(&mut eviction, 100);
        assert!(
            entries.0.contains_key(&100),
            "used more often than the victim"
        );
        assert_eq!(entries.0.len(), 10);
    }
}
