//! Bytes per `u64 → u64` entry: heap bytes held by a store filled with `n` entries,
//! expiry index included, divided by the entries it kept.
//!
//! Measured at two sizes because hash tables grow in powers of two: the figure swings
//! with how full the table happens to be at `n`.

use crate::plan::Plan;
use cache_bench::alloc_count::thread_live_bytes;
use cache_bench::report::{Column, Measured, Ratios, Results, Unit};
use cache_bench::store::{for_each_store, Store, StoreVisitor};
use std::time::Duration;

/// The sizes measured (a `--quick` run measures the first only).
pub const SIZES: [u64; 2] = [100_000, 1_000_000];
const TTL: Duration = Duration::from_secs(600);

struct Scenario {
    sizes: Vec<u64>,
    results: Results,
}

impl StoreVisitor for Scenario {
    fn visit<S: Store>(&mut self) {
        let figures = self
            .sizes
            .iter()
            .map(|&n| Some(bytes_per_entry::<S>(n)))
            .collect();
        self.results.rows.push(Measured {
            name: S::NAME,
            role: S::ROLE,
            figures,
        });
    }
}

fn bytes_per_entry<S: Store>(n: u64) -> f64 {
    // This thread's bytes: the sweeper may meanwhile be freeing the memory of caches
    // an earlier scenario cleared, which process-wide bytes would subtract from ours.
    let before = thread_live_bytes();
    let store = S::build(TTL, n as usize);
    for key in 0..n {
        store.insert(key, key);
    }
    store.settle();
    let held = thread_live_bytes() - before;
    // Bounded stores may have turned some entries away: divide by what was kept.
    let kept = (0..n)
        .filter(|&key| store.get(key).is_some())
        .count()
        .max(1);
    held as f64 / kept as f64
}

/// Runs the scenario for every store.
pub fn run(plan: &Plan) -> Results {
    let sizes: Vec<u64> = if plan.quick {
        SIZES[..1].to_vec()
    } else {
        SIZES.to_vec()
    };
    let columns = sizes
        .iter()
        .map(|n| Column::new(format!("bytes/entry at {n}"), Unit::Bytes, Ratios::Columns))
        .collect();
    let mut scenario = Scenario {
        sizes,
        results: Results::new("Memory per `u64 → u64` entry", columns),
    };
    for_each_store(&mut scenario);
    scenario.results.notes.push(
        "Heap bytes held after inserting keys `0..n` into a new store (TTL 600 s), counted by the \
         binary's global allocator for the thread that built and filled it, divided by the entries \
         still present; allocator overhead not included."
            .to_owned(),
    );
    scenario.results
}
