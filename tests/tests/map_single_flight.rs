//! `get_or_insert_with`: one `init` run for concurrent misses, and what happens when
//! `init` panics, fails or re-enters.

use cache_core::TtlMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Duration;

/// Long enough that every thread reaches the map while `init` is still running.
const SLOW_INIT: Duration = Duration::from_millis(200);

#[test]
fn concurrent_misses_of_one_key_run_init_once() {
    let map = TtlMap::new();
    let runs = AtomicUsize::new(0);
    let barrier = Barrier::new(8);
    let values: Vec<u64> = thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    map.get_or_insert_with("key", || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(SLOW_INIT);
                        42
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(values, [42; 8]);
    let stats = map.stats();
    assert_eq!((stats.insertions, stats.computations), (1, 1));
    assert_eq!(stats.hits + stats.misses, 8);
}

#[test]
fn different_keys_never_wait_for_each_other() {
    let map = TtlMap::new();
    let barrier = Barrier::new(2);
    thread::scope(|scope| {
        scope.spawn(|| {
            map.get_or_insert_with(1, || {
                // Holds key 1 until key 2 has been computed by the other thread.
                barrier.wait();
                barrier.wait();
                1
            })
        });
        barrier.wait();
        assert_eq!(map.get_or_insert_with(2, || 2), 2);
        barrier.wait();
    });
    assert_eq!(map.len(), 2);
}

#[test]
fn a_panicking_init_reaches_its_caller_and_stores_nothing() {
    let map: TtlMap<u8, u8> = TtlMap::new();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        map.get_or_insert_with(1, || panic!("backend down"))
    }));
    let message = outcome.unwrap_err();
    assert_eq!(message.downcast_ref::<&str>(), Some(&"backend down"));
    assert!(map.is_empty());
    assert_eq!(map.get_or_insert_with(1, || 7), 7, "no lock was poisoned");
}

#[test]
fn when_init_panics_one_waiter_runs_init_again() {
    let map: TtlMap<u8, u8> = TtlMap::new();
    let runs = AtomicUsize::new(0);
    let barrier = Barrier::new(4);
    let results: Vec<Result<u8, ()>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    panic::catch_unwind(AssertUnwindSafe(|| {
                        map.get_or_insert_with(1, || {
                            let run = runs.fetch_add(1, Ordering::SeqCst);
                            thread::sleep(SLOW_INIT);
                            if run == 0 {
                                panic!("first run fails");
                            }
                            9
                        })
                    }))
                    .map_err(|_| ())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(runs.load(Ordering::SeqCst), 2, "one failed run, one retry");
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert!(results.iter().filter_map(|r| r.ok()).all(|v| v == 9));
}

#[test]
fn an_error_is_returned_and_not_stored() {
    let map: TtlMap<&str, u32> = TtlMap::new();
    let first: Result<u32, String> = map.try_get_or_insert_with("k", || Err("nope".into()));
    assert_eq!(first, Err("nope".to_owned()));
    assert!(!map.contains_key("k"));
    let second: Result<u32, String> = map.try_get_or_insert_with("k", || Ok(3));
    assert_eq!(second, Ok(3));
    assert_eq!(map.get("k"), Some(3));
}

#[test]
fn waiters_for_a_failed_init_retry_instead_of_sharing_the_error() {
    let map: TtlMap<u8, u8> = TtlMap::new();
    let runs = AtomicUsize::new(0);
    let barrier = Barrier::new(3);
    let results: Vec<Result<u8, &str>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    map.try_get_or_insert_with(1, || {
                        let run = runs.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(SLOW_INIT);
                        if run == 0 {
                            Err("transient")
                        } else {
                            Ok(5)
                        }
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert_eq!(results.iter().filter(|r| **r == Ok(5)).count(), 2);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[test]
fn a_reentrant_call_for_the_same_key_computes_directly_instead_of_deadlocking() {
    let map: TtlMap<u8, u32> = TtlMap::new();
    let value = map.get_or_insert_with(1, || map.get_or_insert_with(1, || 10) + 1);
    assert_eq!(value, 11);
    assert_eq!(map.get(&1), Some(11), "the outer call stores its result");
    assert_eq!(map.stats().computations, 2, "both calls computed");
}

#[test]
fn init_may_use_the_map_for_other_keys() {
    let map: TtlMap<u64, u64> = TtlMap::new();
    fn fib(map: &TtlMap<u64, u64>, n: u64) -> u64 {
        if n < 2 {
            return n;
        }
        map.get_or_insert_with(n, || fib(map, n - 1) + fib(map, n - 2))
    }
    assert_eq!(fib(&map, 90), 2_880_067_194_370_816_120);
    assert_eq!(map.len(), 89);
}

#[test]
fn a_value_stored_while_waiting_is_what_waiters_get() {
    // The leader's value, not a second computation, even for a non-Copy value.
    let map: TtlMap<u8, String> = TtlMap::new();
    let seen = Mutex::new(Vec::new());
    let barrier = Barrier::new(4);
    thread::scope(|scope| {
        for id in 0..4 {
            let (map, seen, barrier) = (&map, &seen, &barrier);
            scope.spawn(move || {
                barrier.wait();
                let value = map.get_or_insert_with(0, || {
                    thread::sleep(SLOW_INIT);
                    format!("computed by {id}")
                });
                seen.lock().unwrap().push(value);
            });
        }
    });
    let seen = seen.into_inner().unwrap();
    assert!(seen.windows(2).all(|pair| pair[0] == pair[1]), "{seen:?}");
}

/// Runs `f` on its own thread and fails the test, instead of hanging it, if `f` has
/// not returned within `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(limit)
        .expect("did not return in time: a caller waits for a computation it should not")
}

/// A key whose `Hash` covers fewer fields than its `Eq`: legal, and a hash collision
/// on every version of one id.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Versioned {
    id: u64,
    version: u64,
}

impl std::hash::Hash for Versioned {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

#[test]
fn keys_that_hash_alike_but_differ_never_wait_for_each_other() {
    let map = std::sync::Arc::new(TtlMap::new());
    let barrier = std::sync::Arc::new(Barrier::new(2));
    let started = std::time::Instant::now();
    let other = {
        let (map, barrier) = (map.clone(), barrier.clone());
        thread::spawn(move || {
            map.get_or_insert_with(Versioned { id: 9, version: 1 }, || {
                barrier.wait();
                thread::sleep(Duration::from_secs(3));
                1
            })
        })
    };
    barrier.wait();
    // Version 1 is being computed for 3 s; version 2 is another key, and must not wait
    // for it (1.5 s leaves a loaded machine room to schedule us).
    let value = within(Duration::from_millis(1500), move || {
        map.get_or_insert_with(Versioned { id: 9, version: 2 }, || 2)
    });
    assert_eq!(value, 2);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(other.join().unwrap(), 1);
}

#[test]
fn an_init_that_computes_a_key_of_the_same_hash_on_another_thread_completes() {
    let map: &'static TtlMap<Versioned, u64> = Box::leak(Box::new(TtlMap::new()));
    let value = within(Duration::from_secs(10), move || {
        map.get_or_insert_with(Versioned { id: 1, version: 1 }, || {
            let inner = thread::scope(|scope| {
                scope
                    .spawn(|| map.get_or_insert_with(Versioned { id: 1, version: 2 }, || 2))
                    .join()
                    .unwrap()
            });
            inner + 10
        })
    });
    assert_eq!(value, 12);
    assert_eq!(map.get(&Versioned { id: 1, version: 2 }), Some(2));
    assert_eq!(map.get(&Versioned { id: 1, version: 1 }), Some(12));
}
