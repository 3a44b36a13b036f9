//! Internal invariants that the public API cannot observe directly.

use super::sweep::SWEEP_BATCH;
use super::*;
use crate::flight::{FlightHost, Landing, Leader, Step};
use crate::shard::{ShardState, Swept};
use crate::MockClock;

fn mock_map(ttl: Option<Duration>, capacity: Option<usize>) -> (TtlMap<u64, u64>, MockClock) {
    let clock = MockClock::new();
    let mut builder = TtlMap::builder().clock(clock.clone());
    if let Some(ttl) = ttl {
        builder = builder.ttl(ttl);
    }
    if let Some(capacity) = capacity {
        builder = builder.capacity(capacity);
    }
    (builder.build(), clock)
}

fn sum_over_shards(map: &TtlMap<u64, u64>, of: impl Fn(&ShardState<u64, u64>) -> usize) -> usize {
    map.inner.shards().map(|shard| of(&shard.read())).sum()
}

fn index_records(map: &TtlMap<u64, u64>) -> usize {
    sum_over_shards(map, |state| state.index.len())
}

fn table_capacity(map: &TtlMap<u64, u64>) -> usize {
    sum_over_shards(map, |state| state.table.capacity())
}

fn index_capacity(map: &TtlMap<u64, u64>) -> usize {
    sum_over_shards(map, |state| state.index.capacity())
}

#[test]
#[cfg_attr(miri, ignore = "100,000 operations: too slow under Miri")]
fn overwriting_one_key_forever_keeps_the_index_bounded() {
    let (map, _clock) = mock_map(Some(Duration::from_secs(60)), Some(10));
    for round in 0..100_000 {
        map.insert(7, round);
    }
    // A bounded shard keeps half its quota more (see `index_limit`).
    assert!(index_records(&map) <= 1 + 10 + 10 / 2 + STALE_BOUND_FOR_TEST);
    assert_eq!(map.get(&7), Some(99_999));
}

/// Mirrors `STALE_RECORDS_SLACK` in `shard.rs`: a rebuild happens past 2n + slack.
const STALE_BOUND_FOR_TEST: usize = 64;

#[test]
fn maps_without_ttl_or_capacity_keep_no_index_at_all() {
    let (map, _clock) = mock_map(None, None);
    for key in 0..1000 {
        map.insert(key, key);
    }
    assert_eq!(index_records(&map), 0);
}

#[test]
fn every_kind_of_removal_makes_room_within_the_quota() {
    let (map, clock) = mock_map(Some(Duration::from_secs(1)), Some(100));
    assert_eq!(map.inner.shards.len(), 1, "a capacity of 100 is one quota");
    for key in 0..50 {
        map.insert(key, key);
    }
    map.remove(&0);
    map.insert_with_ttl(1000, 1, Duration::from_secs(100));
    clock.advance(Duration::from_secs(1));
    assert_eq!(map.get(&1), None); // passive expiry
    map.sweep();
    assert_eq!(map.len(), 1);
    for key in 2_000..2_099 {
        map.insert(key, key);
    }
    assert_eq!((map.len(), map.stats().evictions), (100, 0));
    map.clear();
    for key in 3_000..3_100 {
        map.insert(key, key);
    }
    assert_eq!((map.len(), map.stats().evictions), (100, 0));
    map.insert(5_000, 0);
    assert_eq!((map.len(), map.stats().evictions), (100, 1));
}

#[test]
fn a_sweep_takes_at_most_one_batch_per_lock() {
    let (map, clock) = mock_map(Some(Duration::from_secs(1)), None);
    // Keys of the first shard only: which keys land there depends on the map's random
    // hash seed, and a shard given a fair share of a few keys could hold a batch or less.
    let in_first_shard =
        |key: &u64| crate::hash::shard_of(map.inner.hash(key), map.inner.shard_count) == 0;
    let keys: Vec<u64> = (0..).filter(in_first_shard).take(SWEEP_BATCH * 3).collect();
    for &key in &keys {
        map.insert(key, key);
    }
    clock.advance(Duration::from_secs(1));
    let shard = map.inner.shards().next().unwrap();
    let mut swept = Swept::with_capacity(SWEEP_BATCH);
    let more = shard.write().take_expired(
        clock.elapsed().as_nanos() as u64,
        SWEEP_BATCH,
        map.inner.policy,
        &map.inner.hasher,
        &mut swept,
    );
    assert!(swept.expired.len() <= SWEEP_BATCH);
    assert!(more, "a shard with more than a batch due reports more work");
}

