//! `#[ttl_cached(redis = true)]`: one memo shared by several processes through Redis.
//!
//! ```text
//! cargo run -p cache-examples --features redis --example shared_across_processes
//! ```
//!
//! The story: three worker processes (this program, run again with `worker`) need the
//! same slow quote. The first computes it (one second) and writes it to Redis; the
//! other two read it from there in a round trip instead of computing it again; each
//! then serves its repeated calls in-process. The stats of each say where its answers
//! came from. With `REDIS_URL` set, that server is used; otherwise the example starts a
//! `redis-server` of its own on a free port (it must be installed:
//! `apt-get install redis-server`), and stops it at the end.

use cache_core::ttl_cached;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long the pretend quote service takes to answer.
const QUOTE_LATENCY: Duration = Duration::from_secs(1);

/// How many times each worker asks for the quote.
const CALLS_PER_WORKER: usize = 5;

/// A quote from a slow service, cached for five minutes in every process at once.
#[ttl_cached(secs = 300, redis = true)]
fn quote(pair: &str) -> String {
    thread::sleep(QUOTE_LATENCY);
    format!("{pair} 1.0842 (computed by process {})", std::process::id())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("worker") {
        worker(&args[2], &args[3]);
        return;
    }
    let (url, server) = cache_examples::redis_url_or_own_server();
    println!(
        "Redis at {url}; three workers ask for the EUR/USD quote {CALLS_PER_WORKER} times each.\n"
    );
    // The first worker alone (it computes), then the two others together.
    let totals = [run_workers(&url, &["1"]), run_workers(&url, &["2", "3"])].concat();
    let computations: u64 = totals.iter().map(|stats| stats.0).sum();
    let from_redis: u64 = totals.iter().map(|stats| stats.1).sum();
    let in_process: u64 = totals.iter().map(|stats| stats.2).sum();
    println!(
        "\nIn all: {computations} computation, {from_redis} answers read from Redis, \
         {in_process} served in-process, across {} processes.",
        totals.len()
    );
    if let Some(mut server) = server {
        let _ = server.kill();
        let _ = server.wait();
    }
}

/// One worker process: connects, asks for the quote, reports where answers came from.
fn worker(url: &str, name: &str) {
    if let Err(error) = cache_core::redis::connect(url) {
        eprintln!("worker {name}: {error}; computing locally");
    }
    let started = Instant::now();
    let answer = quote("EUR/USD");
    let first = started.elapsed();
    for _ in 1..CALLS_PER_WORKER {
        assert_eq!(quote("EUR/USD"), answer);
    }
    let stats = quote_redis_stats();
    let source = if stats.computations > 0 {
        "computed here, and written to Redis"
    } else {
        "read from Redis"
    };
    println!(
        "worker {name} (process {}): first answer in {:.1} ms, {source}: {answer}",
        std::process::id(),
        first.as_secs_f64() * 1000.0
    );
    println!(
        "    stats: {} computation, {} from Redis, {} in-process hits, {} Redis errors, Redis in use: {}",
        stats.computations,
        stats.redis_hits,
        stats.in_process_hits,
        stats.redis_errors,
        stats.redis_in_use
    );
    println!(
        "STATS {} {} {}",
        stats.computations, stats.redis_hits, stats.in_process_hits
    );
}

/// Runs workers `names` at once; their (computations, Redis hits, in-process hits).
fn run_workers(url: &str, names: &[&str]) -> Vec<(u64, u64, u64)> {
    let exe = std::env::current_exe().expect("this program's path");
    let children: Vec<Child> = names
        .iter()
        .map(|name| {
            Command::new(&exe)
                .args(["worker", url, name])
                .stdout(Stdio::piped())
                .spawn()
                .expect("a worker process starts")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().expect("the worker finishes");
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            let mut stats = (0, 0, 0);
            for line in text.lines() {
                match line.strip_prefix("STATS ") {
                    Some(numbers) => {
                        let numbers: Vec<u64> = numbers
                            .split(' ')
                            .map(|number| number.parse().unwrap_or(0))
                            .collect();
                        stats = (numbers[0], numbers[1], numbers[2]);
                    }
                    None => println!("{line}"),
                }
            }
            stats
        })
        .collect()
}
