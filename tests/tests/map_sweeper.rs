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
