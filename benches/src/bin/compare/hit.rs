//! Memoized-call hit, `u64` argument, on 1 and 2 threads.
//!
//! Every thread first calls the function once per hot key (untimed; the thread-local
//! limit needs it on each thread), then times its own walk over the hot keys. The
//! 2-thread figure is what one call costs a thread while the other thread runs the
//! same loop on the same function.

use crate::memo::{for_each_memoized, Memoized, MemoizedVisitor};
use crate::plan::Plan;
use cache_bench::keys::{hot_key, HOT_KEYS};
use cache_bench::measure::{per_thread_elapsed, Rounds};
use cache_bench::report::{Column, Ratios, Results, Unit};
use std::hint::black_box;

/// Calls per thread per round: tens of milliseconds for the fastest, so a round
/// outlasts the scheduler's time slice noise.
const CALLS: u64 = 4_000_000;

/// Column of the 1-thread figure.
pub const ONE_THREAD: usize = 0;
/// Column of the 2-thread per-thread figure.
pub const TWO_THREADS: usize = 1;

/// One round: every implementation once.
struct Round<'a> {
    calls: u64,
    rounds: &'a mut Rounds,
}

impl MemoizedVisitor for Round<'_> {
    fn visit<M: Memoized>(&mut self) {
        let one = ns_per_call::<M>(1, self.calls);
        let two = ns_per_call::<M>(2, self.calls);
        M::clear();
        self.rounds
            .record(M::NAME, M::ROLE, &[Some(one), Some(two)]);
    }
}

/// Per-thread nanoseconds per hit of `calls` hits on each of `threads` threads.
fn ns_per_call<M: Memoized>(threads: usize, calls: u64) -> f64 {
    let elapsed = per_thread_elapsed(
        threads,
        |_| {
            for key in 0..HOT_KEYS {
                black_box(M::call(key));
            }
        },
        |thread| {
            for i in 0..calls {
                black_box(M::call(black_box(hot_key(i, thread))));
            }
        },
    );
    elapsed.as_nanos() as f64 / calls as f64
}

/// Runs the scenario for every implementation.
pub fn run(plan: &Plan) -> Results {
    let calls = plan.scaled(CALLS);
    let mut rounds = Rounds::default();
    for _ in 0..plan.rounds {
        rounds.next_round();
        for_each_memoized(&mut Round {
            calls,
            rounds: &mut rounds,
        });
    }
    let columns = vec![
        Column::new("1 thread, ns/call", Unit::Nanos, Ratios::Columns),
        Column::new(
            "2 threads, ns/call per thread",
            Unit::Nanos,
            Ratios::Columns,
        ),
        Column::new("2 threads ÷ 1 thread", Unit::Count, Ratios::None),
    ];
    let mut results = Results::new("Memoized call, hit, u64 argument", columns);
    results.rows = rounds.medians();
    for row in &mut results.rows {
        let scaling = row.figure(TWO_THREADS).zip(row.figure(ONE_THREAD));
        row.figures.push(scaling.map(|(two, one)| two / one));
    }
    results.notes.push(format!(
        "A walk over {HOT_KEYS} memoized keys, `black_box`ed; median of {} rounds of {calls} calls \
         per thread, the implementations taking turns within each round.",
        plan.rounds
    ));
    results
}
