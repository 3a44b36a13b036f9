//! `capacity(n)`: `len() <= n` always; a full map evicts what is least likely to be
//! asked for again (S3-FIFO: keys never read again leave first, oldest first).

use cache_core::{MockClock, TtlMap};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_full_map_of_keys_never_read_evicts_the_oldest() {
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
fn a_key_read_again_outlives_keys_never_read() {
    let map = TtlMap::builder().capacity(3).build();
    map.insert("read", 1);
    map.insert("b", 2);
    map.insert("c", 3);
    assert_eq!(map.get("read"), Some(1));
    map.insert("d", 4);
    map.insert("e", 5);
    assert_eq!(map.get("read"), Some(1), "kept: read since it came in");
    assert_eq!(
        (map.get("b"), map.get("c")),
        (None, None),
        "never read: evicted"
    );
    assert_eq!(map.len(), 3);
}

#[test]
fn a_scan_of_new_keys_never_pushes_out_the_keys_that_keep_being_read() {
    let map = TtlMap::builder().capacity(100).build();
    for key in 0..100_u32 {
        map.insert(key, key);
    }
    for round in 0..20_u32 {
        for key in 0..20 {
            assert_eq!(map.get(&key), Some(key), "round {round}: key {key}");
        }
        // A scan of 100 keys asked for once each: as many as the whole capacity.
        for key in 0..100 {
            map.insert(10_000 + round * 100 + key, key);
        }
    }
    assert!(map.len() <= 100);
}

#[test]
fn a_key_evicted_young_but_asked_for_again_is_kept_longer() {
    let map = TtlMap::builder().capacity(10).build();
    for key in 0..11_u32 {
        map.insert(key, key);
    }
    assert_eq!(map.get(&0), None, "evicted young, never read");
    map.insert(0, 0); // asked for again: remembered, so it goes to the main queue
    for key in 100..110_u32 {
        map.insert(key, key); // ten keys never read
    }
    assert_eq!(map.get(&0), Some(0), "outlived ten new keys");
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
fn a_new_value_for_a_key_counts_as_a_use_of_it() {
    let map = TtlMap::builder().capacity(2).build();
    map.insert("a", 1);
    map.insert("b", 2);
    map.insert("a", 3); // written again: used
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
