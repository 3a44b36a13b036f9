//! `TtlMap::retain`: bulk invalidation by predicate, directly and through a memoized
//! function's `_cache()`; what leaves is dropped and uncounted, and a panicking
//! predicate leaves the map consistent.

use cache_core::{ttl_cached, MockClock, TtlMap};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts its drops.
#[derive(Clone)]
struct Tracked(u32, Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn retain_keeps_what_the_predicate_accepts_and_drops_the_rest() {
    let drops = Arc::new(AtomicUsize::new(0));
    let map = TtlMap::new();
    for key in 0..1_000_u32 {
        map.insert(key, Tracked(key, Arc::clone(&drops)));
    }
    map.retain(|key, value| {
        assert_eq!(*key, value.0, "each key with its own value");
        key % 3 == 0
    });
    assert_eq!(map.len(), 334);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        666,
        "refused values are dropped"
    );
    for key in 0..1_000_u32 {
        assert_eq!(map.contains_key(&key), key % 3 == 0, "key {key}");
    }
    let stats = map.stats();
    assert_eq!((stats.evictions, stats.expirations), (0, 0));
}

#[test]
fn retain_never_shows_expired_entries_and_removes_them_as_expired() {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .build();
    for key in 0..100_u32 {
        map.insert(key, key);
    }
    clock.advance(Duration::from_secs(5));
    for key in 100..200_u32 {
        map.insert(key, key);
    }
    clock.advance(Duration::from_secs(5));
    let mut seen = Vec::new();
    map.retain(|key, _| {
        seen.push(*key);
        true
    });
    seen.sort_unstable();
    assert_eq!(seen, (100..200).collect::<Vec<_>>(), "only live entries");
    assert_eq!(map.stats().expirations, 100);
    assert_eq!(map.sweep(), 0, "nothing expired is left");
}

#[test]
fn a_bounded_map_counts_retained_entries_exactly() {
    let map = TtlMap::builder().capacity(100).build();
    for key in 0..100_u32 {
        map.insert(key, key);
    }
    map.retain(|key, _| key % 2 == 0);
    for key in 1_000..1_050_u32 {
        map.insert(key, key);
    }
    assert_eq!(map.len(), 100);
    assert_eq!(map.stats().evictions, 0, "room was made by retain");
    map.insert(5_000, 0);
    assert_eq!((map.len(), map.stats().evictions), (100, 1));
}

#[test]
fn a_panicking_predicate_reaches_the_caller_and_leaves_the_map_consistent() {
    let drops = Arc::new(AtomicUsize::new(0));
    let map = TtlMap::new();
    for key in 0..1_000_u32 {
        map.insert(key, Tracked(key, Arc::clone(&drops)));
    }
    let mut visited = 0;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        map.retain(|_, _| {
            visited += 1;
            assert!(visited < 500, "the predicate gives up");
            false
        })
    }));
    assert!(outcome.is_err(), "the panic reached the caller");
    let removed = 1_000 - map.len();
    assert!(removed > 0 && removed < 500, "{removed} removed");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        removed,
        "what was refused is dropped"
    );
    map.retain(|_, _| true);
    assert_eq!(map.len(), 1_000 - removed, "usable after the panic");
}

#[test]
fn the_predicate_may_use_another_map() {
    let tenants_gone = TtlMap::new();
    tenants_gone.insert("b", ());
    let map = TtlMap::new();
    for (tenant, id) in [("a", 1), ("b", 2), ("c", 3)] {
        map.insert((tenant, id), id);
    }
    map.retain(|(tenant, _), _| !tenants_gone.contains_key(tenant));
    assert_eq!(map.len(), 2);
    assert_eq!(map.get(&("b", 2)), None);
}

static RENDERS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn render(tenant: &str, page: u32) -> String {
    RENDERS.fetch_add(1, Ordering::SeqCst);
    format!("{tenant}/{page}")
}

#[test]
fn a_memoized_functions_entries_can_be_retained_through_its_cache() {
    for page in 0..5 {
        render("acme", page);
        render("globex", page);
    }
    assert_eq!(RENDERS.load(Ordering::SeqCst), 10);
    render_cache().retain(|(tenant, _), _| tenant != "acme");
    assert_eq!(render("globex", 1), "globex/1");
    assert_eq!(RENDERS.load(Ordering::SeqCst), 10, "kept: a hit");
    assert_eq!(render("acme", 1), "acme/1");
    assert_eq!(
        RENDERS.load(Ordering::SeqCst),
        11,
        "removed: computed again"
    );
}
