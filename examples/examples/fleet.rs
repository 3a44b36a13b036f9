//! A fleet of processes as one cache: one computation per key across processes, and an
//! invalidation in one process seen by the others within milliseconds.
//!
//! ```text
//! cargo run -p cache-examples --features redis --example fleet
//! ```
//!
//! The story: three worker processes (this program, run again with `worker`) ask for a
//! cold exchange rate at the same instant; one of them computes it (half a second) and
//! the two others wait for its result instead of computing it too. Then every worker
//! keeps serving the rate from its own memory, until the first one invalidates it: the
//! two others print how long after the invalidation they stopped serving the old
//! value. With `REDIS_URL` set, that server is used; otherwise the example starts a
//! `redis-server` of its own on a free port (it must be installed:
//! `apt-get install redis-server`), and stops it at the end.

use cache_core::ttl_cached;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the pretend rates service takes to answer.
const RATE_LATENCY: Duration = Duration::from_millis(500);

/// A rate from a slow service, cached for five minutes in every process at once.
#[ttl_cached(secs = 300, redis = true)]
fn rate(pair: &str) -> String {
    thread::sleep(RATE_LATENCY);
    format!(
        "{pair} 1.08{} (computed by process {})",
        now_nanos() % 100,
        std::process::id()
    )
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("worker") {
        worker(&args[2]);
        return;
    }
    let (url, server) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let (url, server) = start_redis_server();
            (url, Some(server))
        }
    };
    let mut workers: Vec<Worker> = (0..3).map(|_| Worker::start(&url)).collect();
    let pids: Vec<String> = workers
        .iter()
        .map(|worker| worker.pid.to_string())
        .collect();
    println!(
        "Redis at {url}; workers are processes {}.\n",
        pids.join(", ")
    );

    println!("1. All three ask for the cold EUR/USD rate at the same instant:");
    for worker in &mut workers {
        worker.send("rate");
    }
    let mut computed = 0;
    for worker in &mut workers {
        let answer = worker.expect("RATE ");
        let (count, value) = answer.split_once(' ').unwrap_or(("0", &answer));
        let how = if count == "1" {
            computed += 1;
            "computed it"
        } else {
            "waited for it, and read it from Redis"
        };
        println!("   process {}: {how}: {value}", worker.pid);
    }
    println!("   The body ran {computed} time(s) for the whole fleet.\n");

    println!(
        "2. Each serves the rate from its own memory; process {} invalidates it:",
        workers[0].pid
    );
    for worker in &mut workers[1..] {
        worker.send("watch");
        worker.expect("READY");
    }
    workers[0].send("invalidate");
    let invalidated: u128 = workers[0].expect("INVALIDATED ").parse().unwrap_or(0);
    for worker in &mut workers[1..] {
        let seen = worker.expect("SAW ");
        let (at, value) = seen.split_once(' ').unwrap_or(("0", &seen));
        let after = at.parse::<u128>().unwrap_or(0).saturating_sub(invalidated);
        println!(
            "   process {} dropped its copy {:.2} ms after the invalidation; asked again: {value}",
            worker.pid,
            after as f64 / 1e6
        );
    }
    println!("   (The new rate was computed once again, by one of them, for both.)");
    for worker in &mut workers {
        worker.send("exit");
    }
    drop(workers);
    if let Some(mut server) = server {
        let _ = server.kill();
        let _ = server.wait();
    }
}

/// One worker process: connects, then runs the commands it reads, one a line.
fn worker(url: &str) {
    if let Err(error) = cache_core::redis::connect(url) {
        eprintln!("worker: {error}; computing locally");
    }
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        match line.as_str() {
            "rate" => {
                let value = rate("EUR/USD");
                println!("RATE {} {value}", rate_redis_stats().computations);
            }
            "watch" => {
                rate("EUR/USD");
                println!("READY");
                // Watches its own memory (no call: a call would compute again), until
                // the copy is gone, then asks again.
                let key = ("EUR/USD".to_owned(),);
                let started = Instant::now();
                while rate_cache().contains_key(&key) && started.elapsed() < Duration::from_secs(30)
                {
                    thread::sleep(Duration::from_micros(100));
                }
                let dropped = now_nanos();
                println!("SAW {dropped} {}", rate("EUR/USD"));
            }
            "invalidate" => {
                rate_invalidate("EUR/USD");
                println!("INVALIDATED {}", now_nanos());
            }
            _ => return,
        }
    }
}

/// A worker process and its output, line by line.
struct Worker {
    child: Child,
    pid: u32,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Worker {
    fn start(url: &str) -> Worker {
        let exe = std::env::current_exe().expect("this program's path");
        let mut child = Command::new(exe)
            .args(["worker", url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a worker process starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Worker {
            pid: child.id(),
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, line: &str) {
        let _ = writeln!(self.stdin, "{line}");
        let _ = self.stdin.flush();
    }

    /// The rest of the next line starting with `prefix`.
    fn expect(&mut self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .expect("the worker answers");
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.wait();
    }
}

/// A `redis-server` on a free port of 127.0.0.1, with no persistence.
fn start_redis_server() -> (String, Child) {
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (apt-get install redis-server), or set REDIS_URL");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        thread::sleep(Duration::from_millis(10));
    }
    (format!("redis://127.0.0.1:{port}/"), server)
}
