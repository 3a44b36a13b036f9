//! `stale_while_revalidate` and `TtlMap::get_or_refresh_with`: a value past its TTL is
//! served at once within the window while one background refresh recomputes it; no
//! other lookup ever serves it; after TTL + window it is an ordinary miss.

use cache_core::{MockClock, TtlMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(10);
const WINDOW: Duration = Duration::from_secs(5);

fn stale_map() -> (Arc<TtlMap<u32, String>>, MockClock) {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(TTL)
        .stale_while_revalidate(WINDOW)
        .clock(clock.clone())
        .build();
    (Arc::new(map), clock)
}

/// Waits (generously) until `done` holds: background refreshes run on other threads.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn the_stale_window_starts_exactly_at_the_ttl_and_ends_exactly_at_ttl_plus_window() {
    let (map, clock) = stale_map();
    map.insert(1, "old".to_owned());
    clock.advance(TTL - Duration::from_nanos(1));
    assert_eq!(map.get_or_refresh_with(1, || unreachable!("fresh")), "old");
    assert_eq!(map.stats().refreshes_started, 0);

    // At the TTL: expired for every other lookup, stale for this one.
    clock.advance(Duration::from_nanos(1));
    assert_eq!(map.get(&1), None);
    assert_eq!(map.get_or_insert_with(2, || "two".to_owned()), "two");
    let release = Arc::new((Mutex::new(false), Condvar::new()));
    let gate = Arc::clone(&release);
    let value = map.get_or_refresh_with(1, move || {
        let (open, opened) = &*gate;
        let mut open = open.lock().unwrap();
        while !*open {
            open = opened.wait(open).unwrap();
        }
        "new".to_owned()
    });
    assert_eq!(value, "old", "served stale at once");
    assert_eq!(map.stats().stale_hits, 1);
    // Just before the window ends it is still served stale (the refresh is held).
    clock.advance(WINDOW - Duration::from_nanos(1));
    assert_eq!(
        map.get_or_refresh_with(1, || unreachable!("one refresh")),
        "old"
    );
    // At TTL + window it is gone: an ordinary miss, computed here.
    clock.advance(Duration::from_nanos(1));
    assert_eq!(
        map.get_or_refresh_with(1, || "computed".to_owned()),
        "computed"
    );
    let (open, opened) = &*release;
    *open.lock().unwrap() = true;
    opened.notify_all();
    wait_for("the refresh", || map.stats().refreshes_succeeded == 1);
    assert_eq!(map.stats().refreshes_started, 1);
}

#[test]
fn sixteen_stale_callers_start_exactly_one_refresh_and_then_see_its_value() {
    let (map, clock) = stale_map();
    map.insert(7, "old".to_owned());
    clock.advance(TTL + Duration::from_secs(1));
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let start = Arc::new(Barrier::new(16));
    let callers: Vec<_> = (0..16)
        .map(|_| {
            let (map, runs, gate, start) = (
                Arc::clone(&map),
                Arc::clone(&runs),
                Arc::clone(&gate),
                Arc::clone(&start),
            );
            std::thread::spawn(move || {
                start.wait();
                map.get_or_refresh_with(7, move || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let (open, opened) = &*gate;
                    let mut open = open.lock().unwrap();
                    while !*open {
                        open = opened.wait(open).unwrap();
                    }
                    "new".to_owned()
                })
            })
        })
        .collect();
    let served: Vec<String> = callers
        .into_iter()
        .map(|caller| caller.join().unwrap())
        .collect();
    assert!(served.iter().all(|value| value == "old"), "{served:?}");
    assert_eq!(map.stats().stale_hits, 16);
    assert_eq!(map.stats().refreshes_started, 1);
    let (open, opened) = &*gate;
    *open.lock().unwrap() = true;
    opened.notify_all();
    wait_for("the refresh", || map.stats().refreshes_succeeded == 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(map.get(&7), Some("new".to_owned()));
    assert_eq!(
        map.get_or_refresh_with(7, || unreachable!("fresh again")),
        "new"
    );
}

#[test]
fn a_panicking_refresh_leaves_the_stale_value_until_its_window_ends() {
    let (map, clock) = stale_map();
    map.insert(3, "old".to_owned());
    clock.advance(TTL);
    assert_eq!(
        map.get_or_refresh_with(3, || panic!("upstream down")),
        "old"
    );
    wait_for("the failed refresh", || map.stats().refreshes_failed == 1);
    assert_eq!(map.stats().refreshes_succeeded, 0);
    // Still stale, not gone; the next caller starts another refresh.
    assert_eq!(map.get_or_refresh_with(3, || "new".to_owned()), "old");
    wait_for("the second refresh", || {
        map.stats().refreshes_succeeded == 1
    });
    assert_eq!(map.stats().refreshes_started, 2);
    assert_eq!(map.get(&3), Some("new".to_owned()));
}

#[test]
fn without_a_window_it_is_get_or_insert_with() {
    let clock = MockClock::new();
    let map: TtlMap<u32, u32> = TtlMap::builder().ttl(TTL).clock(clock.clone()).build();
    map.insert(1, 1);
    clock.advance(TTL);
    assert_eq!(
        map.get_or_refresh_with(1, || 2),
        2,
        "expired: computed here"
    );
    assert_eq!(map.stats().stale_hits, 0);
    assert_eq!(map.stats().refreshes_started, 0);
}

#[test]
fn the_sweeper_keeps_stale_entries_through_their_window_then_frees_them() {
    let (map, clock) = stale_map();
    for key in 0..100 {
        map.insert(key, key.to_string());
    }
    clock.advance(TTL);
    map.sweep();
    assert_eq!(map.len(), 0, "none live");
    assert_eq!(
        map.get_or_refresh_with(5, || "x".to_owned()),
        "5",
        "still there, stale"
    );
    wait_for("the refresh", || map.stats().refreshes_succeeded == 1);
    assert_eq!(
        map.stats().expirations,
        1,
        "only key 5's stale value, replaced"
    );
    clock.advance(WINDOW - Duration::from_nanos(1));
    map.sweep();
    assert_eq!(map.stats().expirations, 1, "kept through the window");
    clock.advance(Duration::from_nanos(1));
    map.sweep();
    assert_eq!(
        map.stats().expirations,
        100,
        "the other 99 freed at TTL + window"
    );
    assert_eq!(
        map.get(&5),
        Some("x".to_owned()),
        "the refreshed value lives on"
    );
}
