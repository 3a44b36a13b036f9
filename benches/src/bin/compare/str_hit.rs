//! Memoized-call hit with a `&str` argument: time and heap allocations per call.

use crate::memo::{for_each_memoized, Memoized, MemoizedVisitor};
use crate::plan::Plan;
use cache_bench::alloc_count::thread_allocations;
use cache_bench::keys::{hot_key, string_keys, HOT_KEYS};
use cache_bench::measure::{ns_per_op, Rounds};
use cache_bench::report::{Column, Ratios, Results, Unit};
use std::hint::black_box;

/// Calls per round.
const CALLS: u64 = 4_000_000;

/// Column of the time per call.
pub const NANOS: usize = 0;
/// Column of the allocations per call.
pub const ALLOCATIONS: usize = 1;

/// One round: every implementation once.
struct Round<'a> {
    calls: u64,
    keys: &'a [String],
    rounds: &'a mut Rounds,
}

impl Round<'_> {
    fn walk<M: Memoized>(&self) {
        for i in 0..self.calls {
            let key = &self.keys[hot_key(i, 0) as usize];
            black_box(M::call_str(black_box(key)));
        }
    }
}

impl MemoizedVisitor for Round<'_> {
    fn visit<M: Memoized>(&mut self) {
        for key in self.keys {
            black_box(M::call_str(key));
        }
        let before = thread_allocations();
        let ns = ns_per_op(self.calls, || self.walk::<M>());
        let per_call = (thread_allocations() - before) as f64 / self.calls as f64;
        M::clear();
        self.rounds
            .record(M::NAME, M::ROLE, &[Some(ns), Some(per_call)]);
    }
}

/// Runs the scenario for every implementation.
pub fn run(plan: &Plan) -> Results {
    let calls = plan.scaled(CALLS);
    let keys = string_keys(HOT_KEYS);
    let mut rounds = Rounds::default();
    for _ in 0..plan.rounds {
        rounds.next_round();
        for_each_memoized(&mut Round {
            calls,
            keys: &keys,
            rounds: &mut rounds,
        });
    }
    let columns = vec![
        Column::new("ns/call", Unit::Nanos, Ratios::Columns),
        Column::new("allocations/call", Unit::Count, Ratios::None),
    ];
    let mut results = Results::new("Memoized call, hit, `&str` argument", columns);
    results.rows = rounds.medians();
    results.notes.push(format!(
        "1 thread, a walk over {HOT_KEYS} keys like `\"user:000042\"`; median of {} rounds of {calls} \
         calls. Allocations: calls to the global allocator by the calling thread.",
        plan.rounds
    ));
    results
}
