//! Sweep stall: hit latency on hot keys while a million other entries of the same
//! map expire at once.
//!
//! Timeline, with a 4 s TTL for every entry:
//! 1. insert the cold keys (they expire about 4 s later, within the fill's duration);
//! 2. half a second before they start expiring, insert the hot keys (they expire well
//!    after the window);
//! 3. from just before the first cold deadline to 1.25 s after the last, time every
//!    single `get` of a hot key on this thread.
//!
//! Each latency is the gap between two consecutive `Instant::now()` readings around
//! one `get`, so it includes one clock read (about 25 ns here).

use crate::plan::Plan;
use cache_bench::alloc_count::live_bytes;
use cache_bench::histogram::LatencyHistogram;
use cache_bench::keys::{hot_key, HOT_KEYS};
use cache_bench::report::{Column, Measured, Ratios, Results, Unit};
use cache_bench::store::{for_each_store, Store, StoreVisitor};
use cache_bench::Role;
use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

/// Entries that expire together.
pub const COLD_ENTRIES: u64 = 1_000_000;
/// Every entry's TTL: long enough to fill a million entries before the first expires.
const TTL: Duration = Duration::from_secs(4);
/// The hot keys are inserted this long before the cold ones start expiring.
const HOT_LEAD: Duration = Duration::from_millis(500);
/// Sampling starts this long before the first cold deadline...
const BEFORE_EXPIRY: Duration = Duration::from_millis(250);
/// ...and ends this long after the last one: the sweeper's promised second, plus slack.
const AFTER_EXPIRY: Duration = Duration::from_millis(1250);
/// `get`s between two checks of the end of the window.
const CHECK_EVERY: u32 = 256;

/// A hit slower than this counts as stalled: the p99.9 target of issue 5.
pub const STALLED: Duration = Duration::from_micros(20);

/// Column of the 99.9th percentile.
pub const P999: usize = 2;
/// Column of the maximum.
pub const MAX: usize = 4;
/// Column of the count of stalled hits.
pub const STALLED_HITS: usize = 5;
/// Column of the hits that waited for a writer (the sweeper) more than once in a row:
/// cache-core only, from `cache_core::diagnostics::lock_stats()`.
pub const WAITED_FOR_SEVERAL_WRITERS: usize = 9;

struct Scenario {
    cold: u64,
    results: Results,
}

impl StoreVisitor for Scenario {
    fn visit<S: Store>(&mut self) {
        let mut latencies = LatencyHistogram::new();
        let before = live_bytes();
        let store = S::build(TTL, (self.cold + HOT_KEYS) as usize);

        let start = Instant::now();
        for key in HOT_KEYS..HOT_KEYS + self.cold {
            store.insert(key, key);
        }
        let (first_deadline, last_deadline) = (start + TTL, Instant::now() + TTL);
        sleep_until(first_deadline - HOT_LEAD);
        for key in 0..HOT_KEYS {
            store.insert(key, key);
        }
        let hot_deadline = Instant::now() + TTL;
        let end = (last_deadline + AFTER_EXPIRY).min(hot_deadline - AFTER_EXPIRY / 4);

        sleep_until(first_deadline - BEFORE_EXPIRY);
        let held_at_start = live_bytes() - before;
        let waits_before = cache_core::diagnostics::lock_stats();
        let mut last = Instant::now();
        let mut i = 0;
        while last < end {
            for _ in 0..CHECK_EVERY {
                black_box(store.get(black_box(hot_key(i, 0))));
                i += 1;
                let now = Instant::now();
                latencies.record((now - last).as_nanos() as u64);
                last = now;
            }
        }
        let held_at_end = live_bytes() - before;
        let waits_after = cache_core::diagnostics::lock_stats();
        drop(store);

        let [p50, p99, p999, p9999] =
            [50.0, 99.0, 99.9, 99.99].map(|p| Some(latencies.percentile(p) as f64));
        let stalled = latencies.count_at_least(STALLED.as_nanos() as u64);
        let held = if S::EXPIRES {
            Some(100.0 * held_at_end as f64 / held_at_start as f64)
        } else {
            None
        };
        self.results.rows.push(Measured {
            name: S::NAME,
            role: S::ROLE,
            figures: vec![
                p50,
                p99,
                p999,
                p9999,
                Some(latencies.max() as f64),
                Some(stalled as f64),
                Some(latencies.count() as f64),
                held,
                // Only cache-core's shard locks count their waits.
                (S::ROLE == Role::Ours).then(|| {
                    (waits_after.lookups_that_waited - waits_before.lookups_that_waited) as f64
                }),
                (S::ROLE == Role::Ours).then(|| {
                    (waits_after.lookups_that_waited_for_several_writers
                        - waits_before.lookups_that_waited_for_several_writers)
                        as f64
                }),
            ],
        });
    }
}

fn sleep_until(deadline: Instant) {
    thread::sleep(deadline.saturating_duration_since(Instant::now()));
}

/// Runs the scenario for every store.
pub fn run(plan: &Plan) -> Results {
    let columns = vec![
        Column::new("p50 ns", Unit::Nanos, Ratios::None),
        Column::new("p99 ns", Unit::Nanos, Ratios::None),
        Column::new("p99.9 ns", Unit::Nanos, Ratios::Columns),
        Column::new("p99.99 ns", Unit::Nanos, Ratios::None),
        Column::new("max ns", Unit::Nanos, Ratios::None),
        Column::new("hits ≥ 20 µs", Unit::Count, Ratios::None),
        Column::new("hits timed", Unit::Count, Ratios::None),
        Column::new("memory still held at the end", Unit::Percent, Ratios::None),
        Column::new("hits that waited for a writer", Unit::Count, Ratios::None),
        Column::new("hits that waited for 2+ writers", Unit::Count, Ratios::None),
    ];
    let cold = plan.scaled(COLD_ENTRIES);
    let mut scenario = Scenario {
        cold,
        results: Results::new(
            format!("Hit latency while {cold} entries expire at once"),
            columns,
        ),
    };
    for_each_store(&mut scenario);
    scenario.results.notes.push(format!(
        "1 thread timing every `get` of {HOT_KEYS} hot keys from {} ms before the first of {cold} \
         entries (TTL {} s) expires to {} ms after the last; each latency includes one \
         `Instant::now()` (~25 ns), and the maximum includes the OS preempting this thread (the \
         limit, which has no sweeper, shows how much). The last column: heap held at the end of \
         the window against its start (n/a: no TTL). The last two: cache-core's own count \
         (`lock-stats`) of hits that found their shard held by a writer (here: the sweeper's \
         batch) and waited, and of those that met a writer again after the first left.",
        BEFORE_EXPIRY.as_millis(),
        TTL.as_secs(),
        AFTER_EXPIRY.as_millis()
    ));
    scenario.results
}
