//! Stress: four threads of mixed operations on short TTLs against one bounded map and
//! two `#[ttl_cached]` functions (sync and async), with the real sweeper running, sync
//! and async callers, invalidations and clears. Every
//! value read must be the value of its key; `len()` never exceeds the capacity; a
//! watchdog fails the test with a clear message if operations stop completing.
//!
//! Runs for `STRESS_SECS` seconds (default 10).

use cache_core::{ttl_cached, TtlMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const CAPACITY: usize = 500;
const KEYS: u32 = 2_000;
const TTL: Duration = Duration::from_millis(5);
/// No operation completing for this long means a deadlock (or a livelock).
const WATCHDOG: Duration = Duration::from_secs(10);

/// The only value a key may ever have.
fn value_of(key: u32) -> (u32, u64) {
    (key, u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The same values through the attribute, sync and async, on their own short-lived caches.
#[ttl_cached(millis = 5, capacity = 300)]
fn memoized_value(key: u32) -> (u32, u64) {
    value_of(key)
}

#[ttl_cached(millis = 5, capacity = 300)]
async fn memoized_value_async(key: u32) -> (u32, u64) {
    tokio::task::yield_now().await;
    value_of(key)
}

fn run_for() -> Duration {
    let secs = std::env::var("STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(secs)
}

/// A tiny deterministic generator per thread: no dependency, reproducible mixes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u32
    }
}

fn sync_worker(map: &TtlMap<u32, (u32, u64)>, seed: u64, stop: &AtomicBool, done: &AtomicU64) {
    let mut rng = Rng(seed);
    while !stop.load(Ordering::Relaxed) {
        let key = rng.next() % KEYS;
        match rng.next() % 100 {
            0..=39 => {
                if let Some(value) = map.get(&key) {
                    assert_eq!(value, value_of(key), "get returned another key's value");
                }
            }
            40..=69 => {
                let value = map.get_or_insert_with(key, || value_of(key));
                assert_eq!(value, value_of(key));
            }
            70..=84 => {
                if let Some(old) = map.insert(key, value_of(key)) {
                    assert_eq!(old, value_of(key));
                }
            }
            85..=94 => {
                if let Some(old) = map.remove(&key) {
                    assert_eq!(old, value_of(key));
                }
            }
            95..=96 => assert!(map.len() <= CAPACITY),
            97 => assert_eq!(memoized_value(key % 500), value_of(key % 500)),
            98 => {
                memoized_value_invalidate(key % 500);
            }
            _ => {
                if rng.next() % 50 == 0 {
                    map.clear();
                    memoized_value_clear();
                }
            }
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
}

fn async_worker(map: &TtlMap<u32, (u32, u64)>, seed: u64, stop: &AtomicBool, done: &AtomicU64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut rng = Rng(seed);
        while !stop.load(Ordering::Relaxed) {
            // Four concurrent calls per round, often for the same key.
            let keys: [u32; 4] = std::array::from_fn(|_| rng.next() % (KEYS / 20));
            let call = |key: u32| async move {
                let value = map
                    .get_or_insert_with_async(key, || async move {
                        tokio::task::yield_now().await;
                        value_of(key)
                    })
                    .await;
                assert_eq!(value, value_of(key));
            };
            tokio::join!(call(keys[0]), call(keys[1]), call(keys[2]), call(keys[3]));
            let (a, b) = tokio::join!(memoized_value_async(keys[0]), memoized_value_async(keys[0]));
            assert_eq!((a, b), (value_of(keys[0]), value_of(keys[0])));
            if keys[1] % 7 == 0 {
                memoized_value_async_invalidate(keys[1]);
            }
            done.fetch_add(keys.len() as u64, Ordering::Relaxed);
        }
    });
}

#[test]
fn four_threads_of_mixed_operations_keep_every_value_right() {
    let map = Arc::new(TtlMap::builder().ttl(TTL).capacity(CAPACITY).build());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4u64)
        .map(|id| {
            let (map, stop, done) = (map.clone(), stop.clone(), done.clone());
            thread::spawn(move || {
                if id == 3 {
                    async_worker(&map, id + 1, &stop, &done);
                } else {
                    sync_worker(&map, id + 1, &stop, &done);
                }
            })
        })
        .collect();

    let start = Instant::now();
    let mut last = (0, Instant::now());
    while start.elapsed() < run_for() {
        thread::sleep(Duration::from_millis(100));
        let now = done.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        }
        assert!(
            last.1.elapsed() < WATCHDOG,
            "deadlock suspected: no operation completed for {WATCHDOG:?} ({now} done)"
        );
        assert!(
            workers.iter().all(|w| !w.is_finished()),
            "a worker died: its panic is reported below"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("worker panicked");
    }
    let stats = map.stats();
    eprintln!(
        "stress: {} operations in {:?}; {stats:?}",
        done.load(Ordering::Relaxed),
        start.elapsed()
    );
    assert!(map.len() <= CAPACITY);
    assert!(stats.expirations > 0, "the short TTL expired entries");
    assert!(stats.evictions > 0, "the capacity was reached");
    assert!(memoized_value_cache().len() <= 300);
    assert!(memoized_value_async_cache().stats().hits > 0);
}
