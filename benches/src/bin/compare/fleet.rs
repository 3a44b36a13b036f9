//! A fleet of processes sharing `#[ttl_cached(redis = true)]` functions (issue 15): how
//! long an `_invalidate` in one process takes to reach the others' memory, and what a
//! cold key missed by several processes at once costs.
//!
//! Worker processes are this binary re-executed (with [`WORKER_ENV`]); they take
//! commands on stdin and answer on stdout, one line each. Times that cross processes
//! are read from the system clock (microseconds since the Unix epoch), which every
//! process on the host shares.
//!
//! No peer keeps an in-process level coherent with Redis, or runs one computation per
//! key across processes, so there is no peer row: the figures are ours, against the
//! issue's bounds. This module owns its workers and its server: both are stopped on
//! the way out, whatever happens.

use crate::plan::Plan;
use crate::redis::start_server;
use cache_bench::measure::median;
use cache_bench::report::{Column, Measured, Ratios, Results, Unit};
use cache_bench::Role;
use cache_core::ttl_cached;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The environment variable that makes this binary a fleet worker: the Redis URL.
pub const WORKER_ENV: &str = "COMPARE_FLEET_WORKER";

/// Processes watching for each invalidation.
const WATCHERS: usize = 2;
/// Invalidations measured in a full run; a quarter with `--quick`.
const INVALIDATIONS: u64 = 200;
/// How long a watcher waits for an invalidation to reach it before it reports none.
const WATCH_LIMIT: Duration = Duration::from_millis(200);
/// Processes missing each cold key at once (this one and the workers).
const COLD_PROCESSES: usize = 4;
/// Cold keys measured in a full run; a quarter with `--quick`.
const COLD_KEYS: u64 = 20;
/// How long the cold key's computation takes.
const COMPUTE: Duration = Duration::from_millis(20);

/// The row label.
pub const OURS: &str = "cache-core #[ttl_cached(redis = true)]";

/// The columns the targets read (the others: p50 first, the waiters' overhead last).
pub const PROPAGATION_P99: usize = 1;
pub const NOT_PROPAGATED: usize = 2;
pub const RUNS_PER_COLD_KEY: usize = 3;

/// A value that changes whenever it is computed again, in any process.
#[ttl_cached(secs = 3600, redis = true)]
fn watched(key: u64) -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    format!(
        "{key} {} {}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    )
}

/// Body runs of `cold`, in this process.
static COLD_RUNS: AtomicU64 = AtomicU64::new(0);

/// A slow computation, for the cold-key figure.
#[ttl_cached(secs = 3600, redis = true)]
fn cold(key: u64) -> u64 {
    COLD_RUNS.fetch_add(1, Ordering::Relaxed);
    std::thread::sleep(COMPUTE);
    key
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as u64)
}

fn connect(url: &str) {
    cache_core::redis::Config::new(url)
        .namespace("compare-fleet")
        .connect()
        .expect("the scenario's redis-server answers");
}

