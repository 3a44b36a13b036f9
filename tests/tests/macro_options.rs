//! The options of `#[ttl_cached]`: TTLs, `ttl = expr`, `capacity`, `refresh`,
//! `single_flight = false`. Expiry is real time here (the macro takes no clock), with
//! margins of several times the TTL.

use cache_core::{ttl_cached, MockClock};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, LazyLock};
use std::thread;
use std::time::Duration;

static SHORT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(millis = 100)]
fn short_lived(n: u64) -> u64 {
    SHORT_RUNS.fetch_add(1, Ordering::SeqCst);
    n
}

#[test]
fn an_entry_expires_after_its_ttl() {
    short_lived(1);
    short_lived(1);
    assert_eq!(SHORT_RUNS.load(Ordering::SeqCst), 1);
    thread::sleep(Duration::from_millis(400));
    assert_eq!(short_lived_cache().len(), 0, "expired");
    short_lived(1);
    assert_eq!(SHORT_RUNS.load(Ordering::SeqCst), 2, "a miss after expiry");
}

static TTL_EVALUATIONS: AtomicUsize = AtomicUsize::new(0);

fn configured_ttl() -> Duration {
    TTL_EVALUATIONS.fetch_add(1, Ordering::SeqCst);
    Duration::from_secs(60)
}

#[ttl_cached(ttl = configured_ttl())]
fn configured(n: u64) -> u64 {
    n
}

#[test]
fn the_ttl_expression_is_evaluated_once_on_first_use() {
    assert_eq!(
        TTL_EVALUATIONS.load(Ordering::SeqCst),
        0,
        "not before first use"
    );
    configured(1);
    configured(2);
    configured(1);
    configured_clear();
    configured(3);
    assert_eq!(TTL_EVALUATIONS.load(Ordering::SeqCst), 1);
}

static BOUNDED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60, capacity = 2)]
fn bounded(n: u64) -> u64 {
    BOUNDED_RUNS.fetch_add(1, Ordering::SeqCst);
    n
}

#[test]
fn capacity_evicts_the_oldest_entry() {
    bounded(1);
    bounded(2);
    bounded(3);
    assert_eq!(bounded_cache().len(), 2);
    assert_eq!(bounded_cache().stats().evictions, 1);
    bounded(3);
    assert_eq!(BOUNDED_RUNS.load(Ordering::SeqCst), 3, "3 is still cached");
    bounded(1);
    assert_eq!(
        BOUNDED_RUNS.load(Ordering::SeqCst),
        4,
        "1, the oldest, was evicted"
    );
}

static SLIDING_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(millis = 400, refresh = true)]
fn sliding(n: u64) -> u64 {
    SLIDING_RUNS.fetch_add(1, Ordering::SeqCst);
    n
}

static FIXED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(millis = 400)]
fn fixed(n: u64) -> u64 {
    FIXED_RUNS.fetch_add(1, Ordering::SeqCst);
    n
}

#[test]
fn refresh_restarts_the_ttl_on_each_hit() {
    // Hits every 100 ms for 1.2 s: three TTLs, but never 400 ms without a hit.
    for _ in 0..12 {
        sliding(1);
        fixed(1);
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        SLIDING_RUNS.load(Ordering::SeqCst),
        1,
        "kept alive by its hits"
    );
    assert!(
        FIXED_RUNS.load(Ordering::SeqCst) >= 2,
        "expired despite its hits"
    );
}

static UNCOALESCED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60, single_flight = false)]
fn uncoalesced(n: u64) -> u64 {
    UNCOALESCED_RUNS.fetch_add(1, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(300));
    n
}

#[test]
fn without_single_flight_concurrent_misses_each_run_the_body() {
    const THREADS: usize = 4;
    let start = Barrier::new(THREADS);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                start.wait();
                assert_eq!(uncoalesced(9), 9);
            });
        }
    });
    assert!(UNCOALESCED_RUNS.load(Ordering::SeqCst) > 1);
    assert_eq!(uncoalesced_cache().len(), 1);
    assert_eq!(
        uncoalesced_cache().stats().computations,
        UNCOALESCED_RUNS.load(Ordering::SeqCst) as u64
    );
}

static CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static CLOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60, clock = CLOCK.clone())]
fn clocked(n: u64) -> u64 {
    CLOCKED_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 1
}

