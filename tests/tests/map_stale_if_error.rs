//! `TtlMapBuilder::stale_if_error` with `try_get_or_insert_with` (and its async form):
//! an `Err` is answered with the key's value that expired less than the window ago,
//! and counted; outside the window, or with no earlier value, the `Err` is returned;
//! no other lookup ever serves the expired value. All on a `MockClock`.

use cache_core::{MockClock, TtlMap};
use std::future::Future;
use std::time::Duration;

const TTL: Duration = Duration::from_secs(10);
const WINDOW: Duration = Duration::from_secs(30);
const NANO: Duration = Duration::from_nanos(1);

fn map() -> (TtlMap<&'static str, u32>, MockClock) {
    let clock = MockClock::new();
    let map = TtlMap::builder()
        .ttl(TTL)
        .stale_if_error(WINDOW)
        .clock(clock.clone())
        .build();
    (map, clock)
}

type Fetched = Result<u32, &'static str>;

fn failing() -> Fetched {
    Err("upstream down")
}

fn fetched(value: u32) -> impl FnOnce() -> Fetched {
    move || Ok(value)
}

/// Polls a future that never waits on anything here (no other task holds the key).
fn block_on<F: Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

#[test]
fn an_error_is_answered_with_the_value_that_expired_less_than_the_window_ago() {
    let (map, clock) = map();
    assert_eq!(map.try_get_or_insert_with("rate", fetched(7)), Ok(7));
    // Live: a hit, `init` does not run.
    clock.advance(TTL - NANO);
    assert_eq!(map.try_get_or_insert_with("rate", failing), Ok(7));
    assert_eq!(map.stats().errors_served_over, 0);
    // Expired at the TTL exactly: every other lookup misses...
    clock.advance(NANO);
    assert_eq!(map.get("rate"), None);
    assert!(!map.contains_key("rate"));
    assert_eq!(map.len(), 0);
    // ...and an error is answered with it, to the last nanosecond of the window.
    assert_eq!(map.try_get_or_insert_with("rate", failing), Ok(7));
    clock.advance(WINDOW - NANO);
    assert_eq!(map.try_get_or_insert_with("rate", failing), Ok(7));
    assert_eq!(map.stats().errors_served_over, 2);
    // At TTL + window it is gone: the error is the answer, and nothing is stored.
    clock.advance(NANO);
    assert_eq!(
        map.try_get_or_insert_with("rate", failing),
        Err("upstream down")
    );
    assert_eq!(map.stats().errors_served_over, 2);
    assert_eq!(map.get("rate"), None);
}

#[test]
fn a_success_after_expiry_replaces_the_old_value_and_restarts_its_ttl() {
    let (map, clock) = map();
    assert_eq!(map.try_get_or_insert_with("rate", fetched(7)), Ok(7));
    clock.advance(TTL + Duration::from_secs(5));
    assert_eq!(map.try_get_or_insert_with("rate", fetched(8)), Ok(8));
    assert_eq!(map.get("rate"), Some(8));
    // The new value's own window: an error 5 s after its TTL gets 8, not 7.
    clock.advance(TTL + Duration::from_secs(5));
    assert_eq!(map.try_get_or_insert_with("rate", failing), Ok(8));
    assert_eq!(map.stats().errors_served_over, 1);
}

#[test]
fn with_no_earlier_value_or_no_window_the_error_is_returned() {
    let (map, _clock) = map();
    assert_eq!(
        map.try_get_or_insert_with("new", failing),
        Err("upstream down")
    );
    assert!(map.is_empty());

    let clock = MockClock::new();
    let plain = TtlMap::builder().ttl(TTL).clock(clock.clone()).build();
    assert_eq!(plain.try_get_or_insert_with("rate", fetched(7)), Ok(7));
    clock.advance(TTL);
    assert_eq!(
        plain.try_get_or_insert_with("rate", failing),
        Err("upstream down")
    );
    assert_eq!(plain.stats().errors_served_over, 0);
}

#[test]
fn the_sweeper_keeps_the_expired_value_through_the_window_then_frees_it() {
    let (map, clock) = map();
    map.insert("rate", 7);
    clock.advance(TTL + WINDOW - NANO);
    assert_eq!(map.sweep(), 0);
    assert_eq!(map.try_get_or_insert_with("rate", failing), Ok(7));
    clock.advance(NANO);
    assert_eq!(map.sweep(), 1);
    assert_eq!(
        map.try_get_or_insert_with("rate", failing),
        Err("upstream down")
    );
}

#[test]
fn the_async_form_serves_over_errors_the_same_way() {
    let (map, clock) = map();
    let ok = block_on(map.try_get_or_insert_with_async("rate", || async { fetched(7)() }));
    assert_eq!(ok, Ok(7));
    clock.advance(TTL + WINDOW - NANO);
    let served = block_on(map.try_get_or_insert_with_async("rate", || async { failing() }));
    assert_eq!(served, Ok(7));
    clock.advance(NANO);
    let failed = block_on(map.try_get_or_insert_with_async("rate", || async { failing() }));
    assert_eq!(failed, Err("upstream down"));
    assert_eq!(map.stats().errors_served_over, 1);
}
