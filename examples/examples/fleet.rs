//! A fleet of processes that behaves like one cache: `#[ttl_cached(redis = true)]`
//! across three worker processes.
//!
//! ```text
//! cargo run -p cache-examples --features redis --example fleet
//! ```
//!
//! The story, told by this program (the coordinator) from what its three workers (this
//! program run again with `worker`) report:
//!
//! 1. **One cold key, computed once.** All three ask for the same price at the same
//!    moment. One of them computes it (300 ms); the others wait for its result and
//!    take it from Redis instead of computing it too.
//! 2. **`_refresh` reaches everyone.** Workers 2 and 3 poll the price from their own
//!    memory; worker 1 calls `price_refresh`. Each watcher prints how long after the
//!    refresh returned it first saw the new value.
//! 3. **`_invalidate` reaches everyone.** The same with `price_invalidate`: the
//!    watchers' copies are dropped, and their next call fetches a new value.
//!
//! With `REDIS_URL` set, that server is used; otherwise the example starts a
//! `redis-server` of its own on a free port (it must be installed:
//! `apt-get install redis-server`), and stops it at the end.

use cache_core::ttl_cached;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the pretend pricing service takes to answer.
const PRICE_LATENCY: Duration = Duration::from_millis(300);

/// How long a watcher polls for a change before it reports that it saw none.
const WATCH_LIMIT: Duration = Duration::from_secs(2);

/// A price from a slow service, cached for five minutes, shared by every process.
#[ttl_cached(secs = 300, redis = true)]
fn price(item: &str) -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    thread::sleep(PRICE_LATENCY);
    let run = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    format!(
        "{item} 9.99 (computation {run} of process {})",
        std::process::id()
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("worker") {
        worker(&args[2]);
        return;
    }
    let (url, server) = cache_examples::redis_url_or_own_server();
    println!("Redis at {url}; three worker processes share `price`.\n");
    let mut workers: Vec<Worker> = (1..=3).map(|number| Worker::start(&url, number)).collect();

    println!("1. All three ask for the cold key \"widget\" at once:");
    for worker in &mut workers {
        worker.send("cold");
    }
    let mut computed = 0;
    for worker in &mut workers {
        let report = worker.report();
        let fields: Vec<&str> = report.splitn(3, ' ').collect();
        let (source, elapsed, value) = (fields[0], fields[1], fields[2]);
        if source == "computed" {
            computed += 1;
        }
        println!(
            "   worker {}: {source} in {elapsed} ms: {value}",
            worker.number
        );
    }
    println!("   => computed {computed} time(s) across the fleet.\n");

    for (step, helper) in [(2, "refresh"), (3, "invalidate")] {
        println!("{step}. Workers 2 and 3 watch their copy; worker 1 calls price_{helper}:");
        for watcher in &mut workers[1..] {
            watcher.send("watch");
            assert_eq!(watcher.report(), "watching");
        }
        workers[0].send(helper);
        let done: u64 = workers[0].report().parse().expect("a time");
        println!("   worker 1: price_{helper}(\"widget\") returned");
        for watcher in &mut workers[1..] {
            let report = watcher.report();
            match report.split_once(' ') {
                Some((seen, value)) if seen != "unseen" => {
                    let seen: u64 = seen.parse().expect("a time");
                    let delay = seen.saturating_sub(done) as f64 / 1000.0;
                    println!(
                        "   worker {}: saw the change {delay:.2} ms after that: {value}",
                        watcher.number
                    );
                }
                _ => println!(
                    "   worker {}: still had the old value after {} s",
                    watcher.number,
                    WATCH_LIMIT.as_secs()
                ),
            }
        }
        if helper == "invalidate" {
            println!(
                "   (their copies went at once; a new value takes the {} ms computation, which \
                 one of them ran while the other waited for it)",
                PRICE_LATENCY.as_millis()
            );
        }
        println!();
    }
    for worker in &mut workers {
        worker.send("quit");
        let _ = worker.child.wait();
    }
    if let Some(mut server) = server {
        let _ = server.kill();
        let _ = server.wait();
    }
}

/// Microseconds since the Unix epoch: the one clock every process on the host shares.
fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as u64)
}

/// A worker process: reads commands on stdin, answers each with one line on stdout.
fn worker(url: &str) {
    if let Err(error) = cache_core::redis::connect(url) {
        eprintln!("worker: {error}; running local only");
    }
    let mut out = std::io::stdout();
    let mut say = |line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(command) = line else { return };
        match command.as_str() {
            "cold" => {
                let started = Instant::now();
                let value = price("widget");
                let elapsed = started.elapsed().as_millis();
                let source = if price_redis_stats().computations > 0 {
                    "computed"
                } else {
                    "waited"
                };
                say(format!("{source} {elapsed} {value}"));
            }
            "watch" => {
                let old = price("widget");
                say("watching".to_owned());
                let started = Instant::now();
                let seen = loop {
                    let now = price("widget");
                    if now != old {
                        break Some((unix_micros(), now));
                    }
                    if started.elapsed() > WATCH_LIMIT {
                        break None;
                    }
                    thread::sleep(Duration::from_micros(100));
                };
                match seen {
                    Some((at, value)) => say(format!("{at} {value}")),
                    None => say("unseen -".to_owned()),
                }
            }
            "refresh" => {
                price_refresh("widget");
                say(unix_micros().to_string());
            }
            "invalidate" => {
                price_invalidate("widget");
                say(unix_micros().to_string());
            }
            _ => return,
        }
    }
}

/// The coordinator's handle on one worker process.
struct Worker {
    number: usize,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Worker {
    fn start(url: &str, number: usize) -> Worker {
        let exe = std::env::current_exe().expect("this program's path");
        let mut child = Command::new(exe)
            .args(["worker", url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a worker process starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Worker {
            number,
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("the worker is running");
    }

    /// The worker's next line; it always answers within a few seconds.
    fn report(&mut self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the worker answers")
    }
}