/// `clock = …`: the function's map reads only that clock, so expiry is exact and
/// immediate, with no sleeping.
#[test]
fn a_mock_clock_decides_when_entries_expire() {
    assert_eq!(clocked(1), 2);
    CLOCK.advance(Duration::from_secs(59));
    assert_eq!(clocked(1), 2);
    assert_eq!(CLOCKED_RUNS.load(Ordering::SeqCst), 1, "live at 59 s");
    assert_eq!(
        clocked_cache().remaining_ttl(&(1,)),
        Some(Duration::from_secs(1))
    );
    CLOCK.advance(Duration::from_secs(1));
    assert_eq!(clocked(1), 2);
    assert_eq!(CLOCKED_RUNS.load(Ordering::SeqCst), 2, "expired at 60 s");
}

static METHOD_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

struct Tenant(&'static str);

impl Tenant {
    /// A method with `key`: its map lives in the type-erased cell, built the same way.
    #[ttl_cached(millis = 500, key = (self.0, id), clock = METHOD_CLOCK.clone())]
    fn page(&self, id: u32) -> String {
        format!("{}/{id}", self.0)
    }
}

#[test]
fn a_mock_clock_works_for_methods_too() {
    let acme = Tenant("acme");
    assert_eq!(acme.page(1), "acme/1");
    assert_eq!(Tenant::page_cache().len(), 1);
    METHOD_CLOCK.advance(Duration::from_millis(500));
    assert_eq!(Tenant::page_cache().len(), 0, "expired by the mock clock");
}

mod quotes {
    use super::*;

    pub static QUOTE_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// A private function whose helpers the rest of the crate may use.
    #[ttl_cached(secs = 60, helpers = "pub(crate)")]
    fn quote(symbol: &str) -> u64 {
        QUOTE_RUNS.fetch_add(1, Ordering::SeqCst);
        symbol.len() as u64
    }

    pub fn quote_twice(symbol: &str) -> u64 {
        quote(symbol) + quote(symbol)
    }

    pub static SILENT_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// No helpers at all: still memoized.
    #[ttl_cached(secs = 60, helpers = "none")]
    pub fn silent(n: u64) -> u64 {
        SILENT_RUNS.fetch_add(1, Ordering::SeqCst);
        n
    }
}

#[test]
fn helpers_take_their_own_visibility_or_are_left_out() {
    assert_eq!(quotes::quote_twice("ACME"), 8);
    assert_eq!(quotes::QUOTE_RUNS.load(Ordering::SeqCst), 1);
    // `quote` is private to `quotes`; its helpers are `pub(crate)`.
    assert_eq!(quotes::quote_cache().stats().hits, 1);
    assert!(quotes::quote_invalidate("ACME"));
    assert_eq!(quotes::quote_uncached("ACME"), 4);
    assert_eq!(quotes::quote_refresh("ACME"), 4);
    quotes::quote_clear();
    assert_eq!(quotes::quote_cache().len(), 0);

    assert_eq!((quotes::silent(3), quotes::silent(3)), (3, 3));
    assert_eq!(quotes::SILENT_RUNS.load(Ordering::SeqCst), 1, "memoized");
}

static JITTER_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

#[ttl_cached(secs = 100, jitter = 0.5, clock = JITTER_CLOCK.clone())]
fn jittered(n: u32) -> u32 {
    n
}

/// `jitter = F`: results computed together expire over `[ttl × (1 − F), ttl]`, never
/// later.
#[test]
fn jitter_spreads_the_expiry_of_results_computed_together() {
    for n in 0..1_000 {
        jittered(n);
    }
    let live = || {
        (0..1_000)
            .filter(|&n| jittered_cache().get(&(n,)).is_some())
            .count()
    };
    JITTER_CLOCK.advance(Duration::from_secs(50) - Duration::from_nanos(1));
    assert_eq!(live(), 1_000, "none before ttl × (1 − F)");
    JITTER_CLOCK.advance(Duration::from_secs(25));
    let halfway = live();
    assert!(
        (380..=620).contains(&halfway),
        "{halfway} of 1,000 live at 75 s"
    );
    JITTER_CLOCK.advance(Duration::from_secs(25));
    assert_eq!(live(), 0, "none after the TTL");
}
