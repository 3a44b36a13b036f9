//! Quickstart: an expensive function made fast with `#[ttl_cached]`.
//!
//! ```text
//! cargo run -p cache-examples --example quickstart
//! ```
//!
//! The story: a slow lookup is computed once, then served from the cache until its
//! TTL runs out; `_invalidate` forgets one entry, `_clear` all of them, and `_cache()`
//! shows what happened.

use cache_core::ttl_cached;
use std::thread;
use std::time::{Duration, Instant};

/// How long the pretend remote call takes.
const REMOTE_CALL: Duration = Duration::from_millis(300);

/// An exchange rate, from a slow remote service. Cached for 1.5 seconds per pair.
#[ttl_cached(millis = 1500)]
fn exchange_rate(from: &str, to: &str) -> f64 {
    thread::sleep(REMOTE_CALL);
    match (from, to) {
        ("EUR", "USD") => 1.08,
        ("USD", "EUR") => 0.93,
        _ => 1.0,
    }
}

/// Runs `call`, printing what it returned and how long it took.
fn timed(label: &str, call: impl FnOnce() -> f64) -> f64 {
    let start = Instant::now();
    let rate = call();
    println!("  {label:<42} = {rate:<5} in {:>9.3?}", start.elapsed());
    rate
}

fn main() {
    println!("1. The first call runs the function; the second is served from the cache:");
    timed("exchange_rate(\"EUR\", \"USD\")", || {
        exchange_rate("EUR", "USD")
    });
    timed("exchange_rate(\"EUR\", \"USD\")  (cached)", || {
        exchange_rate("EUR", "USD")
    });

    println!("\n2. Other arguments are another entry:");
    timed("exchange_rate(\"USD\", \"EUR\")", || {
        exchange_rate("USD", "EUR")
    });

    println!("\n3. After the TTL (1.5 s) the entry has expired, and the function runs again:");
    thread::sleep(Duration::from_millis(1600));
    println!(
        "  entries alive after 1.6 s: {}",
        exchange_rate_cache().len()
    );
    timed("exchange_rate(\"EUR\", \"USD\")  (expired)", || {
        exchange_rate("EUR", "USD")
    });

    println!("\n4. `_invalidate` forgets one entry (say, the rate changed):");
    let removed = exchange_rate_invalidate("EUR", "USD");
    println!("  exchange_rate_invalidate(\"EUR\", \"USD\") = {removed}");
    timed("exchange_rate(\"EUR\", \"USD\")  (invalidated)", || {
        exchange_rate("EUR", "USD")
    });
    timed("exchange_rate(\"EUR\", \"USD\")  (cached)", || {
        exchange_rate("EUR", "USD")
    });

    println!("\n5. `_clear` forgets everything:");
    exchange_rate("USD", "EUR");
    println!(
        "  entries before exchange_rate_clear(): {}",
        exchange_rate_cache().len()
    );
    exchange_rate_clear();
    println!(
        "  entries after:                        {}",
        exchange_rate_cache().len()
    );

    let stats = exchange_rate_cache().stats();
    println!("\n6. What the cache saw (exchange_rate_cache().stats()):");
    println!(
        "  {} hits, {} misses ({:.0}% hit rate), {} insertions, {} expirations",
        stats.hits,
        stats.misses,
        stats.hit_rate() * 100.0,
        stats.insertions,
        stats.expirations,
    );
}
