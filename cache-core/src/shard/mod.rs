//! One shard of a map: a hash table of entries, the deadline index of those entries,
//! and the computations under way for keys that hash here, behind one lock.
//!
//! Everything here runs under the shard's lock, so it must stay short and never call
//! the user's code beyond `Hash`, `Eq` and `Clone` of keys and values. Values that
//! leave the table are handed back to the caller, to be dropped after the lock is
//! released: a slow or panicking `Drop` never runs under a shard lock.

pub(crate) mod deadline_index;
pub(crate) mod eviction;

use crate::flight::Flights;
use crate::hash::KeyHasher;
use crate::stats::Counters;
use crate::sync::shard_locks::{ReadGuard, ShardLocks, WriteGuard};
use crate::time::deadline::{expires, is_live, Nanos, DEADLINE_BITS};
use deadline_index::{DeadlineIndex, Due, Queued, SpareIndex};
use eviction::{Evicted, Eviction, Verdict};
use hashbrown::hash_table::{Entry as Slot, HashTable};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

/// Stale records tolerated in a shard's index, beyond one per entry, before the index
/// is rebuilt from the table: small enough to bound memory, large enough that small
/// shards do not rebuild on every overwrite.
const STALE_RECORDS_SLACK: usize = 64;

/// A sweep gives memory back (shrinks the table and the index) only when at most this
/// many entries are left to rehash, so that shrinking under the lock stays as short as
/// a sweep batch. A shard emptied by expiry always qualifies.
const SHRINK_MAX_LIVE: usize = 256;

/// Tables at or below this many buckets are never shrunk: too small to matter, and
/// shrinking them would only make the next inserts allocate again.
const SHRINK_MIN_CAPACITY: usize = 64;

/// A shard left sparse by something other than expiry (`clear`, removals) gives its
/// memory back only once it has stayed sparse this long: a cache cleared and refilled
/// at once would otherwise shrink and grow again whenever a sweep fell in between.
const SHRINK_AFTER_SPARSE: Nanos = 1_000_000_000;

/// A stored key and value with its deadline, and how often it was read lately.
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    /// The deadline in the low bits ([`DEADLINE_BITS`]), and above them the reads the
    /// eviction policy counts (capacity-bounded maps only; see `eviction.rs`). One
    /// word, so a hit that checks the deadline has the reads at hand. Atomic so that
    /// lookups can count reads, and sliding expiry move the deadline, under a read lock.
    word: AtomicU64,
}

/// Where an entry's read count sits in its word.
const READS_SHIFT: u32 = DEADLINE_BITS.count_ones();

// The read count fits above the deadline.
const _: () = assert!(eviction::MAX_READS < 1 << (u64::BITS - READS_SHIFT));

impl<K, V> Entry<K, V> {
    pub(crate) fn new(key: K, value: V, deadline: Nanos) -> Self {
        debug_assert_eq!(deadline & !DEADLINE_BITS, 0);
        Entry {
            key,
            value,
            word: AtomicU64::new(deadline),
        }
    }

    #[inline]
    pub(crate) fn deadline(&self) -> Nanos {
        self.word.load(Ordering::Relaxed) & DEADLINE_BITS
    }

    #[inline]
    pub(crate) fn is_live(&self, now: Nanos) -> bool {
        is_live(self.deadline(), now)
    }

