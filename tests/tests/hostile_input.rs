//! Hostile input: keys chosen to collide, and floods of unique keys.

use cache_core::TtlMap;
use cap::Cap;
use std::alloc::System;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

#[test]
fn two_maps_hash_the_same_key_differently() {
    // The hasher is seeded at random per map, so a set of keys that collides in one
    // map (or in a copy of this binary) tells an attacker nothing about another.
    let a: TtlMap<u64, u64> = TtlMap::new();
    let b: TtlMap<u64, u64> = TtlMap::new();
    let differ = (0..16u64)
        .filter(|key| {
            cache_core::__private::hash_key(&a, key) != cache_core::__private::hash_key(&b, key)
        })
        .count();
    assert_eq!(differ, 16);
}

#[test]
fn a_flood_of_unique_keys_cannot_grow_a_bounded_map() {
    const CAPACITY: usize = 10_000;
    let map: TtlMap<String, Vec<u8>> = TtlMap::builder()
        .capacity(CAPACITY)
        .ttl(Duration::from_secs(3600))
        .build();
    let fill = |from: usize, to: usize| {
        for key in from..to {
            map.insert(format!("attacker-key-{key}"), vec![0u8; 64]);
        }
    };
    fill(0, CAPACITY * 2);
    let settled = ALLOCATOR.allocated();
    fill(CAPACITY * 2, CAPACITY * 20);
    let flooded = ALLOCATOR.allocated();
    fill(CAPACITY * 20, CAPACITY * 60);
    let flooded_more = ALLOCATOR.allocated();
    assert_eq!(map.len(), CAPACITY);
    // Shard tables may grow once as their share of the keys varies, then stop: four
    // hundred thousand more unique keys add nothing, and the total stays under twice the size
    // the map had when it first filled up.
    assert!(
        flooded_more <= flooded + flooded / 20,
        "memory kept growing: {flooded} then {flooded_more} bytes"
    );
    assert!(
        flooded_more < 2 * settled,
        "memory grew from {settled} to {flooded_more} bytes"
    );
}