#[test]
fn sliding_expiry_reindexes_entries_whose_deadline_moved() {
    let clock = MockClock::new();
    let map: TtlMap<u64, u64> = TtlMap::builder()
        .ttl(Duration::from_secs(10))
        .refresh_on_hit(true)
        .clock(clock.clone())
        .build();
    map.insert(1, 1);
    clock.advance(Duration::from_secs(9));
    assert_eq!(map.get(&1), Some(1));
    clock.advance(Duration::from_secs(2));
    // The first record came due; the entry lives on and is indexed again.
    assert_eq!(map.sweep(), 0);
    assert_eq!(index_records(&map), 1);
    clock.advance(Duration::from_secs(8));
    assert_eq!(map.sweep(), 1);
    assert_eq!(index_records(&map), 0);
}

#[test]
#[cfg_attr(miri, ignore = "100,000 operations: too slow under Miri")]
fn a_sweep_that_empties_the_map_gives_its_memory_back() {
    let (map, clock) = mock_map(Some(Duration::from_secs(1)), None);
    for key in 0..100_000 {
        map.insert(key, key);
    }
    clock.advance(Duration::from_secs(1));
    assert_eq!(map.sweep(), 100_000);
    let (buckets, records) = (table_capacity(&map), index_capacity(&map));
    assert!(
        buckets < 100 * map.inner.shards.len(),
        "{buckets} buckets kept"
    );
    assert!(
        records < 100 * map.inner.shards.len(),
        "{records} index slots kept"
    );
}

