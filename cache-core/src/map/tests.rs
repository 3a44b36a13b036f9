//! Internal invariants that the public API cannot observe directly.

use super::*;
use crate::shard::ShardState;
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
    assert!(index_records(&map) <= 2 + STALE_BOUND_FOR_TEST);
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
fn the_capacity_count_follows_every_kind_of_removal() {
    let (map, clock) = mock_map(Some(Duration::from_secs(1)), Some(100));
    for key in 0..50 {
        map.insert(key, key);
    }
    map.remove(&0);
    map.insert_with_ttl(1000, 1, Duration::from_secs(100));
    clock.advance(Duration::from_secs(1));
    assert_eq!(map.get(&1), None); // passive expiry
    map.sweep();
    assert_eq!(map.inner.stored.load(Ordering::Relaxed), 1);
    map.clear();
    assert_eq!(map.inner.stored.load(Ordering::Relaxed), 0);
}

#[test]
fn a_sweep_takes_at_most_one_batch_per_lock() {
    let (map, clock) = mock_map(Some(Duration::from_secs(1)), None);
    // Keys of the first shard only: which keys land there depends on the map's random
    // hash seed, and a shard given a fair share of a few keys could hold a batch or less.
    let in_first_shard =
        |key: &u64| map.inner.hash(key) >> SHARD_HASH_SHIFT & map.inner.shard_mask as u64 == 0;
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

/// A map in which this thread leads the solo flight of key 1, and that key's hash.
fn leading_solo_flight_of_key_1() -> (TtlMap<u64, u64>, u64) {
    let map: TtlMap<u64, u64> = TtlMap::new();
    let hash = map.inner().hash(&1u64);
    let led = map
        .inner()
        .lookup_or_lead(hash, |key| *key == 1, shim::current_thread);
    assert_eq!(led, Err(true), "a first miss leads the solo flight");
    (map, hash)
}

/// The thread leading the solo flight of `hash`'s shard for `hash`, if any.
fn solo_leader(map: &TtlMap<u64, u64>, hash: u64) -> Option<u64> {
    map.inner().shard(hash).read().solo.leader_of(hash)
}

/// Waiters on a solo flight know it by hash only, so they look again when it ends
/// instead of taking its value: a caller with a different key of the same hash must
/// get its own value, computed once, never the leader's.
#[test]
#[cfg_attr(miri, ignore = "spins on a thread while another waits")]
fn a_solo_flight_waiter_with_another_key_of_the_same_hash_gets_its_own_value() {
    // Two keys forced onto one hash: this thread leads key 1 without the write lock.
    let (map, hash) = leading_solo_flight_of_key_1();
    let inner = map.inner();
    let runs = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let other_key = scope.spawn(|| {
            // Another thread misses key 2 under the same hash: it waits for the solo
            // flight, then looks again and computes its own value.
            inner.compute_after_miss(
                hash,
                2,
                false,
                || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    20
                },
                |value| Some(*value),
                |value| value,
            )
        });
        // Let it reach the flight, then land key 1.
        while inner.shard(hash).read().solo_signal.is_none() {
            std::thread::yield_now();
        }
        inner.land(hash, Led::Solo(1), Some(10));
        assert_eq!(other_key.join().unwrap(), 20);
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(map.get(&1), Some(10));
    let mut found = None;
    let state = inner.shard(hash).read();
    if let Some(entry) = state.find(hash, |key| *key == 2) {
        found = Some(entry.value);
    }
    assert_eq!(found, Some(20), "key 2 is stored under the shared hash");
}

/// A lookup leads without the write lock only while the shard's solo flight is free;
/// the next miss in that shard registers in the list, and its leader is still found.
#[test]
fn a_second_miss_in_a_shard_with_a_solo_flight_leads_a_listed_flight() {
    let (map, hash) = leading_solo_flight_of_key_1();
    let inner = map.inner();
    let me = shim::current_thread();
    // Same shard (same hash), another key: the solo flight is taken.
    assert_eq!(
        inner.lookup_or_lead(hash, |key| *key == 2, || me),
        Err(false)
    );
    // This thread leads the solo flight, so its own miss of the hash is re-entrant.
    let value = inner.compute_after_miss(hash, 2, false, || 5, |v| Some(*v), |v| v);
    assert_eq!(value, 5, "computed directly");
    inner.abandon_solo(hash);
    assert_eq!(solo_leader(&map, hash), None);
    assert_eq!(
        inner.lookup_or_lead(hash, |key| *key == 2, || me),
        Err(true)
    );
    inner.abandon_solo(hash);
}

/// A miss that leads but never reaches the miss path (the generated code unwinds in
/// between, say in the key's `Clone`) gives its lead up when dropped.
#[test]
fn a_dropped_miss_gives_its_lead_up() {
    let map: TtlMap<u64, u64> = TtlMap::new();
    let hash = map.inner().hash(&3u64);
    let miss = crate::__private::lookup(
        &map,
        hash,
        |key| *key == 3,
        crate::__private::Lead::AsThread,
    )
    .unwrap_err();
    assert!(solo_leader(&map, hash).is_some());
    drop(miss);
    assert_eq!(solo_leader(&map, hash), None);
    // And the key is computed and stored normally afterwards.
    assert_eq!(map.get_or_insert_with(3, || 30), 30);
    assert_eq!(map.get(&3), Some(30));
}
