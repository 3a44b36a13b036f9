//! A coherent fleet (issue 15): how soon an `_invalidate` in one process stops the
//! others serving the old value, and what one computation per key across processes
//! costs the processes that wait for it. On one `redis-server` the scenario starts (see
//! `redis.rs`), with helper processes: this binary re-executed with [`HELPER_ENV`],
//! driven line by line over its stdin.
//!
//! No peer row: no other Rust memoization crate keeps in-process copies coherent
//! across processes, or computes a key once across them.
//!
//! This module owns its helper processes: they are killed on the way out.

use cache_bench::measure::median;
use cache_bench::report::{Column, Measured, Ratios, Results, Unit};
use cache_bench::Role;
use cache_core::ttl_cached;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::plan::Plan;

/// The environment variable that makes this binary a helper: the server's URL.
pub const HELPER_ENV: &str = "COMPARE_FLEET_HELPER";

/// Helper processes: the watchers of an invalidation, and with this process, the
/// processes that miss one cold key at once.
const HELPERS: usize = 3;
/// Invalidations per round (each seen by every helper).
const INVALIDATIONS: usize = 30;
/// How long the body of the single-flight figure runs.
const BODY: Duration = Duration::from_millis(20);
/// How long a helper may take to answer, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// The row label.
pub const OURS: &str = "cache-core #[ttl_cached(redis = true)]";

/// The columns the targets read.
pub const PROPAGATION_P99: usize = 1;
pub const RUNS_PER_COLD_KEY: usize = 4;

/// Each computation returns a new number.
#[ttl_cached(secs = 3600, redis = true)]
fn fleet_value(key: u64) -> u128 {
    let _ = key;
    now_nanos()
}

/// A slow body: the leader of a fleet-wide flight runs it, the others wait.
#[ttl_cached(secs = 3600, redis = true)]
fn fleet_slow(key: u64) -> u64 {
    std::thread::sleep(BODY);
    key
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
}

fn connect(url: &str) {
    cache_core::redis::Config::new(url)
        .namespace("compare-fleet")
        .connect()
        .expect("the scenario's redis-server answers");
}

/// Run by a helper process: answers the commands it reads.
pub fn helper(url: &str) {
    connect(url);
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines().map_while(Result::ok);
    while let Some(line) = lines.next() {
        let mut words = line.split(' ');
        let command = words.next().unwrap_or_default();
        let key: u64 = words.next().and_then(|key| key.parse().ok()).unwrap_or(0);
        match command {
            // Calls `fleet_value(key)` until it changes; says when it did.
            "watch" => {
                let before = fleet_value(key);
                println!("ready");
                let started = Instant::now();
                while fleet_value(key) == before && started.elapsed() < PATIENCE {
                    std::thread::sleep(Duration::from_micros(50));
                }
                println!("changed {}", now_nanos());
            }
            // Misses `fleet_slow(key)` when told to go; how long it took, and whether
            // this process ran the body.
            "miss" => {
                println!("ready");
                let _go = lines.next();
                let before = fleet_slow_redis_stats().computations;
                let started = Instant::now();
                std::hint::black_box(fleet_slow(key));
                let took = started.elapsed().as_nanos();
                let ran = fleet_slow_redis_stats().computations - before;
                println!("missed {took} {ran}");
            }
            _ => return,
        }
    }
}

