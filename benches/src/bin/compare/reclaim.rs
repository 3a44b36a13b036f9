//! Reclaim: how much memory expired entries still hold when nobody calls the cache.
//!
//! 200,000 calls of a function memoized for 1 s, then no calls at all for the TTL
//! plus 3 s; the heap bytes still held then, against those held right after the calls.

use crate::memo::{for_each_memoized, Memoized, MemoizedVisitor, BRIEF_TTL};
use crate::plan::Plan;
use cache_bench::alloc_count::live_bytes;
use cache_bench::report::{Column, Measured, Ratios, Results, Unit};
use std::hint::black_box;
use std::thread;
use std::time::Duration;

/// Entries memoized before the idle wait.
pub const ENTRIES: u64 = 200_000;
/// How long after expiry the held memory is read.
pub const IDLE_AFTER_EXPIRY: Duration = Duration::from_secs(3);

/// Column of the share of memory still held.
pub const HELD_PERCENT: usize = 2;

struct Scenario {
    results: Results,
}

impl MemoizedVisitor for Scenario {
    fn visit<M: Memoized>(&mut self) {
        M::clear();
        let before = live_bytes();
        for key in 0..ENTRIES {
            black_box(M::call_briefly(key));
        }
        let filled = (live_bytes() - before) as f64;
        let figures = if M::EXPIRES {
            thread::sleep(BRIEF_TTL + IDLE_AFTER_EXPIRY);
            let held = (live_bytes() - before) as f64;
            vec![Some(filled), Some(held), Some(100.0 * held / filled)]
        } else {
            vec![Some(filled), None, None]
        };
        M::clear();
        self.results.rows.push(Measured {
            name: M::NAME,
            role: M::ROLE,
            figures,
        });
    }
}

/// Runs the scenario for every implementation (a run with `--quick` too: it is
/// the wait that takes time, not the work).
pub fn run(_plan: &Plan) -> Results {
    let columns = vec![
        Column::new("held after the calls", Unit::Bytes, Ratios::None),
        Column::new("held 3 s after expiry", Unit::Bytes, Ratios::Columns),
        Column::new("share still held", Unit::Percent, Ratios::None),
    ];
    let mut scenario = Scenario {
        results: Results::new("Reclaim: memory held after expiry with no calls", columns),
    };
    for_each_memoized(&mut scenario);
    scenario.results.notes.push(format!(
        "{ENTRIES} calls of a function memoized for {} s, then {} s without any call. \
         n/a: the implementation has no TTL, so it keeps everything by design.",
        BRIEF_TTL.as_secs(),
        (BRIEF_TTL + IDLE_AFTER_EXPIRY).as_secs()
    ));
    scenario.results
}
