//! `TtlMapBuilder::jitter`: each entry's TTL is drawn from `[ttl × (1 − F), ttl]`,
//! never longer, and spread across that range.

use cache_core::{MockClock, TtlMap};
use std::time::Duration;

#[test]
fn ten_thousand_jittered_entries_expire_within_bounds_and_spread_across_them() {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(Duration::from_secs(100))
        .jitter(0.5)
        .clock(clock.clone())
        .build();
    for key in 0..10_000_u32 {
        map.insert(key, key);
    }
    // Nothing leaves before 50 s (the shortest draw), everything by 100 s; in each of
    // the ten 5-second steps between, about a tenth leaves (1,000 ± 3σ ≈ ±90).
    clock.advance(Duration::from_secs(50) - Duration::from_nanos(1));
    assert_eq!(map.len(), 10_000, "none earlier than ttl × (1 − F)");
    clock.advance(Duration::from_nanos(1));
    let mut left = map.len();
    for step in 1..=10 {
        clock.advance(Duration::from_secs(5));
        let now_left = map.len();
        let gone = left - now_left;
        assert!((850..=1_150).contains(&gone), "step {step}: {gone} expired");
        left = now_left;
    }
    assert_eq!(left, 0, "none later than the TTL");
}

#[test]
fn computed_values_and_explicit_ttls_are_jittered_too() {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(Duration::from_secs(10))
        .jitter(0.9)
        .clock(clock.clone())
        .build();
    for key in 0..1_000_u32 {
        map.get_or_insert_with(key, || key);
        map.insert_with_ttl(key + 1_000, key, Duration::from_secs(10));
    }
    clock.advance(Duration::from_secs(5));
    let (computed, explicit) = (
        (0..1_000).filter(|key| map.get(key).is_some()).count(),
        (1_000..2_000).filter(|key| map.get(key).is_some()).count(),
    );
    // A TTL drawn from [1 s, 10 s] outlives 5 s with odds 5/9: about 556 of 1,000.
    for live in [computed, explicit] {
        assert!((450..=660).contains(&live), "{live} of 1,000 live at 5 s");
    }
}

#[test]
#[should_panic(expected = "strictly between 0 and 1")]
fn a_jitter_of_one_or_more_is_refused() {
    let _ = TtlMap::<u32, u32>::builder().jitter(1.0);
}
