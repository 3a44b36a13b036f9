//! `TtlMap` semantics, from the Python `ExpiryDict` we started from, made exact.
//! All on `MockClock`: no sleeping.

use cache_core::{MockClock, TtlMap};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

fn map_with_ttl(ttl: Duration) -> (TtlMap<&'static str, i32>, MockClock) {
    let clock = MockClock::new();
    let map = TtlMap::builder().ttl(ttl).clock(clock.clone()).build();
    (map, clock)
}

#[test]
fn set_then_get_returns_the_value_until_the_ttl_runs_out() {
    let (map, clock) = map_with_ttl(10 * SEC);
    map.insert("a", 1);
    clock.advance(10 * SEC - Duration::from_nanos(1));
    assert_eq!(map.get("a"), Some(1));
    clock.advance(Duration::from_nanos(1));
    assert_eq!(map.get("a"), None, "gone exactly at insert time + ttl");
}

#[test]
fn an_expired_entry_is_invisible_to_contains_and_len() {
    let (map, clock) = map_with_ttl(SEC);
    map.insert("a", 1);
    map.insert_with_ttl("b", 2, 5 * SEC);
    clock.advance(SEC);
    assert!(!map.contains_key("a"));
    assert!(map.contains_key("b"));
    assert_eq!(map.len(), 1);
}

#[test]
fn delete_removes_and_returns_the_live_value() {
    let (map, _clock) = map_with_ttl(SEC);
    map.insert("a", 1);
    assert_eq!(map.remove("a"), Some(1));
    assert_eq!(map.get("a"), None);
    assert_eq!(map.remove("a"), None);
}

#[test]
fn removing_an_expired_key_returns_nothing() {
    let (map, clock) = map_with_ttl(SEC);
    map.insert("a", 1);
    clock.advance(2 * SEC);
    assert_eq!(map.remove("a"), None);
}

#[test]
fn overwrite_replaces_the_value_and_restarts_the_ttl() {
    let (map, clock) = map_with_ttl(10 * SEC);
    map.insert("a", 1);
    clock.advance(8 * SEC);
    assert_eq!(map.insert("a", 2), Some(1));
    clock.advance(8 * SEC);
    assert_eq!(map.get("a"), Some(2), "the old deadline no longer applies");
    clock.advance(2 * SEC);
    assert_eq!(map.get("a"), None);
}

#[test]
fn a_stale_deadline_never_removes_the_newer_entry() {
    let (map, clock) = map_with_ttl(10 * SEC);
    map.insert("a", 1);
    clock.advance(5 * SEC);
    map.insert("a", 2); // the first deadline (t=10) is now stale
    clock.advance(6 * SEC); // t=11: the stale deadline is due
    assert_eq!(map.sweep(), 0);
    assert_eq!(map.get("a"), Some(2));
    assert_eq!(map.len(), 1);
}

#[test]
fn a_shorter_ttl_on_overwrite_takes_effect() {
    let (map, clock) = map_with_ttl(10 * SEC);
    map.insert("a", 1);
    map.insert_with_ttl("a", 2, SEC);
    clock.advance(SEC);
    assert_eq!(map.get("a"), None);
    assert_eq!(map.sweep() + map.stats().expirations as usize, 1);
}

#[test]
fn insert_reports_no_previous_value_when_it_had_expired() {
    let (map, clock) = map_with_ttl(SEC);
    map.insert("a", 1);
    clock.advance(SEC);
    assert_eq!(map.insert("a", 2), None);
    assert_eq!(map.get("a"), Some(2));
}

#[test]
fn a_none_value_is_a_present_value_not_a_miss() {
    let map: TtlMap<u32, Option<u32>> = TtlMap::new();
    map.insert(1, None);
    assert_eq!(map.get(&1), Some(None));
    assert!(map.contains_key(&1));
    assert_eq!(map.get_or_insert_with(1, || Some(9)), None);
    assert_eq!(map.stats().misses, 0);
}

#[test]
fn a_map_without_ttl_keeps_entries_forever() {
    let clock = MockClock::new();
    let map = TtlMap::builder().clock(clock.clone()).build();
    map.insert("a", 1);
    clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
    assert_eq!(map.get("a"), Some(1));
    assert_eq!(map.remaining_ttl("a"), Some(Duration::MAX));
}

#[test]
fn per_entry_ttls_expire_independently_in_deadline_order() {
    let clock = MockClock::new();
    let map = TtlMap::builder().clock(clock.clone()).build();
    for (key, secs) in [(3, 3), (1, 1), (5, 5), (2, 2), (4, 4)] {
        map.insert_with_ttl(key, key, Duration::from_secs(secs));
    }
    for gone in 1..=5 {
        clock.advance(SEC);
        assert_eq!(map.sweep(), 1);
        assert_eq!(map.get(&gone), None);
        assert_eq!(map.len(), 5 - gone as usize);
    }
}

#[test]
fn a_zero_ttl_entry_is_never_seen() {
    let (map, _clock) = map_with_ttl(SEC);
    map.insert_with_ttl("a", 1, Duration::ZERO);
    assert_eq!(map.get("a"), None);
    assert!(map.is_empty());
}

#[test]
fn remaining_ttl_counts_down_on_the_map_clock() {
    let (map, clock) = map_with_ttl(10 * SEC);
    map.insert("a", 1);
    clock.advance(3 * SEC);
    assert_eq!(map.remaining_ttl("a"), Some(7 * SEC));
    clock.advance(7 * SEC);
    assert_eq!(map.remaining_ttl("a"), None);
}

