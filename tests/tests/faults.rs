//! Fault injection: user code that panics inside the map's operations. The map stays
//! usable, the panic reaches only the caller that caused it, and the shared sweeper
//! keeps sweeping every other map.

use cache_core::{MockClock, TtlMap};
use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

fn panics(f: impl FnOnce()) -> bool {
    panic::catch_unwind(AssertUnwindSafe(f)).is_err()
}

/// A key whose `Hash` and `Eq` panic while its flag is up.
#[derive(Clone)]
struct TrapKey {
    id: u32,
    armed: Arc<AtomicBool>,
}

impl Hash for TrapKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        assert!(!self.armed.load(Ordering::SeqCst), "Hash trap sprung");
        self.id.hash(state);
    }
}

impl PartialEq for TrapKey {
    fn eq(&self, other: &Self) -> bool {
        assert!(!self.armed.load(Ordering::SeqCst), "Eq trap sprung");
        self.id == other.id
    }
}

impl Eq for TrapKey {}

#[test]
fn a_key_whose_hash_or_eq_panics_leaves_the_map_usable() {
    let armed = Arc::new(AtomicBool::new(false));
    let key = |id| TrapKey {
        id,
        armed: Arc::clone(&armed),
    };
    let map = TtlMap::new();
    map.insert(key(1), "one");
    armed.store(true, Ordering::SeqCst);
    assert!(panics(|| {
        map.get(&key(1));
    }));
    assert!(panics(|| {
        map.insert(key(2), "two");
    }));
    assert!(panics(|| {
        map.get_or_insert_with(key(3), || "three");
    }));
    armed.store(false, Ordering::SeqCst);
    assert_eq!(map.get(&key(1)), Some("one"));
    map.insert(key(2), "two");
    assert_eq!(map.len(), 2);
}

/// A value whose `Clone` panics while its flag is up.
struct TrapClone(Arc<AtomicBool>);

impl Clone for TrapClone {
    fn clone(&self) -> Self {
        assert!(!self.0.load(Ordering::SeqCst), "Clone trap sprung");
        TrapClone(Arc::clone(&self.0))
    }
}

#[test]
fn a_clone_that_panics_on_a_hit_reaches_only_that_caller() {
    let armed = Arc::new(AtomicBool::new(false));
    let map = TtlMap::new();
    map.insert(1, TrapClone(Arc::clone(&armed)));
    armed.store(true, Ordering::SeqCst);
    assert!(panics(|| {
        map.get(&1);
    }));
    armed.store(false, Ordering::SeqCst);
    assert!(map.get(&1).is_some());
    map.insert(2, TrapClone(Arc::clone(&armed)));
    assert_eq!(map.len(), 2);
}

#[test]
fn a_body_that_panics_while_others_wait_fails_only_its_caller() {
    let map: TtlMap<u8, u8> = TtlMap::new();
    let barrier = Barrier::new(3);
    let runs = AtomicUsize::new(0);
    let outcomes: Vec<bool> = thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    panics(|| {
                        map.get_or_insert_with(1, || {
                            thread::sleep(Duration::from_millis(100));
                            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                                panic!("leader fails");
                            }
                            1
                        });
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|panicked| **panicked).count(), 1);
    assert_eq!(map.get(&1), Some(1));
}

/// A value whose `Drop` panics.
#[derive(Clone)]
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("Drop trap sprung");
        }
    }
}

#[test]
fn a_value_whose_drop_panics_fails_only_the_call_that_drops_it() {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(Duration::from_secs(1))
        .clock(clock.clone())
        .capacity(10)
        .build();
    map.insert(1, PanicOnDrop);
    map.insert(2, PanicOnDrop);
    // The previous value comes back to the caller, whose drop panics: its business.
    assert!(panics(|| {
        map.insert(1, PanicOnDrop);
    }));
    clock.advance(Duration::from_secs(1));
    // Each sweep stops at the first panicking drop; the next one goes on from there.
    let mut panicked_sweeps = 0;
    while panics(|| {
        map.sweep();
    }) {
        panicked_sweeps += 1;
        assert!(panicked_sweeps <= 2, "each expired value is dropped once");
    }
    assert!(panicked_sweeps >= 1);
    assert!(map.is_empty());
    assert_eq!(map.stats().expirations, 2);
    map.insert(3, PanicOnDrop);
    assert_eq!(map.len(), 1, "counts stayed right");
    std::mem::forget(map); // dropping it would drop a PanicOnDrop
}

