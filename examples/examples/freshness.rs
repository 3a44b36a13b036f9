//! Freshness controls on a flaky, slow upstream, told as a timeline.
//!
//! Run: `cargo run -p cache-examples --example freshness`
//!
//! A `MockClock` plays the time, so the story takes milliseconds, not minutes:
//! - `err_secs`: a failure is cached too (the upstream is not hammered while it is
//!   down), but for 2 s instead of the 10 s a success gets, so recovery shows quickly.
//! - `jitter`: results computed together expire spread over the last 10% of the TTL.
//! - `TtlMap::stale_while_revalidate` with `get_or_refresh_with`: past its TTL, a value
//!   is served at once while one background refresh fetches the new one.
//! - `on_evict`: every entry that leaves says why.
//! - `#[ttl_cached(stale_while_revalidate = 5, stale_if_error = 30)]`: the same
//!   stale-while-revalidate on a memoized function (its arguments owned, as a refresh
//!   runs the body later on another thread), and past that window, while the upstream
//!   is down, the last good value answered instead of the error for 30 s.

use cache_core::{ttl_cached, EvictionCause, MockClock, TtlMap};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

static CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static UPSTREAM_UP: AtomicBool = AtomicBool::new(true);
static UPSTREAM_CALLS: AtomicU32 = AtomicU32::new(0);

/// The upstream: slow in real life, and down when `UPSTREAM_UP` says so.
fn upstream(pair: &str) -> Result<f64, String> {
    UPSTREAM_CALLS.fetch_add(1, Ordering::SeqCst);
    if UPSTREAM_UP.load(Ordering::SeqCst) {
        Ok(1.0 + pair.len() as f64 / 100.0)
    } else {
        Err(format!("upstream down for {pair}"))
    }
}

#[ttl_cached(secs = 10, err_secs = 2, jitter = 0.1, clock = CLOCK.clone())]
fn rate(pair: &str) -> Result<f64, String> {
    upstream(pair)
}

static PRICE_VERSION: AtomicU32 = AtomicU32::new(0);

/// A price that changes each time the upstream is asked.
#[ttl_cached(
    secs = 10,
    stale_while_revalidate = 5,
    stale_if_error = 30,
    err_secs = 2,
    clock = CLOCK.clone()
)]
fn price(pair: String) -> Result<f64, String> {
    upstream(&pair)?;
    let version = PRICE_VERSION.fetch_add(1, Ordering::SeqCst);
    Ok(1.25 + f64::from(version) / 100.0)
}

/// Waits (at most 10 s) for the refresh running on the crate's refresh thread to
/// finish, one way or the other.
fn wait_for_refreshes(done: u64, stats: impl Fn() -> cache_core::CacheStats) {
    let started = std::time::Instant::now();
    while stats().refreshes_succeeded + stats().refreshes_failed < done
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn at(what: &str) {
    let calls = UPSTREAM_CALLS.load(Ordering::SeqCst);
    println!(
        "t={:>4.1}s  {what:<66} upstream calls so far: {calls}",
        now()
    );
}

fn now() -> f64 {
    CLOCK.elapsed().as_secs_f64()
}

fn main() {
    println!("-- err_secs = 2: failures cached briefly, successes for 10 s --");
    UPSTREAM_UP.store(false, Ordering::SeqCst);
    at(&format!("rate(\"EURUSD\") -> {:?}", rate("EURUSD")));
    at(&format!(
        "rate(\"EURUSD\") -> {:?} (cached failure)",
        rate("EURUSD")
    ));
    CLOCK.advance(Duration::from_secs(2));
    UPSTREAM_UP.store(true, Ordering::SeqCst);
    at(&format!(
        "rate(\"EURUSD\") -> {:?} (failure expired)",
        rate("EURUSD")
    ));
    CLOCK.advance(Duration::from_secs(5));
    at(&format!(
        "rate(\"EURUSD\") -> {:?} (cached success)",
        rate("EURUSD")
    ));

    println!("\n-- stale_while_revalidate on a TtlMap: served at once, refreshed behind --");
    let quotes = TtlMap::builder()
        .ttl(Duration::from_secs(10))
        .stale_while_revalidate(Duration::from_secs(5))
        .clock(CLOCK.clone())
        .on_evict(|pair: &String, price: f64, cause: EvictionCause| {
            println!("          (left the map: {pair} = {price} because {cause:?})");
        })
        .build();
    let fetch = |pair: &str| {
        let pair = pair.to_owned();
        move || upstream(&pair).unwrap_or(f64::NAN)
    };
    at(&format!(
        "quote -> {} (computed)",
        quotes.get_or_refresh_with("GBPUSD".to_owned(), fetch("GBPUSD"))
    ));
    CLOCK.advance(Duration::from_secs(11));
    at(&format!(
        "quote -> {} (stale, refresh started)",
        quotes.get_or_refresh_with("GBPUSD".to_owned(), fetch("GBPUSD-2"))
    ));
    // The refresh runs on the crate's refresh thread (a refresh that panics is
    // counted as failed).
    wait_for_refreshes(1, || quotes.stats());
    at(&format!("quote -> {:?} (refreshed)", quotes.get("GBPUSD")));
    CLOCK.advance(Duration::from_secs(20));
    quotes.sweep();
    let stats = quotes.stats();
    println!(
        "\nstale hits {}, refreshes started {}, succeeded {}, failed {}",
        stats.stale_hits,
        stats.refreshes_started,
        stats.refreshes_succeeded,
        stats.refreshes_failed
    );

    println!(
        "\n-- #[ttl_cached(secs = 10, stale_while_revalidate = 5, stale_if_error = 30, \
         err_secs = 2)] --"
    );
    at(&format!(
        "price -> {:?} (fresh: computed)",
        price("BTC".into())
    ));
    at(&format!(
        "price -> {:?} (fresh: a hit)",
        price("BTC".into())
    ));
    CLOCK.advance(Duration::from_secs(11));
    at(&format!(
        "price -> {:?} (stale, refresh started)",
        price("BTC".into())
    ));
    wait_for_refreshes(1, || price_cache().stats());
    at(&format!("price -> {:?} (refreshed)", price("BTC".into())));
    UPSTREAM_UP.store(false, Ordering::SeqCst);
    CLOCK.advance(Duration::from_secs(16));
    at(&format!(
        "price -> {:?} (error served over)",
        price("BTC".into())
    ));
    CLOCK.advance(Duration::from_secs(30));
    at(&format!(
        "price -> {:?} (past both windows)",
        price("BTC".into())
    ));
    let stats = price_cache().stats();
    println!(
        "\nstale hits {}, refreshes succeeded {}, errors served over {}",
        stats.stale_hits, stats.refreshes_succeeded, stats.errors_served_over
    );
}