/// Run by a re-executed binary: answers the coordinator's commands until stdin ends.
///
/// - `watch K`: reads `watched(K)`, answers `ready`, then reads it again until it
///   changes: answers the time it changed, or `unseen` after [`WATCH_LIMIT`].
/// - `cold K`: calls `cold(K)`: answers its latency in microseconds and the body runs
///   it took here.
pub fn worker(url: &str) {
    connect(url);
    let mut out = std::io::stdout();
    let mut say = |line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let mut words = line.split(' ');
        let (Some(command), Some(key)) = (words.next(), words.next()) else {
            return;
        };
        let Ok(key) = key.parse::<u64>() else { return };
        match command {
            "watch" => {
                let old = watched(key);
                say("ready".to_owned());
                let started = Instant::now();
                loop {
                    if watched(key) != old {
                        say(unix_micros().to_string());
                        break;
                    }
                    if started.elapsed() > WATCH_LIMIT {
                        say("unseen".to_owned());
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
            "cold" => {
                let runs = COLD_RUNS.load(Ordering::Relaxed);
                let started = Instant::now();
                cold(key);
                let latency = started.elapsed().as_micros();
                say(format!(
                    "{latency} {}",
                    COLD_RUNS.load(Ordering::Relaxed) - runs
                ));
            }
            _ => return,
        }
    }
}

/// One worker process, killed when dropped.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Worker {
    fn start(url: &str) -> Worker {
        let mut child = Command::new(std::env::current_exe().expect("this binary's path"))
            .env(WORKER_ENV, url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a worker process starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Worker {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("the worker is running");
    }

    fn answer(&mut self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the worker answers")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `fraction` quantile of `values` (sorted here), nearest rank.
fn quantile(mut values: Vec<f64>, fraction: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 * fraction).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// Runs the scenario, or says why it did not.
pub fn run(plan: &Plan) -> Results {
    let columns = vec![
        Column::new("invalidation seen, p50, ms", Unit::Count, Ratios::None),
        Column::new("invalidation seen, p99, ms", Unit::Count, Ratios::None),
        Column::new("invalidations never seen", Unit::Count, Ratios::None),
        Column::new("body runs per cold key", Unit::Count, Ratios::None),
        Column::new(
            "waiter latency over the body, ms",
            Unit::Count,
            Ratios::None,
        ),
    ];
    let mut results = Results::new("A fleet of processes (issue 15)", columns);
    let Some(server) = start_server() else {
        results.notes.push(
            "Not run: `redis-server` is not installed (apt-get install redis-server).".to_owned(),
        );
        return results;
    };
    connect(&server.url);
    let mut workers: Vec<Worker> = (0..WATCHERS.max(COLD_PROCESSES - 1))
        .map(|_| Worker::start(&server.url))
        .collect();

    // Propagation: the watchers hold the key in memory; this process invalidates it.
    let invalidations = plan.scaled(INVALIDATIONS);
    let mut delays = Vec::new();
    let mut unseen = 0;
    for key in 0..invalidations {
        for watcher in &mut workers[..WATCHERS] {
            watcher.send(&format!("watch {key}"));
            assert_eq!(watcher.answer(), "ready");
        }
        watched_invalidate(key);
        let done = unix_micros();
        for watcher in &mut workers[..WATCHERS] {
            match watcher.answer().parse::<u64>() {
                Ok(seen) => delays.push(seen.saturating_sub(done) as f64 / 1e3),
                Err(_) => unseen += 1,
            }
        }
        // Without propagation every round waits out the limit: a few tell as much.
        if delays.is_empty() && unseen >= 3 * WATCHERS {
            break;
        }
    }
    let watched_rounds = (delays.len() + unseen) / WATCHERS;

    // Cold keys: every process misses the same one at once.
    let cold_keys = plan.scaled(COLD_KEYS);
    let mut runs_per_key = Vec::new();
    let mut overheads = Vec::new();
    for key in 0..cold_keys {
        for worker in &mut workers[..COLD_PROCESSES - 1] {
            worker.send(&format!("cold {key}"));
        }
        let runs = COLD_RUNS.load(Ordering::Relaxed);
        let started = Instant::now();
        cold(key);
        let mut latencies = vec![started.elapsed().as_micros() as f64];
        let mut key_runs = COLD_RUNS.load(Ordering::Relaxed) - runs;
        for worker in &mut workers[..COLD_PROCESSES - 1] {
            let answer = worker.answer();
            let (latency, worker_runs) = answer.split_once(' ').expect("`latency runs`");
            latencies.push(latency.parse().expect("a latency"));
            key_runs += worker_runs.parse::<u64>().expect("a run count");
        }
        runs_per_key.push(key_runs as f64);
        // The slowest caller waited for the computation and then for its result.
        let slowest = latencies.iter().copied().fold(0.0, f64::max);
        overheads.push((slowest - COMPUTE.as_micros() as f64) / 1e3);
    }
    drop(workers);
    drop(server);

    let propagated = !delays.is_empty();
    results.rows = vec![Measured {
        name: OURS,
        role: Role::Ours,
        figures: vec![
            propagated.then(|| quantile(delays.clone(), 0.5)),
            propagated.then(|| quantile(delays.clone(), 0.99)),
            Some(unseen as f64),
            Some(runs_per_key.iter().sum::<f64>() / runs_per_key.len().max(1) as f64),
            Some(median(overheads)),
        ],
    }];
    results.notes.push(format!(
        "One `redis-server` on 127.0.0.1, started by the scenario; workers are this binary \
         re-executed. Invalidation: {WATCHERS} worker processes hold a key in memory and \
         read it in a loop; this process calls `_invalidate`; each watcher's delay is from \
         the call's return to its first read of a new value, on the system clock \
         ({watched_rounds} rounds; a watcher that sees nothing in {} ms counts as never \
         seen{}). Cold key: {COLD_PROCESSES} processes call a {} ms function on the same \
         new key at once ({cold_keys} keys): body runs per key across all of them (1 is \
         one computation for the fleet), and the median over keys of the slowest \
         caller's latency minus the body's time.",
        WATCH_LIMIT.as_millis(),
        if propagated {
            ""
        } else {
            "; the scenario stops after 3 such rounds"
        },
        COMPUTE.as_millis(),
    ));
    results
}