/// Counts its drops.
#[derive(Clone)]
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn the_sweeper_survives_a_panicking_drop_and_keeps_sweeping_other_maps() {
    let poisoned = TtlMap::with_ttl(Duration::from_millis(10));
    for key in 0..10 {
        poisoned.insert(key, PanicOnDrop);
    }
    // Let the sweeper meet the panicking values first.
    let start = Instant::now();
    while poisoned.stats().expirations < 10 && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        poisoned.stats().expirations >= 1,
        "the sweeper reached the map"
    );

    let drops = Arc::new(AtomicUsize::new(0));
    let healthy = TtlMap::with_ttl(Duration::from_millis(10));
    for key in 0..100 {
        healthy.insert(key, Tracked(Arc::clone(&drops)));
    }
    let start = Instant::now();
    while drops.load(Ordering::SeqCst) < 100 && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        100,
        "the sweeper is still at work"
    );
    std::mem::forget(poisoned);
}

/// Waits until `done` holds, for at most ten seconds; whether it held.
fn within_ten_seconds(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(10) {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Whether the sweeper still frees expired values of a fresh map, untouched.
fn the_sweeper_still_sweeps() -> bool {
    let drops = Arc::new(AtomicUsize::new(0));
    let healthy = TtlMap::with_ttl(Duration::from_millis(10));
    for key in 0..100 {
        healthy.insert(key, Tracked(Arc::clone(&drops)));
    }
    within_ten_seconds(|| drops.load(Ordering::SeqCst) == 100)
}

#[test]
fn many_panicking_drops_in_one_sweep_batch_neither_abort_nor_stop_the_sweeper() {
    // 32 shards at most here, swept 4 entries a batch: 400 values put several
    // panicking drops in every batch. A second panic while the first unwinds used to
    // abort the process.
    let poisoned = TtlMap::with_ttl(Duration::from_millis(10));
    for key in 0..400 {
        poisoned.insert(key, PanicOnDrop);
    }
    assert!(
        within_ten_seconds(|| poisoned.stats().expirations == 400),
        "the sweeper expired every value, panics and all"
    );
    assert!(poisoned.is_empty());
    assert!(the_sweeper_still_sweeps());
}

#[test]
fn dropping_a_map_of_panicking_values_never_kills_the_sweeper() {
    for _ in 0..50 {
        let poisoned = TtlMap::with_ttl(Duration::from_millis(1));
        for key in 0..20 {
            poisoned.insert(key, PanicOnDrop);
        }
        thread::sleep(Duration::from_millis(2));
        // Dropped here or, if the sweeper holds it at this moment, on the sweeper:
        // either way every value is dropped and the panic surfaces on one thread only.
        let dropped = panic::catch_unwind(AssertUnwindSafe(move || drop(poisoned)));
        let _ = dropped;
    }
    assert!(the_sweeper_still_sweeps());
}

/// Uses a fresh map (so it registers with the sweeper, taking the fork gate) when the
/// thread ends.
struct UsesAMapAtThreadExit;

impl Drop for UsesAMapAtThreadExit {
    fn drop(&mut self) {
        let map = TtlMap::with_ttl(Duration::from_secs(1));
        map.insert(1, 1);
        assert_eq!(map.get(&1), Some(1));
    }
}

thread_local! {
    static AT_EXIT: UsesAMapAtThreadExit = const { UsesAMapAtThreadExit };
}

/// A thread-local's destructor that uses a map may run after the crate's own
/// thread-locals are gone: it must work, not panic (a panic there aborts).
#[test]
fn a_map_used_from_a_thread_local_destructor_works() {
    std::thread::spawn(|| {
        // Registered first, so destroyed last: after the crate's thread-locals,
        // which the insert below sets up.
        AT_EXIT.with(|_| {});
        let map = TtlMap::with_ttl(Duration::from_secs(1));
        map.insert(2, 2);
    })
    .join()
    .unwrap();
}