    /// Moves the deadline later (sliding expiry); never earlier. Keeps the reads.
    pub(crate) fn extend_deadline(&self, deadline: Nanos) {
        let _ = self
            .word
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
                (deadline > word & DEADLINE_BITS).then_some(word & !DEADLINE_BITS | deadline)
            });
    }

    /// The reads counted since the eviction policy last looked (0 to `MAX_READS`).
    pub(crate) fn reads(&self) -> u64 {
        self.word.load(Ordering::Relaxed) >> READS_SHIFT
    }

    /// Counts a read, unless the count is already at its most: so a key read again
    /// and again is written only until then (a hit on a hot key writes nothing). A
    /// lost race with another reader loses one count, which only matters to the
    /// policy, never to the value.
    ///
    /// Out of line: lookups of unbounded maps never call it, so it stays out of
    /// their code.
    #[inline(never)]
    pub(crate) fn mark_read(&self) {
        let word = self.word.load(Ordering::Relaxed);
        if word >> READS_SHIFT < eviction::MAX_READS {
            let _ = self.word.compare_exchange(
                word,
                word + (1 << READS_SHIFT),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Sets the read count; under the shard's write lock.
    pub(crate) fn set_reads(&mut self, reads: u64) {
        let word = self.word.get_mut();
        *word = *word & DEADLINE_BITS | reads.min(eviction::MAX_READS) << READS_SHIFT;
    }
}

/// What a sweep takes out of a shard, to be dropped after the shard's lock is released.
pub(crate) struct Swept<K, V> {
    pub(crate) expired: Vec<Entry<K, V>>,
    spare_table: Option<HashTable<Entry<K, V>>>,
    spare_index: Option<SpareIndex>,
}

impl<K, V> Swept<K, V> {
    pub(crate) fn with_capacity(batch: usize) -> Self {
        Swept {
            expired: Vec::with_capacity(batch),
            spare_table: None,
            spare_index: None,
        }
    }

    /// Drops what was taken: values, then spare allocations. Every value is dropped
    /// even if some `Drop` panics; the first panic is returned, to be resumed once the
    /// caller's bookkeeping is done.
    pub(crate) fn release(&mut self) -> Option<Panic> {
        let panic = drop_each(self.expired.drain(..));
        self.spare_table = None;
        self.spare_index = None;
        panic
    }
}

/// A caught panic's payload, to resume later.
pub(crate) type Panic = Box<dyn std::any::Any + Send>;

/// Drops each of `values` on its own, catching panics: a second panicking `Drop`
/// while a first one unwinds would abort the process, as it does in `Vec::clear`.
/// Returns the first panic, for the caller to resume when its state is consistent.
pub(crate) fn drop_each<T>(values: impl IntoIterator<Item = T>) -> Option<Panic> {
    let mut first = None;
    for value in values {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(value))) {
            first.get_or_insert(panic);
        }
    }
    first
}

/// What a shard holds behind its lock.
pub(crate) struct ShardState<K, V> {
    pub(crate) table: HashTable<Entry<K, V>>,
    pub(crate) index: DeadlineIndex,
    /// Capacity-bounded maps only: the shard's quota and eviction queues. Boxed, so
    /// that the shard state a lookup reads stays as small as it was: inline, it
    /// pushed the table's fields onto another cache line (a `#[ttl_cached]` hit 12%
    /// slower in paired `compare -- hit` runs).
    pub(crate) eviction: Option<Box<Eviction>>,
    pub(crate) flights: Flights<K, V>,
    /// When a sweep that expired nothing first found this shard sparse.
    sparse_since: Option<Nanos>,
}

/// How a map wants its shards to keep their index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IndexPolicy {
    /// Sliding expiry: a record that comes due for an entry whose deadline moved is
    /// pushed again with the new deadline.
    pub(crate) sliding: bool,
}

/// What [`ShardState::put`] took out of the table, to drop once the lock is released.
pub(crate) struct Put<K, V> {
    /// The entry the new one replaced (live or expired).
    pub(crate) replaced: Option<Entry<K, V>>,
    /// The entry evicted to keep the shard within its quota (live or expired).
    pub(crate) evicted: Option<Entry<K, V>>,
}

impl<K, V> ShardState<K, V> {
    /// An empty shard; `quota`: the most entries it holds, for a capacity-bounded map.
    fn new(policy: IndexPolicy, quota: Option<usize>) -> Self {
        let mut index = DeadlineIndex::new(policy.sliding);
        if let Some(quota) = quota {
            index.limit_queue(index_limit(quota));
        }
        ShardState {
            table: HashTable::new(),
            index,
            eviction: quota.map(|quota| Box::new(Eviction::with_quota(quota))),
            flights: Flights::new(),
            sparse_since: None,
        }
    }
}

impl<K: Hash + Eq, V> ShardState<K, V> {
    /// The entry for `hash` accepted by `is_key`, live or not.
    #[inline]
    pub(crate) fn find(
        &self,
        hash: u64,
        mut is_key: impl FnMut(&K) -> bool,
    ) -> Option<&Entry<K, V>> {
        self.table.find(hash, |entry| is_key(&entry.key))
    }

