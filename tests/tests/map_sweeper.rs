//! The shared background sweeper, on the real clock. Deadlines here are generous: the
//! sweeper promises about a second; these tests allow ten.

use cache_core::{TtlMap, SWEEPER_THREAD_NAME};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const SHORT_TTL: Duration = Duration::from_millis(20);
const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `done` until it holds or `PATIENCE` runs out; returns whether it held.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// Counts its drops, to see values leave memory.
struct Tracked(Arc<AtomicUsize>);

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked(Arc::clone(&self.0))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn expired_entries_leave_memory_with_no_calls_at_all() {
    let drops = Arc::new(AtomicUsize::new(0));
    let map = TtlMap::with_ttl(SHORT_TTL);
    for key in 0..1000 {
        map.insert(key, Tracked(Arc::clone(&drops)));
    }
    // Not one call on `map` from here on: only the sweeper can drop the values.
    assert!(
        eventually(|| drops.load(Ordering::SeqCst) == 1000),
        "only {} of 1000 expired values were dropped",
        drops.load(Ordering::SeqCst)
    );
    assert_eq!(map.stats().expirations, 1000);
}

#[test]
fn entries_that_have_not_expired_are_left_alone() {
    let map = TtlMap::with_ttl(Duration::from_secs(3600));
    map.insert(1, 1);
    let short = TtlMap::with_ttl(SHORT_TTL);
    short.insert(1, 1);
    assert!(eventually(|| short.stats().expirations == 1));
    assert_eq!(map.get(&1), Some(1));
}

#[test]
fn two_hundred_maps_share_one_sweeper_thread() {
    let maps: Vec<TtlMap<u32, u32>> = (0..200).map(|_| TtlMap::with_ttl(SHORT_TTL)).collect();
    for map in &maps {
        map.insert(1, 1);
    }
    assert!(eventually(|| maps
        .iter()
        .all(|m| m.stats().expirations == 1)));
    assert_eq!(sweeper_threads(), 1);
}

#[test]
fn dropping_a_map_drops_its_values_at_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let map = TtlMap::with_ttl(Duration::from_secs(3600));
    for key in 0..100 {
        map.insert(key, Tracked(Arc::clone(&drops)));
    }
    drop(map);
    assert_eq!(drops.load(Ordering::SeqCst), 100);
}

/// Threads of this process named like the sweeper (Linux only; elsewhere assumed 1).
fn sweeper_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 1;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| SWEEPER_THREAD_NAME.starts_with(name.trim()))
        .count()
}

/// A value whose `Clone` takes 1.5 s when asked to, as cloning a huge value can.
struct SlowClone {
    slow: bool,
    cloning: Arc<std::sync::atomic::AtomicBool>,
}

impl Clone for SlowClone {
    fn clone(&self) -> Self {
        if self.slow {
            self.cloning.store(true, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(1500));
        }
        SlowClone {
            slow: false,
            cloning: Arc::clone(&self.cloning),
        }
    }
}

/// The sweeper must not raise its writer flag behind a reader that stays (a slow
/// `Clone`) and so keep every lookup of that shard waiting with it.
#[test]
fn a_slow_clone_never_stalls_lookups_of_other_keys_behind_the_sweeper() {
    let cloning = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let value = |slow| SlowClone {
        slow,
        cloning: Arc::clone(&cloning),
    };
    let map = Arc::new(TtlMap::new());
    for key in 0..512_u32 {
        map.insert(key, value(false));
    }
    map.insert(u32::MAX, value(true));
    // Entries in every shard that expire while the clone runs, for the sweeper to come
    // for: it then meets the shard of the slow clone.
    for key in 1_000..3_000 {
        map.insert_with_ttl(key, value(false), Duration::from_millis(200));
    }
    let slow_reader = {
        let map = Arc::clone(&map);
        thread::spawn(move || map.get(&u32::MAX).is_some())
    };
    while !cloning.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_millis(1200) {
        for key in 0..512_u32 {
            let lookup = Instant::now();
            assert!(map.get(&key).is_some());
            slowest = slowest.max(lookup.elapsed());
        }
    }
    assert!(slow_reader.join().unwrap());
    assert!(
        // The stall this guards against is the whole clone, 1.5 s; 700 ms leaves room
        // for a loaded machine to preempt this thread.
        slowest < Duration::from_millis(700),
        "a lookup waited {slowest:?} behind the sweeper"
    );
    // And the sweeper still got every expired entry out in the end.
    assert!(eventually(|| map.stats().expirations >= 2_000));
}