#[test]
fn clear_removes_everything() {
    let (map, _clock) = map_with_ttl(SEC);
    map.insert("a", 1);
    map.insert("b", 2);
    map.clear();
    assert!(map.is_empty());
    assert_eq!(map.get("a"), None);
    map.insert("a", 3);
    assert_eq!(map.get("a"), Some(3), "usable after clear");
}

#[test]
fn entries_lists_only_live_entries() {
    let (map, clock) = map_with_ttl(10 * SEC);
    map.insert("old", 1);
    clock.advance(5 * SEC);
    map.insert("new", 2);
    clock.advance(5 * SEC);
    assert_eq!(map.entries(), [("new", 2)]);
}

#[test]
fn string_keys_are_looked_up_by_str() {
    let map: TtlMap<String, usize> = TtlMap::default();
    map.insert("hello".to_owned(), 5);
    assert_eq!(map.get("hello"), Some(5));
    assert_eq!(map.remove("hello"), Some(5));
}

#[test]
fn sliding_expiry_keeps_read_entries_alive() {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(10 * SEC)
        .refresh_on_hit(true)
        .clock(clock.clone())
        .build();
    map.insert("read", 1);
    map.insert("unread", 2);
    for _ in 0..5 {
        clock.advance(6 * SEC);
        assert_eq!(map.get("read"), Some(1));
    }
    assert_eq!(map.get("unread"), None);
    clock.advance(10 * SEC);
    assert_eq!(map.get("read"), None);
}

#[test]
fn debug_shows_the_configuration_and_counters() {
    let (map, _clock) = map_with_ttl(SEC);
    map.insert("a", 1);
    let shown = format!("{map:?}");
    assert!(shown.contains("len: 1"), "{shown}");
    assert!(shown.contains("ttl: Some(1s)"), "{shown}");
}

#[test]
fn the_map_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TtlMap<String, Vec<u8>>>();
}

#[test]
fn len_is_empty_and_debug_only_read() {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(Duration::from_secs(1))
        .clock(clock.clone())
        .build();
    map.insert(1, 1);
    map.insert(2, 2);
    clock.advance(Duration::from_secs(1));
    assert_eq!(map.len(), 0);
    assert!(map.is_empty());
    assert!(format!("{map:?}").starts_with("TtlMap { len: 0"));
    assert_eq!(map.stats().expirations, 0, "reading removed nothing");
    assert_eq!(map.sweep(), 2, "sweep() is what removes");
    assert_eq!(map.stats().expirations, 2);
}

/// Overwrites leave stale deadline records behind; whatever the index makes of them,
/// `len()` counts exactly the live entries.
#[test]
fn len_never_counts_expired_entries_after_overwrites() {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .build();
    for key in 0..20_000_u64 {
        map.insert(key, key); // expires at 10 s
        map.insert(100_000 + key, key); // overwritten at 5 s: expires at 15 s
    }
    clock.advance(Duration::from_secs(5));
    for key in 0..20_000_u64 {
        map.insert(100_000 + key, key + 1);
    }
    clock.advance(Duration::from_secs(7));
    assert_eq!(map.len(), 20_000);
    assert!(!map.is_empty());
    assert_eq!(map.entries().len(), 20_000);
}

/// The same overwrites: one sweep after the first deadline frees every entry that
/// passed it, even behind stale deadline records that kept their tag (about 1 in 512
/// of the 20,000 overwrites) and so look due only at the overwritten key's new
/// deadline.
#[test]
fn a_sweep_frees_every_expired_entry_despite_overwrites() {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .build();
    // Uneven steps apart, so that deadlines, and how far each overwrite moves its
    // key's deadline, differ as they do on a real clock (the tags then agree by chance).
    let mut step = 0_u64;
    let mut advance = || {
        step = (step * 7_919 + 104_729) % 1_009;
        clock.advance(Duration::from_nanos(1_000 + step));
    };
    for key in 0..20_000_u64 {
        map.insert(key, key); // expires at 10 s
        map.insert(100_000 + key, key); // overwritten at 5 s: expires at 15 s
        advance();
    }
    clock.advance(Duration::from_secs(5));
    for key in 0..20_000_u64 {
        map.insert(100_000 + key, key + 1);
        advance();
    }
    clock.advance(Duration::from_secs(6));
    // One sweep (the background sweeper may have taken a share: count them all).
    map.sweep();
    assert_eq!(map.stats().expirations, 20_000);
    assert_eq!(map.len(), 20_000);
}

/// A mock clock stops short of the far-future deadlines that mean "never": advanced as
/// far as it goes, entries that never expire stay live everywhere, and an entry
/// inserted then with a TTL is not made immortal.
#[test]
fn a_mock_clock_advanced_past_146_years_keeps_deadlines_meaningful() {
    let clock = MockClock::new();
    let map = TtlMap::builder().clock(clock.clone()).build();
    map.insert("forever", 1);
    clock.advance(Duration::from_nanos(1 << 62));
    clock.advance(Duration::MAX);
    assert_eq!(clock.elapsed(), MockClock::MAX_ELAPSED);
    assert_eq!(map.get("forever"), Some(1));
    assert_eq!(map.remaining_ttl("forever"), Some(Duration::MAX));
    assert_eq!(map.entries(), [("forever", 1)]);
    map.insert_with_ttl("brief", 2, Duration::from_nanos(1));
    assert_eq!(
        map.get("brief"),
        Some(2),
        "not expired: the clock cannot move on"
    );
    assert_eq!(map.remove("forever"), Some(1));
    assert_eq!(
        map.stats().expirations,
        0,
        "removing a live entry is no expiration"
    );
}