    /// How many entries are live at `now`, without removing any: the table's length
    /// when nothing here can expire, else a pass over the table.
    pub(crate) fn live_len(&self, now: Nanos) -> usize {
        if self.index.has_expiring() {
            self.table.iter().filter(|entry| entry.is_live(now)).count()
        } else {
            self.table.len()
        }
    }

    /// Stores `key → value` with `deadline`; in a capacity-bounded map, evicts one
    /// entry if the shard is then over its quota. Returns what left the table, for the
    /// caller to drop outside the lock.
    pub(crate) fn put(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        deadline: Nanos,
        policy: IndexPolicy,
        hasher: &KeyHasher,
    ) -> Put<K, V> {
        let mut entry = Entry::new(key, value, deadline);
        if let Some(eviction) = &self.eviction {
            let full = self.table.len() == self.table.capacity();
            if full && self.table.len() >= eviction.quota() {
                self.clean_table(eviction.quota(), hasher);
            }
        }
        let replaced = match self.table.entry(
            hash,
            |stored| stored.key == entry.key,
            |stored| hasher.hash(&stored.key),
        ) {
            Slot::Occupied(mut occupied) => {
                // A new value for a key is a use of it: the reads it earned, and one.
                entry.set_reads(occupied.get().reads() + 1);
                Some(std::mem::replace(occupied.get_mut(), entry))
            }
            Slot::Vacant(vacant) => {
                vacant.insert(entry);
                None
            }
        };
        let replaced_deadline = replaced.as_ref().map(Entry::deadline);
        // A new value with the very deadline of the one it replaces (a clock that has
        // not moved) is already covered by that one's record.
        let pushed = expires(deadline) && replaced_deadline != Some(deadline);
        if pushed {
            self.index.push(Due { at: deadline, hash });
        }
        let evicted = self.admit(hash, deadline, replaced_deadline, policy, hasher);
        let evicted = evicted.map(|(entry, record)| {
            // The entry evicted is most often the one stored just before this one in
            // the shard (a key never read leaves the small queue first): its record
            // is then at the back of the deadline queue, where dropping it is cheap,
            // and saves the pass over every record that dropping it later takes.
            if !policy.sliding {
                self.index.forget_recent(record);
            }
            entry
        });
        if pushed {
            self.compact_index_if_stale(hasher);
        }
        Put { replaced, evicted }
    }

    /// Queues a key just stored for eviction, and evicts one entry if the shard is
    /// over its quota (capacity-bounded maps only): the entry and its record.
    fn admit(
        &mut self,
        hash: u64,
        deadline: Nanos,
        replaced_deadline: Option<Nanos>,
        policy: IndexPolicy,
        hasher: &KeyHasher,
    ) -> Option<(Entry<K, V>, Queued)> {
        let eviction = self.eviction.as_mut()?;
        // A key's record is told from a stale one by its deadline's tag, so a new
        // value with a new tag needs a new record. Not if the tag is the same (the
        // old record is still the key's), nor under sliding expiry, where deadlines
        // move without new records and records go by hash alone.
        let record = Queued::new(Due { at: deadline, hash });
        let still_queued =
            replaced_deadline.is_some_and(|old| policy.sliding || record.is_for(old));
        let table = &mut self.table;
        if !still_queued {
            eviction.admit(record, table.len() > eviction.quota());
        }
        let is_for = |record: Queued, entry: &Entry<K, V>| {
            (policy.sliding || record.is_for(entry.deadline()))
                && hasher.hash(&entry.key) == record.hash()
        };
        if eviction.records() > 2 * table.len() + STALE_RECORDS_SLACK {
            eviction.retain_records(|record| {
                table
                    .find(record.hash(), |entry| is_for(record, entry))
                    .is_some()
            });
        }
        if table.len() <= eviction.quota() {
            return None;
        }
        let mut evicted = None;
        let chosen = eviction.next(|record, may_evict| {
            let mut found = table
                .find_entry(record.hash(), |entry| is_for(record, entry))
                .ok()?;
            match found.get().reads() {
                0 if may_evict => {
                    evicted = Some(found.remove().0);
                    Some(Verdict::Evict)
                }
                0 => Some(Verdict::Spare),
                reads => {
                    found.get_mut().set_reads(reads - 1);
                    Some(Verdict::Keep)
                }
            }
        });
        match chosen? {
            Evicted::Judged(record) => Some((evicted?, record)),
            Evicted::Newcomer(newcomer) => table
                .find_entry(newcomer.hash(), |entry| is_for(newcomer, entry))
                .ok()
                .map(|found| (found.remove().0, newcomer)),
        }
    }

