//! Timing: medians of repeated rounds, and per-thread cost on several threads.
//!
//! The machine is shared and noisy, so every figure is the median of several rounds.
//! On several threads each thread times its own loop after a barrier, so the figure is
//! what one operation costs a thread while the others run the same loop, not the
//! wall-clock time of the slowest.

use crate::report::Measured;
use crate::Role;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// The median of `values` (the mean of the middle two for an even count); NaN if
/// empty.
///
/// # Examples
///
/// ```
/// assert_eq!(cache_bench::measure::median(vec![3.0, 1.0, 2.0]), 2.0);
/// assert_eq!(cache_bench::measure::median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
/// ```
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// Runs `round` `rounds` times and returns the median of its results.
pub fn median_of(rounds: usize, mut round: impl FnMut() -> f64) -> f64 {
    median((0..rounds).map(|_| round()).collect())
}

/// Nanoseconds per operation of `ops` operations run by `run` on this thread.
pub fn ns_per_op(ops: u64, run: impl FnOnce()) -> f64 {
    let start = Instant::now();
    run();
    start.elapsed().as_nanos() as f64 / ops as f64
}

/// Runs the same loop on `threads` new threads at once and returns the mean time one
/// thread spent in `run`.
///
/// Each thread `t` first runs `prepare(t)` (untimed: e.g. filling a thread-local map),
/// waits until every thread is prepared, then times `run(t)` alone.
///
/// # Examples
///
/// ```
/// use cache_bench::measure::per_thread_elapsed;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let ops = AtomicU64::new(0);
/// let elapsed = per_thread_elapsed(2, |_| {}, |_| {
///     ops.fetch_add(1, Ordering::Relaxed);
/// });
/// assert_eq!(ops.into_inner(), 2);
/// assert!(elapsed.as_secs() < 1);
/// ```
pub fn per_thread_elapsed(
    threads: usize,
    prepare: impl Fn(usize) + Sync,
    run: impl Fn(usize) + Sync,
) -> Duration {
    let start_line = Barrier::new(threads);
    let total: Duration = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (prepare, run, start_line) = (&prepare, &run, &start_line);
                scope.spawn(move || {
                    prepare(t);
                    start_line.wait();
                    let start = Instant::now();
                    run(t);
                    start.elapsed()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a benchmark thread panicked"))
            .sum()
    });
    total / threads as u32
}

/// Figures gathered round by round for every implementation, reduced to medians.
///
/// A scenario runs every implementation once per round, rounds after rounds, rather
/// than all rounds of one implementation and then the next: a burst of noise from
/// other processes then lands on every implementation alike instead of on one.
///
/// # Examples
///
/// ```
/// use cache_bench::measure::Rounds;
/// use cache_bench::Role;
///
/// let mut rounds = Rounds::default();
/// for ns in [10.0, 30.0, 20.0] {
///     rounds.next_round();
///     rounds.record("ours", Role::Ours, &[Some(ns), None]);
///     rounds.record("peer", Role::Peer, &[Some(ns * 2.0), None]);
/// }
/// let rows = rounds.medians();
/// assert_eq!(rows[0].figures, [Some(20.0), None]);
/// assert_eq!(rows[1].figures, [Some(40.0), None]);
/// ```
#[derive(Default)]
pub struct Rounds {
    rows: Vec<Samples>,
    next: usize,
}

struct Samples {
    name: &'static str,
    role: Role,
    figures: Vec<Vec<f64>>,
}

impl Rounds {
    /// Starts a round: the next [`record`](Self::record) is for the first
    /// implementation again.
    pub fn next_round(&mut self) {
        self.next = 0;
    }

    /// Records this round's figures of the next implementation, in visiting order.
    pub fn record(&mut self, name: &'static str, role: Role, figures: &[Option<f64>]) {
        if self.rows.len() == self.next {
            self.rows.push(Samples {
                name,
                role,
                figures: vec![Vec::new(); figures.len()],
            });
        }
        let row = &mut self.rows[self.next];
        debug_assert_eq!(row.name, name, "implementations visited in another order");
        for (samples, figure) in row.figures.iter_mut().zip(figures) {
            samples.extend(*figure);
        }
        self.next += 1;
    }

    /// Each implementation's median of each figure (`None` where it never had one).
    pub fn medians(&self) -> Vec<Measured> {
        self.rows
            .iter()
            .map(|row| Measured {
                name: row.name,
                role: row.role,
                figures: row
                    .figures
                    .iter()
                    .map(|samples| (!samples.is_empty()).then(|| median(samples.clone())))
                    .collect(),
            })
            .collect()
    }
}
