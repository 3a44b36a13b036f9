//! `stats()`: what each counter counts, and what it does not.

use cache_core::{CacheStats, MockClock, TtlMap};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

fn mock_map() -> (TtlMap<u32, u32>, MockClock) {
    let clock = MockClock::new();
    (
        TtlMap::builder().ttl(SEC).clock(clock.clone()).build(),
        clock,
    )
}

#[test]
fn lookups_count_hits_and_misses() {
    let (map, _clock) = mock_map();
    map.insert(1, 1);
    map.get(&1);
    map.get(&1);
    map.get(&2);
    let stats = map.stats();
    assert_eq!((stats.hits, stats.misses, stats.insertions), (2, 1, 1));
    assert!((stats.hit_rate() - 2.0 / 3.0).abs() < 1e-9);
}

#[test]
fn contains_key_and_remaining_ttl_count_nothing() {
    let (map, _clock) = mock_map();
    map.insert(1, 1);
    map.contains_key(&1);
    map.contains_key(&2);
    map.remaining_ttl(&1);
    assert_eq!(map.stats().hits + map.stats().misses, 0);
}

#[test]
fn expirations_count_whoever_removes_the_entry() {
    let (map, clock) = mock_map();
    for key in 0..3 {
        map.insert(key, key);
    }
    clock.advance(SEC);
    assert_eq!(map.get(&0), None); // a lookup finds it expired
    assert_eq!(map.sweep(), 2); // sweep takes the rest
    assert_eq!(map.stats().expirations, 3);
    assert_eq!(map.stats().misses, 1);
}

#[test]
fn len_skips_expired_entries_and_counts_no_expiration() {
    let (map, clock) = mock_map();
    map.insert(1, 1);
    clock.advance(SEC);
    assert_eq!(map.len(), 0);
    assert_eq!(map.stats().expirations, 0, "reading removes nothing");
    assert_eq!(map.sweep(), 1);
    assert_eq!(map.stats().expirations, 1);
}

#[test]
fn remove_and_clear_count_as_neither_eviction_nor_expiration() {
    let (map, _clock) = mock_map();
    map.insert(1, 1);
    map.insert(2, 2);
    map.remove(&1);
    map.clear();
    let stats = map.stats();
    assert_eq!((stats.evictions, stats.expirations), (0, 0));
    assert_eq!(stats.insertions, 2);
}

#[test]
fn get_or_insert_with_counts_one_miss_and_one_insertion_per_computation() {
    let (map, _clock) = mock_map();
    map.get_or_insert_with(1, || 1);
    map.get_or_insert_with(1, || 1);
    map.get_or_insert_with(1, || 1);
    assert_eq!(
        map.stats(),
        CacheStats {
            hits: 2,
            misses: 1,
            computations: 1,
            insertions: 1,
            evictions: 0,
            expirations: 0,
            ..CacheStats::default()
        }
    );
}

#[test]
fn an_error_is_a_miss_without_an_insertion() {
    let (map, _clock) = mock_map();
    let result: Result<u32, &str> = map.try_get_or_insert_with(1, || Err("down"));
    assert_eq!(result, Err("down"));
    let stats = map.stats();
    assert_eq!((stats.misses, stats.insertions), (1, 0));
}