    /// Removes the entry for `hash` accepted by `is_key`, live or not.
    pub(crate) fn remove(
        &mut self,
        hash: u64,
        mut is_key: impl FnMut(&K) -> bool,
    ) -> Option<Entry<K, V>> {
        let removed = self
            .table
            .find_entry(hash, |entry| is_key(&entry.key))
            .ok()
            .map(|occupied| occupied.remove().0);
        if self.table.is_empty() && !self.index.is_empty() {
            // Every record is stale now: free them at once rather than at their deadlines.
            self.index.clear();
            if let Some(eviction) = &mut self.eviction {
                eviction.clear();
            }
        }
        removed
    }

    /// Moves up to `budget` expired entries into `swept`; returns true if more records
    /// are due at `now` (the caller releases the lock and comes back).
    pub(crate) fn take_expired(
        &mut self,
        now: Nanos,
        budget: usize,
        policy: IndexPolicy,
        hasher: &KeyHasher,
        swept: &mut Swept<K, V>,
    ) -> bool {
        let start = swept.expired.len();
        let limit = start + budget;
        while swept.expired.len() < limit {
            let resolve = |record| queued_deadline(&self.table, hasher, record);
            let Some(due) = self.index.pop_due(now, resolve) else {
                break;
            };
            let has_hash = |entry: &Entry<K, V>| hasher.hash(&entry.key) == due.hash;
            while let Ok(expired) = self
                .table
                .find_entry(due.hash, |entry| !entry.is_live(now) && has_hash(entry))
            {
                swept.expired.push(expired.remove().0);
            }
            if policy.sliding {
                self.repush_moved(due, hasher);
            }
        }
        let more = self
            .index
            .any_due(now, |record| queued_deadline(&self.table, hasher, record));
        if !more {
            let expired_some = swept.expired.len() > start;
            self.shrink_if_sparse(hasher, swept, now, expired_some);
        }
        more
    }

    /// Gives memory back after expiry emptied most of the shard: hash tables and heaps
    /// never shrink by themselves, so without this a map that once held a million
    /// entries would keep their memory after they all expired. The live entries move
    /// to smaller allocations here; the big ones go to `swept`, to be freed after the
    /// lock is released (returning megabytes to the OS can take a while).
    ///
    /// A shard that this sweep expired entries from shrinks at once; one found sparse
    /// otherwise (after `clear`, or removals) only after [`SHRINK_AFTER_SPARSE`].
    fn shrink_if_sparse(
        &mut self,
        hasher: &KeyHasher,
        swept: &mut Swept<K, V>,
        now: Nanos,
        expired_some: bool,
    ) {
        let live = self.table.len();
        let sparse = live <= SHRINK_MAX_LIVE
            && self.table.capacity() > SHRINK_MIN_CAPACITY
            && self.table.capacity() > 4 * live;
        if sparse && !expired_some {
            let since = *self.sparse_since.get_or_insert(now);
            if now.saturating_sub(since) < SHRINK_AFTER_SPARSE {
                return;
            }
        }
        self.sparse_since = None;
        if sparse {
            let rehash = |entry: &Entry<K, V>| hasher.hash(&entry.key);
            let mut smaller = HashTable::with_capacity(live);
            for entry in self.table.drain() {
                smaller.insert_unique(rehash(&entry), entry, rehash);
            }
            swept.spare_table = Some(std::mem::replace(&mut self.table, smaller));
        }
        swept.spare_index = self.index.shrink_if_sparse();
        self.flights.shrink_if_idle(SHRINK_MIN_CAPACITY);
    }

