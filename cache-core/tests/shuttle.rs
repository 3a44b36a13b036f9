//! Model checking with shuttle: the single-flight protocol and the sweeper racing
//! inserts, overwrites and removes, under many random schedules each.
//!
//! `RUSTFLAGS="--cfg shuttle" CARGO_TARGET_DIR=target/shuttle cargo test -p cache-core --test shuttle`
//!
//! With `--cfg shuttle` the map's locks, condition variables and thread ids
//! are shuttle's (see `src/sync/shim.rs`), so shuttle controls every interleaving of the
//! protocols under test and replays a failing one from its printed schedule.
#![cfg(shuttle)]

use cache_core::{MockClock, TtlMap};
use shuttle::sync::atomic::{AtomicUsize, Ordering};
use shuttle::thread;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

/// Random schedules explored per test.
const SCHEDULES: usize = 3_000;

#[test]
fn concurrent_misses_of_one_key_run_init_once() {
    shuttle::check_random(
        || {
            let map: Arc<TtlMap<u8, u32>> = Arc::new(TtlMap::new());
            let runs = Arc::new(AtomicUsize::new(0));
            let callers: Vec<_> = (0..3)
                .map(|_| {
                    let (map, runs) = (Arc::clone(&map), Arc::clone(&runs));
                    thread::spawn(move || {
                        map.get_or_insert_with(1, || {
                            runs.fetch_add(1, Ordering::SeqCst);
                            thread::yield_now();
                            42
                        })
                    })
                })
                .collect();
            for caller in callers {
                assert_eq!(caller.join().unwrap(), 42);
            }
            assert_eq!(runs.load(Ordering::SeqCst), 1);
            assert_eq!(map.stats().insertions, 1);
        },
        SCHEDULES,
    );
}

#[test]
fn a_panicking_leader_hands_over_to_exactly_one_waiter() {
    shuttle::check_random(
        || {
            let map: Arc<TtlMap<u8, u32>> = Arc::new(TtlMap::new());
            let runs = Arc::new(AtomicUsize::new(0));
            let callers: Vec<_> = (0..2)
                .map(|_| {
                    let (map, runs) = (Arc::clone(&map), Arc::clone(&runs));
                    thread::spawn(move || {
                        panic::catch_unwind(AssertUnwindSafe(|| {
                            map.get_or_insert_with(1, || {
                                let run = runs.fetch_add(1, Ordering::SeqCst);
                                thread::yield_now();
                                if run == 0 {
                                    panic!("first run fails");
                                }
                                7
                            })
                        }))
                        .ok()
                    })
                })
                .collect();
            let results: Vec<Option<u32>> =
                callers.into_iter().map(|c| c.join().unwrap()).collect();
            assert_eq!(results.iter().filter(|r| r.is_none()).count(), 1);
            assert!(results.contains(&Some(7)));
            assert_eq!(runs.load(Ordering::SeqCst), 2);
            assert_eq!(map.get(&1), Some(7));
        },
        SCHEDULES,
    );
}

#[test]
fn different_keys_complete_independently() {
    shuttle::check_random(
        || {
            let map: Arc<TtlMap<u8, u8>> = Arc::new(TtlMap::new());
            let callers: Vec<_> = (0..3u8)
                .map(|key| {
                    let map = Arc::clone(&map);
                    thread::spawn(move || map.get_or_insert_with(key % 2, || key % 2))
                })
                .collect();
            for caller in callers {
                caller.join().unwrap();
            }
            assert_eq!(map.len(), 2);
        },
        SCHEDULES,
    );
}

