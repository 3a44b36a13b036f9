//! `TtlMapBuilder::on_evict`: every entry that leaves a map is reported once, with why
//! it left, with no lock held; a panicking listener loses no report; a slow listener
//! of one map does not hold up the sweeping of another.

use cache_core::{EvictionCause, MockClock, TtlMap};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

type Log = Arc<Mutex<Vec<(u64, u64, EvictionCause)>>>;

fn logged_map(capacity: Option<usize>) -> (TtlMap<u64, u64>, Log, MockClock) {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let clock = MockClock::new();
    let mut builder = TtlMap::builder()
        .ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .on_evict(move |key: &u64, value, cause| sink.lock().unwrap().push((*key, value, cause)));
    if let Some(capacity) = capacity {
        builder = builder.capacity(capacity);
    }
    (builder.build(), log, clock)
}

fn taken(log: &Log) -> Vec<(u64, u64, EvictionCause)> {
    let mut entries = std::mem::take(&mut *log.lock().unwrap());
    entries.sort_unstable_by_key(|&(key, value, _)| (key, value));
    entries
}

#[test]
fn every_way_out_is_reported_with_its_cause() {
    let (map, log, clock) = logged_map(None);
    map.insert(1, 10);
    assert_eq!(
        map.insert(1, 11),
        Some(10),
        "the caller still gets the old value"
    );
    assert_eq!(taken(&log), [(1, 10, EvictionCause::Replaced)]);

    assert_eq!(map.remove(&1), Some(11), "the caller still gets the value");
    assert_eq!(taken(&log), [(1, 11, EvictionCause::Removed)]);

    for key in 2..6 {
        map.insert(key, key * 10);
    }
    map.retain(|&key, _| key % 2 == 0);
    assert_eq!(
        taken(&log),
        [
            (3, 30, EvictionCause::Removed),
            (5, 50, EvictionCause::Removed)
        ]
    );
    map.clear();
    assert_eq!(
        taken(&log),
        [
            (2, 20, EvictionCause::Cleared),
            (4, 40, EvictionCause::Cleared)
        ]
    );

    // Expired: swept, found by a lookup, and replaced or removed after its TTL.
    for key in 6..10 {
        map.insert(key, key * 10);
    }
    clock.advance(Duration::from_secs(10));
    assert_eq!(map.get(&6), None);
    map.insert(7, 71);
    assert_eq!(map.remove(&8), None);
    map.sweep();
    assert_eq!(
        taken(&log),
        [
            (6, 60, EvictionCause::Expired),
            (7, 70, EvictionCause::Expired),
            (8, 80, EvictionCause::Expired),
            (9, 90, EvictionCause::Expired),
        ]
    );
    drop(map);
    assert_eq!(taken(&log), [], "dropping the map reports nothing");
}

#[test]
fn capacity_evictions_are_reported_and_add_up() {
    let (map, log, _clock) = logged_map(Some(100));
    for key in 0..1_000 {
        map.insert(key, key);
    }
    let reported = taken(&log);
    assert_eq!(reported.len(), 900);
    assert!(reported
        .iter()
        .all(|&(key, value, cause)| key == value && cause == EvictionCause::Capacity));
    assert_eq!(map.stats().evictions, 900);
    // Every key is either still there or was reported, once.
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (key, _, _) in reported {
        *seen.entry(key).or_default() += 1;
    }
    for key in 0..1_000 {
        let present = usize::from(map.get(&key).is_some());
        assert_eq!(
            present + seen.get(&key).copied().unwrap_or(0),
            1,
            "key {key}"
        );
    }
}

#[test]
fn a_listener_may_use_its_own_map() {
    // Runs with no lock held: a listener that reads and writes the same map neither
    // deadlocks nor is refused.
    static MAP: OnceLock<TtlMap<u64, u64>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        TtlMap::builder()
            .capacity(64)
            .on_evict(|key: &u64, value, _| {
                let map = MAP.get().expect("built before any eviction");
                let _ = map.get(key);
                if *key < 1_000 {
                    map.insert(key + 1_000_000, value);
                }
            })
            .build()
    });
    for key in 0..500 {
        map.insert(key, key);
    }
    assert!(map.len() <= 64);
}

#[test]
fn a_panicking_listener_loses_no_report() {
    let reports = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reports);
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(Duration::from_secs(1))
        .clock(clock.clone())
        .on_evict(move |key: &u64, _value: u64, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            assert!(key % 3 != 0, "listener refuses key {key}");
        })
        .build();
    for key in 0..300 {
        map.insert(key, key);
    }
    clock.advance(Duration::from_secs(1));
    let outcome = catch_unwind(AssertUnwindSafe(|| map.sweep()));
    assert!(outcome.is_err(), "the first panic reaches the caller");
    assert_eq!(
        reports.load(Ordering::Relaxed),
        300,
        "every entry was reported"
    );
    assert_eq!(map.len(), 0);
    assert_eq!(map.stats().expirations, 300);
}

