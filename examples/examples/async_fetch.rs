//! `#[ttl_cached]` on an `async fn`: a burst of concurrent requests for a slow lookup.
//!
//! ```text
//! cargo run -p cache-examples --example async_fetch
//! ```
//!
//! The story: a service asks a slow backend for user profiles. A hundred requests for
//! the same profile arrive at once; with the cache, the backend is asked once and
//! every request gets its answer when that one call returns (the others *await* it,
//! no thread is blocked). Then the same for a burst spread over a few users, and the
//! latency of a hit next to a miss.

use cache_core::ttl_cached;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the pretend backend takes to answer.
const BACKEND_LATENCY: Duration = Duration::from_millis(250);

/// Requests in each burst.
const REQUESTS: usize = 100;

/// How many times the backend was actually called.
static BACKEND_CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Debug)]
struct Profile {
    id: u64,
    name: String,
}

/// A profile, from a slow backend. Cached for a minute per user; `Arc` so that a hit
/// clones a pointer, not the profile.
#[ttl_cached(secs = 60)]
async fn fetch_profile(id: u64) -> Arc<Profile> {
    BACKEND_CALLS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(BACKEND_LATENCY).await;
    Arc::new(Profile {
        id,
        name: format!("user-{id}"),
    })
}

/// Fires `REQUESTS` concurrent requests, the i-th for user `user_of(i)`; returns each
/// request's latency, sorted.
async fn burst(user_of: impl Fn(usize) -> u64) -> Vec<Duration> {
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let id = user_of(i);
            tokio::spawn(async move {
                let start = Instant::now();
                let profile = fetch_profile(id).await;
                assert_eq!(profile.id, id);
                start.elapsed()
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(REQUESTS);
    for task in tasks {
        latencies.push(task.await.expect("a request task failed"));
    }
    latencies.sort();
    latencies
}

/// Prints a burst's outcome: backend calls, wall time, and latency percentiles.
fn report(calls_before: usize, elapsed: Duration, latencies: &[Duration]) {
    let calls = BACKEND_CALLS.load(Ordering::SeqCst) - calls_before;
    let at = |share: f64| latencies[((latencies.len() - 1) as f64 * share) as usize];
    let plural = if calls == 1 { "" } else { "s" };
    println!("  {REQUESTS} requests, {calls} backend call{plural}, all answered in {elapsed:.0?}");
    println!(
        "  latency: fastest {:.3?}, median {:.3?}, slowest {:.3?}",
        at(0.0),
        at(0.5),
        at(1.0)
    );
    println!(
        "  without the cache: {REQUESTS} backend calls of {BACKEND_LATENCY:?} each ({:?} of backend time)",
        BACKEND_LATENCY * REQUESTS as u32
    );
}

/// Awaits one call, printing its latency.
async fn timed(label: &str, id: u64) -> Duration {
    let start = Instant::now();
    let profile = fetch_profile(id).await;
    let elapsed = start.elapsed();
    println!("  {label:<34} {:<8} in {elapsed:>10.3?}", profile.name);
    elapsed
}

#[tokio::main]
async fn main() {
    println!(
        "1. {REQUESTS} concurrent requests for user 1, whose profile is not cached yet \
         (the backend takes {BACKEND_LATENCY:?}):"
    );
    let calls = BACKEND_CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    let latencies = burst(|_| 1).await;
    report(calls, start.elapsed(), &latencies);
    println!("  -> one request ran the body; the other 99 awaited its result.");

    println!("\n2. {REQUESTS} concurrent requests spread over users 10 to 14:");
    let calls = BACKEND_CALLS.load(Ordering::SeqCst);
    let start = Instant::now();
    let latencies = burst(|i| 10 + (i % 5) as u64).await;
    report(calls, start.elapsed(), &latencies);
    println!("  -> one backend call per user; different users never wait for each other.");

    println!("\n3. Hit versus miss, one call at a time:");
    let miss = timed("fetch_profile(99)  (miss)", 99).await;
    let hit = timed("fetch_profile(99)  (hit)", 99).await;
    println!(
        "  -> the hit is {:.0}x faster: it is ready at its first poll, without awaiting anything.",
        miss.as_secs_f64() / hit.as_secs_f64().max(1e-9)
    );

    println!("\n4. The helpers: `_invalidate` is a plain fn, `_refresh` is async:");
    println!(
        "  fetch_profile_invalidate(99) = {}",
        fetch_profile_invalidate(99)
    );
    timed("fetch_profile(99)  (invalidated)", 99).await;
    let refreshed = fetch_profile_refresh(1).await;
    println!("  fetch_profile_refresh(1).await ran the body again: {refreshed:?}");

    let stats = fetch_profile_cache().stats();
    println!("\n5. What the cache saw (fetch_profile_cache().stats()):");
    println!(
        "  {} entries, {} insertions, {} hit(s) and {} misses: a request that awaited \
         another's backend call missed too",
        fetch_profile_cache().len(),
        stats.insertions,
        stats.hits,
        stats.misses,
    );
    println!(
        "  the backend was called {} times for {} calls of fetch_profile and one _refresh",
        BACKEND_CALLS.load(Ordering::SeqCst),
        2 * REQUESTS + 3,
    );
}
