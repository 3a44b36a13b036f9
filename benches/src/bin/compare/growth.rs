//! Hit cost as the map grows: `get` hits on 1 thread over every key of a map of
//! 10^3 to 10^7 entries, so that large maps pay their cache misses.

use crate::plan::Plan;
use cache_bench::chart::Series;
use cache_bench::measure::{median_of, ns_per_op};
use cache_bench::report::{Column, Measured, Ratios, Results, Unit};
use cache_bench::store::{for_each_store, Store, StoreVisitor};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Map sizes: a full run goes to 10^7, `--quick` to 10^6.
const SIZES: [u64; 5] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];
/// Hits per round.
const HITS: u64 = 2_000_000;
/// A store whose fill at one size predicts more than this for the next size (ten
/// times larger) skips the larger sizes, to keep the run within minutes.
const FILL_BUDGET: Duration = Duration::from_secs(20);
/// Fills smaller than this are too short to predict from: one preemption would skip
/// a store that fills in milliseconds.
const PREDICT_FROM: u64 = 100_000;
const TTL: Duration = Duration::from_secs(600);

struct Scenario<'a> {
    plan: &'a Plan,
    sizes: Vec<u64>,
    results: Results,
    series: Vec<Series>,
}

impl StoreVisitor for Scenario<'_> {
    fn visit<S: Store>(&mut self) {
        let mut figures = Vec::new();
        let mut predicted_fill = Duration::ZERO;
        for &n in &self.sizes {
            if predicted_fill > FILL_BUDGET {
                eprintln!(
                    "{}: skipping {n} entries (the fill would take about {:.0} s)",
                    S::NAME,
                    predicted_fill.as_secs_f64()
                );
                figures.push(None);
                continue;
            }
            let started = Instant::now();
            let store = S::build(TTL, n as usize);
            for key in 0..n {
                store.insert(key, key);
            }
            store.settle();
            if n >= PREDICT_FROM {
                predicted_fill = started.elapsed() * 10;
            }
            let hits = self.plan.scaled(HITS);
            let mut key = 0;
            let ns = median_of(self.plan.rounds, || {
                ns_per_op(hits, || {
                    for _ in 0..hits {
                        black_box(store.get(black_box(key)));
                        key = if key + 1 == n { 0 } else { key + 1 };
                    }
                })
            });
            figures.push(Some(ns));
        }
        let points = self.sizes.iter().zip(&figures);
        self.series.push(Series {
            name: S::NAME.to_owned(),
            points: points.filter_map(|(&n, ns)| Some((n, (*ns)?))).collect(),
        });
        self.results.rows.push(Measured {
            name: S::NAME,
            role: S::ROLE,
            figures,
        });
    }
}

/// Runs the scenario for every store; also returns the chart's series.
pub fn run(plan: &Plan) -> (Results, Vec<Series>) {
    let sizes: Vec<u64> = SIZES[..if plan.quick { 4 } else { 5 }].to_vec();
    let columns = sizes
        .iter()
        .map(|n| Column::new(format!("{n} entries, ns/hit"), Unit::Nanos, Ratios::Inline))
        .collect();
    let mut scenario = Scenario {
        plan,
        sizes,
        results: Results::new("Hit cost as the map grows", columns),
        series: Vec::new(),
    };
    for_each_store(&mut scenario);
    scenario.results.notes.push(format!(
        "1 thread, `get` of every key in turn (keys hash to unrelated buckets), median of {} rounds \
         of {} hits. n/a: filling that size would take over {} s for this store.",
        plan.rounds,
        plan.scaled(HITS),
        FILL_BUDGET.as_secs()
    ));
    (scenario.results, scenario.series)
}