#[test]
fn a_reentrant_leader_and_a_waiter_agree_on_one_value() {
    shuttle::check_random(
        || {
            let map: Arc<TtlMap<u8, u32>> = Arc::new(TtlMap::new());
            let reentrant = {
                let map = Arc::clone(&map);
                thread::spawn(move || {
                    let inner_map = Arc::clone(&map);
                    // The inner call is for the key this thread leads: it computes 5
                    // directly, and the outer call stores 6.
                    map.get_or_insert_with(1, move || inner_map.get_or_insert_with(1, || 5) + 1)
                })
            };
            let other = {
                let map = Arc::clone(&map);
                thread::spawn(move || map.get_or_insert_with(1, || 100))
            };
            let (reentrant, other) = (reentrant.join().unwrap(), other.join().unwrap());
            assert!(reentrant == 6 || reentrant == 100, "{reentrant}");
            assert_eq!(reentrant, other, "one computation, one value");
            assert_eq!(map.get(&1), Some(other));
        },
        SCHEDULES,
    );
}

#[test]
fn a_miss_dropped_before_computing_keeps_no_waiter_waiting() {
    use cache_core::__private::{hash_key, lookup};
    shuttle::check_random(
        || {
            let map: Arc<TtlMap<u8, u32>> = Arc::new(TtlMap::new());
            let other = {
                let map = Arc::clone(&map);
                thread::spawn(move || map.get_or_insert_with(1, || 2))
            };
            // What generated code does when it unwinds between its lookup and the
            // body: the miss is dropped. A lookup registers nothing, so nobody waits.
            let hash = hash_key(&map, &1u8);
            drop(lookup(&map, hash, |key| *key == 1));
            assert_eq!(other.join().unwrap(), 2);
            assert_eq!(map.get(&1), Some(2));
        },
        SCHEDULES,
    );
}

#[test]
fn a_sweep_racing_an_overwrite_never_removes_the_newer_entry() {
    shuttle::check_random(
        || {
            let clock = MockClock::new();
            let map: Arc<TtlMap<u8, u32>> = Arc::new(
                TtlMap::builder()
                    .ttl(Duration::from_secs(10))
                    .clock(clock.clone())
                    .build(),
            );
            map.insert(1, 1);
            clock.advance(Duration::from_secs(10)); // the first value is now expired
            let writer = {
                let map = Arc::clone(&map);
                thread::spawn(move || {
                    map.insert(1, 2); // live until t = 20
                    map.insert(2, 2);
                    map.remove(&2);
                })
            };
            let sweeper = {
                let map = Arc::clone(&map);
                thread::spawn(move || {
                    for _ in 0..3 {
                        map.sweep();
                        thread::yield_now();
                    }
                })
            };
            writer.join().unwrap();
            sweeper.join().unwrap();
            assert_eq!(map.get(&1), Some(2));
            assert_eq!(map.len(), 1);
            assert_eq!(
                map.stats().expirations,
                1,
                "the old value expired exactly once"
            );
        },
        SCHEDULES,
    );
}

#[test]
fn the_capacity_count_stays_exact_under_racing_removals() {
    shuttle::check_random(
        || {
            let clock = MockClock::new();
            let map: Arc<TtlMap<u8, u8>> = Arc::new(
                TtlMap::builder()
                    .ttl(Duration::from_secs(1))
                    .capacity(3)
                    .clock(clock.clone())
                    .build(),
            );
            for key in 0..3 {
                map.insert(key, key);
            }
            clock.advance(Duration::from_secs(1));
            let inserter = {
                let map = Arc::clone(&map);
                thread::spawn(move || {
                    map.insert(10, 10);
                    map.insert(11, 11);
                })
            };
            let remover = {
                let map = Arc::clone(&map);
                thread::spawn(move || {
                    map.remove(&0);
                    map.sweep();
                    map.remove(&10);
                })
            };
            inserter.join().unwrap();
            remover.join().unwrap();
            // Whatever the interleaving, filling up again reaches exactly the capacity.
            for key in 20..30 {
                map.insert(key, key);
            }
            assert_eq!(map.len(), 3);
            assert_eq!(map.entries().len(), 3);
        },
        SCHEDULES,
    );
}
