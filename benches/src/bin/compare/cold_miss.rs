//! Cold miss: computing and storing values for fresh keys into a cache that starts
//! empty, as a new cache does at start-up: its table (and for cache-core its deadline
//! index) grows as it fills.
//!
//! Each round builds a fresh store and fills it with `get_or_insert_with`; building
//! and dropping it are not timed. Unlike the `miss` scenario (a cache emptied between
//! rounds, which keeps its allocation), every insert here may grow a table. cached's
//! `ShardedTtlCache` is the store `#[concurrent_cached(ttl_secs = ..)]` generates code
//! for, so its row is that macro's cold miss less its generated wrapper.

use crate::memo::compute;
use crate::plan::Plan;
use cache_bench::measure::{ns_per_op, Rounds};
use cache_bench::report::{Column, Ratios, Results, Unit};
use cache_bench::store::{for_each_store, Store, StoreVisitor};
use std::hint::black_box;
use std::time::Duration;

/// Keys per round, into a store that starts empty.
const MISSES: u64 = 200_000;

/// Column of the time per miss.
pub const NANOS: usize = 0;

/// How long the values live: far beyond the round.
const TTL: Duration = Duration::from_secs(60);

struct Round<'a> {
    misses: u64,
    first_key: u64,
    rounds: &'a mut Rounds,
}

impl StoreVisitor for Round<'_> {
    fn visit<S: Store>(&mut self) {
        let store = S::build(TTL, self.misses as usize);
        let keys = self.first_key..self.first_key + self.misses;
        let ns = ns_per_op(self.misses, || {
            for key in keys {
                black_box(store.get_or_insert_with(black_box(key), || compute(key)));
            }
        });
        drop(store);
        self.rounds.record(S::NAME, S::ROLE, &[Some(ns)]);
    }
}

/// Runs the scenario for every store.
pub fn run(plan: &Plan) -> Results {
    let misses = plan.scaled(MISSES);
    let mut rounds = Rounds::default();
    for round in 0..plan.rounds as u64 {
        rounds.next_round();
        for_each_store(&mut Round {
            misses,
            first_key: (round + 1) << 32,
            rounds: &mut rounds,
        });
    }
    let columns = vec![Column::new("ns/miss", Unit::Nanos, Ratios::Columns)];
    let mut results = Results::new("Cold miss (compute + insert into a growing cache)", columns);
    results.rows = rounds.medians();
    results.notes.push(format!(
        "1 thread, {misses} fresh `u64` keys per round into a store built empty for the \
         round (tables grow as it fills; building and dropping it are not timed), through \
         each store's get-or-insert call; median of {} rounds.",
        plan.rounds
    ));
    results
}