    /// Sliding expiry moved an entry's deadline past the record that just came due:
    /// index it again at its new deadline.
    fn repush_moved(&mut self, due: Due, hasher: &KeyHasher) {
        let moved = self.table.find(due.hash, |entry| {
            entry.deadline() > due.at && hasher.hash(&entry.key) == due.hash
        });
        if let Some(entry) = moved {
            let at = entry.deadline();
            if expires(at) {
                self.index.push(Due { at, hash: due.hash });
            }
        }
    }

    /// Moves a bounded shard's entries to a fresh table of the size its quota needs.
    ///
    /// For a full shard whose table has no room left, though it holds no more than
    /// its quota: the room went to hashbrown's deleted-slot markers, which evictions
    /// leave where a probe may have passed, and an insert that finds no room grows a
    /// table more than half full to twice its size. Under steady eviction that would
    /// double every bounded table (measured: at any load over 7/16, within 9
    /// capacities of evictions); moving the entries to a fresh table of the same size
    /// drops the markers instead. Hashes each key once; rare: the fresh table has room
    /// for an eighth of the quota more than it holds (bounded maps size their quotas
    /// to leave that much: `QUOTA_LOAD` in `map/builder.rs`; a quota that does not
    /// gets the next size up), and only markers use it up.
    #[cold]
    fn clean_table(&mut self, quota: usize, hasher: &KeyHasher) {
        let mut fresh = HashTable::with_capacity(quota + 1 + quota / 8);
        for entry in self.table.drain() {
            let hash = hasher.hash(&entry.key);
            fresh.insert_unique(hash, entry, |stored| hasher.hash(&stored.key));
        }
        self.table = fresh;
    }

    fn compact_index_if_stale(&mut self, hasher: &KeyHasher) {
        let entries = self.table.len();
        if let Some(eviction) = &self.eviction {
            // A bounded shard: every eviction leaves a stale record, so they are
            // dropped often, in place, in order (see `index_limit`).
            if self.index.len() < index_limit(eviction.quota()) {
                return;
            }
            if self.index.heap_len() <= STALE_RECORDS_SLACK {
                let table = &self.table;
                self.index
                    .retain_queued(|record| queued_deadline(table, hasher, record));
                // Records that all still find their entry (an overwrite that kept
                // its deadline's tag, 1 in 512) leave no room: rebuild, one an entry.
                if self.index.len() < index_limit(eviction.quota()) - STALE_RECORDS_SLACK / 2 {
                    return;
                }
            }
        } else if self.index.len() <= 2 * entries + STALE_RECORDS_SLACK {
            return;
        }
        let live = self.table.iter().filter_map(|entry| {
            let at = entry.deadline();
            expires(at).then(|| Due {
                at,
                hash: hasher.hash(&entry.key),
            })
        });
        // Collected before `rebuild` borrows the index mutably.
        let live: Vec<Due> = live.collect();
        self.index.rebuild(live.into_iter());
    }
}

/// The most deadline records a bounded shard of `quota` entries keeps before it drops
/// the stale ones: half as many again as its entries (each eviction leaves one). The
/// more slack, the rarer the pass over them (one per `quota / 2` evictions, which
/// looks up every record), and the more memory: 12 bytes an entry at this ratio.
fn index_limit(quota: usize) -> usize {
    quota + quota / 2 + STALE_RECORDS_SLACK
}

/// The deadline of the entry a queued record is for, if it is still there: the
/// index's `resolve` (see `DeadlineIndex`).
fn queued_deadline<K: Hash, V>(
    table: &HashTable<Entry<K, V>>,
    hasher: &KeyHasher,
    record: Queued,
) -> Option<Nanos> {
    let hash = record.hash();
    table
        .find(hash, |entry| {
            record.is_for(entry.deadline()) && hasher.hash(&entry.key) == hash
        })
        .map(Entry::deadline)
}

impl<K, V> ShardState<K, V> {
    /// Empties the table and the index, returning the old table to drop outside the lock.
    pub(crate) fn take_all(&mut self) -> HashTable<Entry<K, V>> {
        self.index.clear();
        if let Some(eviction) = &mut self.eviction {
            eviction.clear();
        }
        std::mem::take(&mut self.table)
    }