#[test]
fn a_slow_listener_does_not_hold_up_the_sweeping_of_another_map() {
    // Map A: 400 entries whose reports take 50 ms each (20 s in all). Map B: one entry
    // whose value records when it is dropped. Both expire at once; B's entry must be
    // swept long before A's reports are done.
    let slow = TtlMap::builder()
        .ttl(Duration::from_millis(200))
        .on_evict(|_key: &u64, _value: u64, _| std::thread::sleep(Duration::from_millis(50)))
        .build();
    let dropped_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    struct Recorded(Arc<Mutex<Option<Instant>>>);
    impl Clone for Recorded {
        fn clone(&self) -> Self {
            Recorded(Arc::clone(&self.0))
        }
    }
    impl Drop for Recorded {
        fn drop(&mut self) {
            if Arc::strong_count(&self.0) == 2 {
                let mut at = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                at.get_or_insert_with(Instant::now);
            }
        }
    }
    for key in 0..400 {
        slow.insert(key, key);
    }
    let other = TtlMap::builder().ttl(Duration::from_millis(200)).build();
    other.insert(1, Recorded(Arc::clone(&dropped_at)));
    let expired_at = Instant::now() + Duration::from_millis(200);
    let deadline = Instant::now() + Duration::from_secs(15);
    while dropped_at.lock().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let dropped = dropped_at
        .lock()
        .unwrap()
        .expect("the other map's entry was swept");
    // The sweeper's rounds are about a second apart; one batch of the slow map's
    // reports (4 entries, 200 ms) may come first. Generous: 5 s, against the 20 s the
    // slow map's reports take.
    assert!(
        dropped.saturating_duration_since(expired_at) < Duration::from_secs(5),
        "swept {:?} after expiry",
        dropped.saturating_duration_since(expired_at)
    );
}

#[test]
fn a_panicking_listener_on_the_sweeper_loses_no_report_nor_stops_other_maps() {
    let reports = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reports);
    let panicking = TtlMap::builder()
        .ttl(Duration::from_millis(100))
        .on_evict(move |_key: &u64, _value: u64, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            panic!("a listener that always panics");
        })
        .build();
    for key in 0..100 {
        panicking.insert(key, key);
    }
    let other_reports = Arc::new(AtomicUsize::new(0));
    let other_counter = Arc::clone(&other_reports);
    let other = TtlMap::builder()
        .ttl(Duration::from_millis(100))
        .on_evict(move |_key: &u64, _value: u64, _| {
            other_counter.fetch_add(1, Ordering::Relaxed);
        })
        .build();
    for key in 0..100 {
        other.insert(key, key);
    }
    // Nobody calls either map again: the background sweeper reports all 200.
    let deadline = Instant::now() + Duration::from_secs(10);
    while (reports.load(Ordering::Relaxed) < 100 || other_reports.load(Ordering::Relaxed) < 100)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(reports.load(Ordering::Relaxed), 100);
    assert_eq!(other_reports.load(Ordering::Relaxed), 100);
}

#[test]
fn under_four_threads_every_value_is_reported_once_or_still_there() {
    // Each thread stores unique values (thread, sequence) into a shared small key
    // space: overwrites, capacity evictions, removals, retains, expiry and clears all
    // race. At the end every value ever stored is in the map or was reported, once.
    let reported: Arc<Mutex<HashMap<u64, usize>>> = Arc::default();
    let sink = Arc::clone(&reported);
    let clock = MockClock::new();
    let map = Arc::new(
        TtlMap::builder()
            .ttl(Duration::from_secs(5))
            .capacity(200)
            .clock(clock.clone())
            .on_evict(move |_key: &u64, value: u64, _| {
                *sink.lock().unwrap().entry(value).or_default() += 1;
            })
            .build(),
    );
    let inserted = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4_u64)
        .map(|thread| {
            let map = Arc::clone(&map);
            let clock = clock.clone();
            let inserted = Arc::clone(&inserted);
            std::thread::spawn(move || {
                let mut state = thread + 1;
                for sequence in 0..20_000_u64 {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    let key = (state >> 33) % 500;
                    let value = thread << 32 | sequence;
                    match (state >> 20) % 100 {
                        0..=79 => {
                            map.insert(key, value);
                            inserted.fetch_add(1, Ordering::Relaxed);
                        }
                        80..=94 => {
                            map.remove(&key);
                        }
                        95..=97 => {
                            map.get(&key);
                        }
                        98 => map.retain(|key, _| key % 7 != 0),
                        _ if sequence % 5_000 == 0 => map.clear(),
                        _ => clock.advance(Duration::from_millis(50)),
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    clock.advance(Duration::from_secs(5));
    map.sweep();
    assert_eq!(map.len(), 0);
    // The map is empty: every value ever stored (each insert's is unique) left it,
    // and was reported exactly once.
    let reported = reported.lock().unwrap();
    assert!(
        reported.values().all(|&times| times == 1),
        "a value reported twice"
    );
    assert_eq!(reported.len(), inserted.load(Ordering::Relaxed));
}