struct Helper {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Helper {
    fn start(url: &str) -> Helper {
        let mut child = Command::new(std::env::current_exe().expect("this binary's path"))
            .env(HELPER_ENV, url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a helper starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Helper {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("the helper reads");
        self.stdin.flush().expect("the helper reads");
    }

    fn expect(&mut self, word: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(PATIENCE)
                .expect("the helper answers");
            if let Some(rest) = line.strip_prefix(word) {
                return rest.trim().to_owned();
            }
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[f64], percent: usize) -> f64 {
    sorted[(sorted.len() * percent / 100).min(sorted.len() - 1)]
}

/// Runs the scenario, or says why it did not.
pub fn run(plan: &Plan) -> Results {
    let columns = vec![
        Column::new(
            "invalidation seen elsewhere, p50 ns",
            Unit::Nanos,
            Ratios::None,
        ),
        Column::new(
            "invalidation seen elsewhere, p99 ns",
            Unit::Nanos,
            Ratios::None,
        ),
        Column::new("cold key, leader's call, ns", Unit::Nanos, Ratios::None),
        Column::new("cold key, waiter's call, ns", Unit::Nanos, Ratios::None),
        Column::new("cold key, body runs", Unit::Count, Ratios::None),
    ];
    let mut results = Results::new("A coherent fleet (issue 15)", columns);
    let Some(server) = crate::redis::start_server() else {
        results.notes.push(
            "Not run: `redis-server` is not installed (apt-get install redis-server).".to_owned(),
        );
        return results;
    };
    connect(&server.url);
    let mut helpers: Vec<Helper> = (0..HELPERS).map(|_| Helper::start(&server.url)).collect();
    let rounds = plan.rounds;
    let invalidations = if plan.quick {
        INVALIDATIONS / 3
    } else {
        INVALIDATIONS
    };

    // Propagation: from the return of `_invalidate` here to a helper's first call
    // that no longer returns the old value (which includes its recomputation, one
    // Redis round trip or a fleet-wide flight).
    let mut delays = Vec::new();
    for invalidation in 0..rounds * invalidations {
        let key = invalidation as u64 % 8;
        fleet_value(key);
        for helper in &mut helpers {
            helper.send(&format!("watch {key}"));
        }
        for helper in &mut helpers {
            helper.expect("ready");
        }
        fleet_value_invalidate(key);
        let invalidated = now_nanos();
        for helper in &mut helpers {
            let changed: u128 = helper.expect("changed").parse().unwrap_or(invalidated);
            delays.push(changed.saturating_sub(invalidated) as f64);
        }
    }
    delays.sort_by(f64::total_cmp);

    // One cold key, missed by every helper and this process at once.
    let mut leaders = Vec::new();
    let mut waiters = Vec::new();
    let mut runs = Vec::new();
    for round in 0..rounds {
        let key = 1_000 + round as u64;
        for helper in &mut helpers {
            helper.send(&format!("miss {key}"));
            helper.expect("ready");
        }
        for helper in &mut helpers {
            helper.send("go");
        }
        let before = fleet_slow_redis_stats().computations;
        let started = Instant::now();
        std::hint::black_box(fleet_slow(key));
        let mut calls = vec![(
            started.elapsed().as_nanos() as f64,
            fleet_slow_redis_stats().computations - before,
        )];
        for helper in &mut helpers {
            let missed = helper.expect("missed");
            let (took, ran) = missed.split_once(' ').unwrap_or(("0", "0"));
            calls.push((took.parse().unwrap_or(0.0), ran.parse().unwrap_or(0)));
        }
        runs.push(calls.iter().map(|(_, ran)| *ran as f64).sum::<f64>());
        for (took, ran) in calls {
            if ran > 0 {
                leaders.push(took);
            } else {
                waiters.push(took);
            }
        }
    }
    drop(helpers);
    drop(server);

    results.rows = vec![Measured {
        name: OURS,
        role: Role::Ours,
        figures: vec![
            Some(percentile(&delays, 50)),
            Some(percentile(&delays, 99)),
            (!leaders.is_empty()).then(|| median(leaders)),
            (!waiters.is_empty()).then(|| median(waiters)),
            Some(median(runs)),
        ],
    }];
    results.notes.push(format!(
        "One `redis-server` on 127.0.0.1, {HELPERS} helper processes (this binary \
         re-executed). Invalidation: {} `_invalidate` calls in this process, each while \
         every helper calls the function in a loop (in-process hits, 50 µs apart); from \
         the return of `_invalidate` to each helper's first call returning the new value \
         (which includes its recomputation: one of them computes, the others wait for \
         it). {} samples. Cold key: this process and the helpers call a function whose \
         body sleeps {} ms, on one cold key, at once; the leader's call (the one that ran \
         the body) and the others' (which waited, woken by the notification of the \
         leader's write, then read Redis), median over {rounds} rounds; body runs per \
         round (1: one computation for {} processes).",
        rounds * invalidations,
        delays.len(),
        BODY.as_millis(),
        HELPERS + 1,
    ));
    results
}
