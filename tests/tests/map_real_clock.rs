//! Expiry on the real clock is exact: a lookup never returns an entry after its
//! deadline, and never misses it before. (Lookups use a cheap coarse clock only for
//! entries far from their deadline.) A computed value's deadline is read from the cycle
//! counter where it can be: never early, at most a fraction of a millisecond late.

use cache_core::TtlMap;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_millis(30);

/// How much longer than its TTL a computed value may live (the cycle counter's slack,
/// 250 µs, with room to spare).
const COMPUTED_SLACK: Duration = Duration::from_millis(1);

#[test]
fn a_lookup_is_never_late_nor_early_on_the_real_clock() {
    let map = TtlMap::with_ttl(TTL);
    for round in 0..20u32 {
        let before_insert = Instant::now();
        map.insert(round, round);
        let after_insert = Instant::now();
        // The deadline lies between these two instants.
        let deadline = before_insert + TTL..=after_insert + TTL;
        look_up_until_gone(&map, round, deadline);
    }
}

#[test]
fn a_computed_value_is_never_dropped_before_its_ttl_on_the_real_clock() {
    let map = TtlMap::with_ttl(TTL);
    // 20 rounds of at least 30 ms: the sweeper calibrates the cycle counter (100 ms)
    // early on, so most rounds store with its reading.
    for round in 0..20u32 {
        let before_compute = Instant::now();
        map.get_or_insert_with(round, || round);
        let after_compute = Instant::now();
        let deadline = before_compute + TTL..=after_compute + TTL + COMPUTED_SLACK;
        look_up_until_gone(&map, round, deadline);
    }
}

/// Looks `key` up until it is gone, checking that it is returned only before the
/// latest possible deadline and gone only after the earliest.
fn look_up_until_gone(map: &TtlMap<u32, u32>, key: u32, deadline: RangeInclusive<Instant>) {
    let (earliest_deadline, latest_deadline) = deadline.into_inner();
    loop {
        let before_get = Instant::now();
        let found = map.get(&key);
        let after_get = Instant::now();
        match found {
            Some(_) => assert!(
                before_get < latest_deadline,
                "key {key}: returned {:?} after the deadline",
                before_get - latest_deadline
            ),
            None => {
                assert!(
                    after_get >= earliest_deadline,
                    "key {key}: gone {:?} before the deadline",
                    earliest_deadline - after_get
                );
                return;
            }
        }
    }
}

#[test]
fn contains_key_agrees_with_get_at_the_deadline() {
    let map = TtlMap::with_ttl(TTL);
    map.insert("k", 1);
    let deadline = Instant::now() + TTL;
    while Instant::now() < deadline + TTL {
        let before = Instant::now();
        if map.contains_key("k") {
            assert!(before < deadline, "contains_key saw an expired entry");
        }
    }
    assert!(!map.contains_key("k"));
    assert_eq!(map.get("k"), None);
}

/// A value whose `Drop` takes 1.5 s, as freeing a huge value or closing a socket can.
#[derive(Clone)]
struct SlowDrop(Arc<AtomicBool>);

impl Drop for SlowDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1500));
    }
}

#[test]
fn a_slow_drop_on_the_sweeper_never_makes_another_maps_entry_live_late() {
    let dropping = Arc::new(AtomicBool::new(false));
    let slow = TtlMap::with_ttl(Duration::from_millis(1));
    slow.insert(0, SlowDrop(Arc::clone(&dropping)));
    // Wait until the sweeper is inside the slow `Drop`.
    let start = Instant::now();
    while !dropping.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the sweeper never came"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let map = TtlMap::with_ttl(Duration::from_millis(400));
    let inserted = Instant::now();
    map.insert(1, 1);
    std::thread::sleep(Duration::from_millis(700));
    assert!(inserted.elapsed() >= Duration::from_millis(400));
    assert_eq!(
        map.get(&1),
        None,
        "returned {:?} past its deadline",
        inserted.elapsed()
    );
    assert!(!map.contains_key(&1));
}
