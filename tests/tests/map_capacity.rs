//! `capacity(n)`: `len() <= n` always; a full map evicts the entry closest to expiry.

use cache_core::{MockClock, TtlMap};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_full_map_evicts_the_oldest_entry() {
    let map = TtlMap::builder().capacity(3).build();
    for key in 1..=4 {
        map.insert(key, key);
    }
    assert_eq!(map.len(), 3);
    assert_eq!(map.get(&1), None);
    for key in 2..=4 {
        assert_eq!(map.get(&key), Some(key));
    }
    assert_eq!(map.stats().evictions, 1);
}

#[test]
fn a_full_map_evicts_the_entry_closest_to_expiry() {
    let clock = MockClock::new();
    let map = TtlMap::builder().capacity(3).clock(clock.clone()).build();
    map.insert_with_ttl("long", 1, 100 * SEC);
    map.insert_with_ttl("short", 2, 10 * SEC);
    map.insert("never", 3);
    map.insert_with_ttl("new", 4, 50 * SEC);
    assert_eq!(map.get("short"), None);
    assert_eq!(map.len(), 3);
}

#[test]
fn overwriting_a_key_in_a_full_map_evicts_nothing() {
    let map = TtlMap::builder().capacity(2).build();
    map.insert("a", 1);
    map.insert("b", 2);
    map.insert("a", 3);
    assert_eq!(map.len(), 2);
    assert_eq!(map.stats().evictions, 0);
    assert_eq!(map.get("b"), Some(2));
}

#[test]
fn the_oldest_is_judged_by_the_latest_write() {
    let map = TtlMap::builder().capacity(2).build();
    map.insert("a", 1);
    map.insert("b", 2);
    map.insert("a", 3); // "a" is now newer than "b"
    map.insert("c", 4);
    assert_eq!(map.get("b"), None);
    assert_eq!(map.get("a"), Some(3));
}

#[test]
fn an_expired_entry_makes_room_as_an_expiration_not_an_eviction() {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .capacity(2)
        .ttl(SEC)
        .clock(clock.clone())
        .build();
    map.insert(1, 1);
    map.insert(2, 2);
    clock.advance(SEC);
    map.insert(3, 3);
    let stats = map.stats();
    assert_eq!((stats.evictions, stats.expirations), (0, 1));
}

#[test]
fn capacity_zero_stores_nothing() {
    let map = TtlMap::builder().capacity(0).build();
    assert_eq!(map.insert(1, 1), None);
    assert_eq!(map.get(&1), None);
    assert_eq!(map.get_or_insert_with(2, || 2), 2);
    assert!(map.is_empty());
}

#[test]
fn get_or_insert_with_respects_the_capacity() {
    let map = TtlMap::builder().capacity(10).build();
    for key in 0..100 {
        map.get_or_insert_with(key, || key * 2);
    }
    assert_eq!(map.len(), 10);
    assert_eq!(map.stats().evictions, 90);
    assert_eq!(map.get(&99), Some(198));
}

#[test]
fn concurrent_inserts_never_leave_more_than_capacity() {
    let map = Arc::new(TtlMap::builder().capacity(64).build());
    thread::scope(|scope| {
        for t in 0..4u64 {
            let map = &map;
            scope.spawn(move || {
                for i in 0..20_000u64 {
                    map.insert(t * 1_000_000 + i, i);
                    if i % 1000 == 0 {
                        assert!(map.len() <= 64);
                    }
                }
            });
        }
    });
    assert_eq!(map.len(), 64);
    let stats = map.stats();
    assert_eq!(stats.insertions, 80_000);
    assert_eq!(stats.evictions, 80_000 - 64);
}

/// Inserts racing `clear()` must never evict: the map never holds more than 5,000
/// distinct keys, half its capacity. (The count was kept outside the shard lock, so a
/// racing clear could wrap it below zero; then every insert evicted.)
#[test]
fn inserts_racing_clear_never_evict_below_capacity() {
    let map = Arc::new(TtlMap::builder().capacity(10_000).build());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clearer = {
        let (map, stop) = (map.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                map.clear();
                map.remove(&7);
            }
        })
    };
    let inserters: Vec<_> = (0..2)
        .map(|offset| {
            let map = map.clone();
            thread::spawn(move || {
                for round in 0..200_000_u64 {
                    map.insert((round * 2 + offset) % 5_000, round);
                }
            })
        })
        .collect();
    for inserter in inserters {
        inserter.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    clearer.join().unwrap();
    assert_eq!(
        map.stats().evictions,
        0,
        "an eviction with at most 5,000 keys"
    );
    assert!(map.len() <= 5_000);
}