#[test]
#[cfg_attr(miri, ignore = "10,000 operations: too slow under Miri")]
fn clear_keeps_the_tables_until_they_stay_sparse_for_a_while() {
    let (map, clock) = mock_map(Some(Duration::from_secs(60)), None);
    for key in 0..10_000 {
        map.insert(key, key);
    }
    let grown = table_capacity(&map);
    let indexed = index_capacity(&map);
    map.clear();
    assert_eq!(
        table_capacity(&map),
        grown,
        "refilling must not grow the tables again"
    );
    assert_eq!(index_capacity(&map), indexed, "nor the deadline index");
    assert_eq!(map.sweep(), 0);
    assert_eq!(
        table_capacity(&map),
        grown,
        "a sweep right after `clear` may fall before a refill: keep the tables"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(map.sweep(), 0);
    assert!(
        table_capacity(&map) < grown / 4,
        "tables still empty a second later are given back"
    );
    assert!(index_capacity(&map) < indexed / 4, "and so is the index");
    assert_eq!(map.len(), 0);
}

#[test]
fn entries_expire_at_their_deadlines_whatever_order_those_arrive_in() {
    let (map, clock) = mock_map(Some(Duration::from_secs(10)), None);
    map.insert(1, 1); // due at 10 s
    map.insert_with_ttl(2, 2, Duration::from_secs(2)); // due at 2 s: earlier than the last
    clock.advance(Duration::from_secs(1));
    map.insert(3, 3); // due at 11 s
    map.insert(1, 10); // overwritten: due at 11 s, its first record is stale
    clock.advance(Duration::from_secs(1));
    assert_eq!(map.sweep(), 1, "2 expired at 2 s");
    assert_eq!(map.get(&2), None);
    clock.advance(Duration::from_secs(8));
    assert_eq!(
        map.sweep(),
        0,
        "the stale record of 1 removes nothing at 10 s"
    );
    assert_eq!(map.get(&1), Some(10));
    clock.advance(Duration::from_secs(1));
    assert_eq!(map.sweep(), 2, "1 and 3 expired at 11 s");
    assert!(map.is_empty());
    assert_eq!(index_records(&map), 0);
}

/// Flights are found by key: a caller whose key shares its hash with a key being
/// computed (a legal `Hash` may cover fewer fields than `Eq`) leads its own flight
/// instead of waiting for the other key's.
#[test]
fn a_miss_of_another_key_of_the_same_hash_leads_its_own_flight() {
    let map: TtlMap<u64, u64> = TtlMap::new();
    let inner = map.inner();
    let hash = inner.hash(&1u64);
    let me = Leader::this_thread();
    let Step::Lead(first) = inner.join_or_lead(hash, 1, me) else {
        panic!("the first miss leads");
    };
    // Key 2 forced onto key 1's hash: not the same key, so not the same flight.
    let Step::Lead(second) = inner.join_or_lead(hash, 2, me) else {
        panic!("another key leads its own flight, whatever its hash");
    };
    assert_ne!(first, second);
    // The same key again, from the leading thread: re-entrant.
    assert!(matches!(inner.join_or_lead(hash, 1, me), Step::Reentered));
    inner.land(hash, first, Some(Landing::new(10)));
    inner.land(hash, second, Some(Landing::new(20)));
    assert_eq!(map.get(&1), Some(10));
    let state = inner.shard(hash).read();
    let stored = state.find(hash, |key| *key == 2).map(|entry| entry.value);
    assert_eq!(stored, Some(20), "key 2 is stored under the shared hash");
    assert!(state.flights.is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "900,000 inserts: too slow under Miri")]
fn a_bounded_map_keeps_its_memory_at_working_size_however_long_it_evicts() {
    // 64 shards' worth of quota, evicting for eight times its capacity: hashbrown's
    // deleted-slot markers, stale deadline records and queue growth must not take a
    // shard's allocations past what its quota needs.
    let capacity = 100_000;
    let (map, _clock) = mock_map(Some(Duration::from_secs(3600)), Some(capacity));
    for key in 0..9 * capacity as u64 {
        map.insert(key, key);
    }
    assert_eq!(map.len(), capacity);
    let buckets = sum_over_shards(&map, |state| state.table.capacity()) * 8 / 7;
    let index = index_capacity(&map);
    let (queued, ghost, counters) = map.inner.shards().fold((0, 0, 0), |sums, shard| {
        let state = shard.read();
        let (queued, ghost, counters) = state.eviction.as_ref().unwrap().capacities();
        (sums.0 + queued, sums.1 + ghost, sums.2 + counters)
    });
    let per_entry = |n: usize| n as f64 / capacity as f64;
    assert!(
        per_entry(buckets) < 1.5,
        "table buckets per entry: {}",
        per_entry(buckets)
    );
    assert!(
        per_entry(index) < 1.6,
        "deadline records per entry: {}",
        per_entry(index)
    );
    assert!(
        per_entry(queued) < 1.1,
        "eviction records per entry: {}",
        per_entry(queued)
    );
    assert!(
        per_entry(ghost) < 1.5,
        "ghost slots per entry: {}",
        per_entry(ghost)
    );
    assert!(
        per_entry(counters) < 3.0,
        "sketch counters per entry: {}",
        per_entry(counters)
    );
}

/// A value whose epoch moved while it was on its way (an invalidation came before it)
/// is handed to the flight's waiters but not stored; one whose epoch did not is stored.
#[test]
fn a_landing_whose_epoch_moved_is_not_stored() {
    use crate::flight::Epoch;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let map: TtlMap<u64, u64> = TtlMap::new();
    let inner = map.inner();
    let me = Leader::this_thread();
    let landing = |value: u64, epoch: Epoch| Landing {
        value,
        at_most: None,
        unless_moved: Some(epoch),
    };
    let hash = inner.hash(&1u64);
    let Step::Lead(id) = inner.join_or_lead(hash, 1, me) else {
        panic!("the first miss leads");
    };
    let epoch = Epoch {
        counter: &COUNTER,
        seen: COUNTER.load(Ordering::SeqCst),
    };
    COUNTER.fetch_add(1, Ordering::SeqCst); // the invalidation
    inner.land(hash, id, Some(landing(10, epoch)));
    assert_eq!(map.get(&1), None, "refused");
    assert!(inner.shard(hash).read().flights.is_empty());

    let Step::Lead(id) = inner.join_or_lead(hash, 1, me) else {
        panic!("the next miss leads again");
    };
    let epoch = Epoch {
        counter: &COUNTER,
        seen: COUNTER.load(Ordering::SeqCst),
    };
    inner.land(hash, id, Some(landing(11, epoch)));
    assert_eq!(map.get(&1), Some(11), "stored");
}