    /// Moves out, into `taken`, the entries expired at `now` and the live ones that
    /// `keep` refuses (it sees live entries only). If `keep` panics, what it had
    /// refused is in `taken` and the rest stays.
    pub(crate) fn take_unless(
        &mut self,
        now: Nanos,
        mut keep: impl FnMut(&K, &V) -> bool,
        taken: &mut Vec<Entry<K, V>>,
    ) {
        let leaving = self
            .table
            .extract_if(|entry| !entry.is_live(now) || !keep(&entry.key, &entry.value));
        for entry in leaving {
            taken.push(entry);
        }
    }

    /// [`take_all`](Self::take_all), leaving an empty table and index as large as the
    /// old ones (as `HashMap::clear` keeps its allocation): a cleared cache refills
    /// without growing again, and the sweeper shrinks both if they stay sparse.
    pub(crate) fn take_all_keeping_capacity(&mut self) -> HashTable<Entry<K, V>> {
        self.index.clear_keeping_capacity();
        if let Some(eviction) = &mut self.eviction {
            eviction.clear();
        }
        let capacity = self.table.capacity();
        std::mem::replace(&mut self.table, HashTable::with_capacity(capacity))
    }
}

/// Every shard of a map: their states behind [`ShardLocks`], with each shard's write-side
/// counters beside it.
pub(crate) type Shards<K, V> = ShardLocks<ShardState<K, V>, Counters>;

/// Exclusive access to one shard's state.
pub(crate) type ShardWriteGuard<'a, K, V> = WriteGuard<'a, ShardState<K, V>, Counters>;

/// Builds `count` empty shards.
/// `quotas`: for a capacity-bounded map, the most entries each shard holds.
pub(crate) fn new_shards<K, V>(
    count: usize,
    stripes: usize,
    policy: IndexPolicy,
    mut quotas: impl Iterator<Item = usize>,
    bounded: bool,
) -> Shards<K, V> {
    ShardLocks::new(count, stripes, || {
        let quota = if bounded { quotas.next() } else { None };
        (ShardState::new(policy, quota), Counters::default())
    })
}

/// One shard, as the map's operations see it: a lock and its counters.
pub(crate) struct Shard<'a, K, V> {
    shards: &'a Shards<K, V>,
    index: usize,
}

// Not derived: the derives would ask for `K: Copy, V: Copy`.
impl<K, V> Clone for Shard<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for Shard<'_, K, V> {}

impl<'a, K, V> Shard<'a, K, V> {
    #[inline]
    pub(crate) fn new(shards: &'a Shards<K, V>, index: usize) -> Self {
        Shard { shards, index }
    }

    /// Every shard of `shards`, in order.
    pub(crate) fn all(shards: &'a Shards<K, V>) -> impl Iterator<Item = Self> + 'a {
        (0..shards.len()).map(move |index| Shard { shards, index })
    }

    /// Poisoning cannot happen: every operation leaves the state consistent at each
    /// point where user code (`Hash`, `Eq`, `Clone`) could panic, and the guards release
    /// the shard when unwinding.
    #[inline]
    pub(crate) fn read(self) -> ReadGuard<'a, ShardState<K, V>> {
        self.shards.read(self.index)
    }

    pub(crate) fn write(self) -> ShardWriteGuard<'a, K, V> {
        self.shards.write(self.index)
    }

    /// The read lock, unless a writer holds the shard: for the sweeper, which never
    /// queues behind a writer (and in a forked child, never behind one that is gone).
    pub(crate) fn try_read(self) -> Option<ReadGuard<'a, ShardState<K, V>>> {
        self.shards.try_read(self.index)
    }

    /// The write lock, unless lookups are waiting for this shard (see
    /// `ShardLocks::write_unless_readers_wait`): for the sweeper, which can come back.
    pub(crate) fn write_unless_readers_wait(self) -> Option<ShardWriteGuard<'a, K, V>> {
        self.shards.write_unless_readers_wait(self.index)
    }

    /// Counters of what writers did here (lookups count per stripe, in the map).
    #[inline]
    pub(crate) fn counters(self) -> &'a Counters {
        self.shards.extra(self.index)
    }
}
