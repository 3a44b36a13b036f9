//! `compare`: every scenario of the benchmark suite, for every implementation, printed
//! as Markdown tables with ratios to the best peer and to the thread-local `HashMap`
//! limit; then the targets of issues 2, 5, 13, 14, 15, 17 and 18, met or missed; and the charts
//! `docs/hit-cost.svg` and `docs/hit-ratio.svg`.
//!
//! ```text
//! cargo run --release -p cache-bench --bin compare -- [--quick] [SCENARIO...]
//! ```
//!
//! Scenarios run one after another on the main thread (plus the threads a scenario
//! starts itself), so the process-wide allocation counters measure one thing at a time.

mod cold_miss;
mod fleet;
mod growth;
mod hit;
mod memo;
mod memory;
mod miss;
mod plan;
mod ratio;
mod reclaim;
mod redis;
mod stall;
mod str_hit;
mod targets;

use cache_bench::alloc_count::{is_counting, CountingAllocator};
use cache_bench::chart;
use cache_bench::machine::Machine;
use cache_bench::report::Results;
use plan::Plan;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Counts heap bytes and allocations for the memory and allocation figures.
#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Where the chart named `file` goes: `docs/` at the workspace root.
fn chart_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(file)
}

fn main() -> ExitCode {
    // Re-executed by the redis scenario to compute keys in another process.
    if let Ok(spec) = std::env::var(redis::FILL_ENV) {
        redis::fill(&spec);
        return ExitCode::SUCCESS;
    }
    // Re-executed by the fleet scenario as one of its helper processes.
    if let Ok(url) = std::env::var(fleet::HELPER_ENV) {
        fleet::helper(&url);
        return ExitCode::SUCCESS;
    }
    let plan = match Plan::from_args(std::env::args().skip(1)) {
        Ok(plan) => plan,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::FAILURE;
        }
    };
    assert!(is_counting(), "the counting allocator is not installed");
    let started = Instant::now();
    println!("## Results\n");
    println!("Machine: {}.", Machine::current());
    println!(
        "Run: {} mode, {} rounds per timed figure, median reported.\n",
        if plan.quick { "`--quick`" } else { "full" },
        plan.rounds
    );

    let mut run = targets::RunResults::default();
    let show = |results: Results| {
        println!("{}", results.to_markdown());
        Some(results)
    };
    if plan.runs("hit") {
        run.hit = show(hit::run(&plan));
    }
    if plan.runs("str") {
        run.str_hit = show(str_hit::run(&plan));
    }
    if plan.runs("miss") {
        run.miss = show(miss::run(&plan));
    }
    if plan.runs("cold") {
        run.cold_miss = show(cold_miss::run(&plan));
    }
    if plan.runs("memory") {
        run.memory = show(memory::run(&plan));
    }
    if plan.runs("reclaim") {
        run.reclaim = show(reclaim::run(&plan));
    }
    if plan.runs("stall") {
        run.stall = show(stall::run(&plan));
    }
    if plan.runs("growth") {
        let (results, series) = growth::run(&plan);
        println!("{}", results.to_markdown());
        let path = chart_path("hit-cost.svg");
        let title = "get hit cost as the map grows (lower is better)";
        match chart::draw_hit_cost(&path, title, &series) {
            Ok(()) => println!("Chart: `docs/hit-cost.svg`.\n"),
            Err(error) => eprintln!("could not draw {}: {error}", path.display()),
        }
    }
    if plan.runs("ratio") {
        let figures = ratio::run(&plan);
        println!("{}", figures.to_markdown());
        let path = chart_path("hit-ratio.svg");
        let title = "hit ratio of capacity-bounded caches (higher is better)";
        match chart::draw_hit_ratio(&path, title, &figures.row_labels(), &figures.chart_series()) {
            Ok(()) => println!("Chart: `docs/hit-ratio.svg`.\n"),
            Err(error) => eprintln!("could not draw {}: {error}", path.display()),
        }
        run.ratio = Some(figures);
    }
    if plan.runs("redis") {
        run.redis = show(redis::run(&plan));
    }
    if plan.runs("fleet") {
        run.fleet = show(fleet::run(&plan));
    }
    println!("{}", targets::to_markdown(&run));
    println!("Whole run: {:.0} s.", started.elapsed().as_secs_f64());
    ExitCode::SUCCESS
}
