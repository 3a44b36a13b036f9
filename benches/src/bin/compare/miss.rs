//! Memoized-call miss: computing and storing a value for a key never seen before.
//!
//! Each round empties the cache and calls the function with fresh keys. cache-core,
//! cached, memoize, quick_cache and the `HashMap`s keep their tables' allocation when
//! emptied (as `HashMap::clear` does), so after the first round the figure is a
//! steady-state miss: the compute, the clock read for the deadline, and the insert.

use crate::memo::{for_each_memoized, Memoized, MemoizedVisitor};
use crate::plan::Plan;
use cache_bench::alloc_count::thread_allocations;
use cache_bench::measure::{ns_per_op, Rounds};
use cache_bench::report::{Column, Ratios, Results, Unit};
use std::hint::black_box;

/// Misses per round: a cache of this many entries, emptied between rounds.
const MISSES: u64 = 200_000;

/// Column of the time per miss.
pub const NANOS: usize = 0;

/// One round: every implementation once.
struct Round<'a> {
    misses: u64,
    first_key: u64,
    rounds: &'a mut Rounds,
}

impl MemoizedVisitor for Round<'_> {
    fn visit<M: Memoized>(&mut self) {
        M::clear();
        let keys = self.first_key..self.first_key + self.misses;
        let before = thread_allocations();
        let ns = ns_per_op(self.misses, || {
            for key in keys {
                black_box(M::call(black_box(key)));
            }
        });
        let per_miss = (thread_allocations() - before) as f64 / self.misses as f64;
        M::clear();
        self.rounds
            .record(M::NAME, M::ROLE, &[Some(ns), Some(per_miss)]);
    }
}

/// Runs the scenario for every implementation.
pub fn run(plan: &Plan) -> Results {
    let misses = plan.scaled(MISSES);
    let mut rounds = Rounds::default();
    for round in 0..plan.rounds as u64 {
        rounds.next_round();
        for_each_memoized(&mut Round {
            misses,
            first_key: (round + 1) << 32,
            rounds: &mut rounds,
        });
    }
    let columns = vec![
        Column::new("ns/miss", Unit::Nanos, Ratios::Columns),
        Column::new("allocations/miss", Unit::Count, Ratios::None),
    ];
    let mut results = Results::new("Memoized call, miss (compute + insert)", columns);
    results.rows = rounds.medians();
    results.notes.push(format!(
        "1 thread, {misses} fresh `u64` keys per round into a cache emptied between rounds, \
         which keeps its tables' allocation (cache-core, cached, memoize, quick_cache, the \
         `HashMap`s): after the first round no table grows; median of {} rounds.",
        plan.rounds
    ));
    results
}
