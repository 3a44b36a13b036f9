//! A fleet of processes as one cache (`redis = true`): an invalidation in one process
//! reaches the in-process copies of every other, writes by any Redis client count, a
//! lost notification connection leaves no stale copy, and processes that miss one key
//! at once run its body once. Real redis-servers (see `support`), real OS processes:
//! this test binary run again as `fleet_worker`, driven line by line over its stdin.

#![cfg(feature = "redis")]

#[path = "support/redis_server.rs"]
mod support;

use cache_core::redis::Config;
use cache_core::ttl_cached;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{eventually, exclusive, keys, RedisServer};

/// The server's URL, for the run counters (and, with [`WORKER`], the cache).
const WORKER_URL: &str = "TTL_CACHED_FLEET_WORKER_URL";
/// Set in a worker process.
const WORKER: &str = "TTL_CACHED_FLEET_WORKER";
/// The bound of the issue: no process returns an invalidated value later than this.
const BOUND: Duration = Duration::from_millis(50);
/// Set in a worker whose `stalled` never returns.
const STALL: &str = "TTL_CACHED_FLEET_STALL";
/// How long anything a test waits for may take, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------
// The functions every process shares. Their bodies count their runs in Redis (under a
// key outside the cache's namespace), so the count is the fleet's.
// ---------------------------------------------------------------------------------

/// Counts one run of `name` across the fleet; the count so far. Through a
/// connection of the test's own, to the server of [`WORKER_URL`] (made again when
/// that changed, or failed: a restarted server).
fn run(name: &str) -> u64 {
    static COUNTER: Mutex<Option<(String, redis::Connection)>> = Mutex::new(None);
    let url = std::env::var(WORKER_URL).expect("the server's URL");
    let mut counter = COUNTER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..2 {
        if counter.as_ref().is_none_or(|(used, _)| *used != url) {
            let client = redis::Client::open(url.as_str()).unwrap();
            *counter = Some((url.clone(), client.get_connection().unwrap()));
        }
        let (_, connection) = counter.as_mut().unwrap();
        match redis::cmd("INCR")
            .arg(format!("fleet-runs:{name}"))
            .query(connection)
        {
            Ok(count) => return count,
            Err(_) => *counter = None,
        }
    }
    panic!("the run counter's server does not answer");
}

fn runs(server: &RedisServer, name: &str) -> u64 {
    redis::cmd("GET")
        .arg(format!("fleet-runs:{name}"))
        .query::<Option<u64>>(&mut server.client())
        .unwrap()
        .unwrap_or(0)
}

/// Each computation returns a new number: a process that still returns the old one
/// still holds the old copy.
#[ttl_cached(secs = 600, redis = true)]
fn rate(n: u64) -> u64 {
    let _ = n;
    run("rate")
}

/// Another function, which invalidating `rate` must leave alone.
#[ttl_cached(secs = 600, redis = true)]
fn bystander(n: u64) -> u64 {
    run(&format!("bystander:{n}"))
}

/// A slow computation: fleet-wide single flight.
#[ttl_cached(secs = 600, redis = true)]
fn slow(n: u64) -> u64 {
    let run = run(&format!("slow:{n}"));
    thread::sleep(Duration::from_millis(300));
    run
}

#[ttl_cached(secs = 600, redis = true)]
async fn slow_async(n: u64) -> u64 {
    let run = run(&format!("slow_async:{n}"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    run
}

/// In a worker told to stall, its run never ends; elsewhere it returns at once (and
/// uses no Redis of its own).
#[ttl_cached(secs = 600, redis = true, lease_secs = 30)]
fn stalled(n: u64) -> u64 {
    if std::env::var_os(STALL).is_some() {
        println!("leading");
        thread::sleep(Duration::from_secs(600));
    }
    n + 1
}

/// Without single flight: no lease, across processes either.
#[ttl_cached(secs = 600, redis = true, single_flight = false)]
fn unshared(n: u64) -> u64 {
    run(&format!("unshared:{n}"));
    thread::sleep(Duration::from_millis(300));
    n
}

/// Its first run never ends (until the process is killed); its lease lasts 1 s.
#[ttl_cached(secs = 600, redis = true, lease_secs = 1)]
fn abandoned(n: u64) -> u64 {
    let run = run(&format!("abandoned:{n}"));
    if run == 1 {
        println!("leading");
        thread::sleep(Duration::from_secs(600));
    }
    run
}

#[ttl_cached(secs = 600, redis = true, lease_secs = 1)]
async fn abandoned_async(n: u64) -> u64 {
    let run = run(&format!("abandoned_async:{n}"));
    if run == 1 {
        println!("leading");
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    run
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

// ---------------------------------------------------------------------------------
// The worker: connects, then runs the commands it reads, one a line.
// ---------------------------------------------------------------------------------

/// Calls `rate(n)` until its value changes; prints when (or `stuck`).
fn watch(n: u64) {
    let before = rate(n);
    println!("ready {before}");
    let started = Instant::now();
    loop {
        let now = rate(n);
        if now != before {
            println!("changed {} {now}", now_nanos());
            return;
        }
        if started.elapsed() > PATIENCE {
            println!("stuck");
            return;
        }
        thread::sleep(Duration::from_micros(100));
    }
}

/// `threads` callers of `slow(n)` (or `slow_async`, on tokio tasks) at once, after `go`.
fn burst(n: u64, threads: usize, mode: &str, lines: &mut impl Iterator<Item = String>) {
    let mode = mode.to_owned();
    let barrier = Arc::new(Barrier::new(threads + 1));
    let callers: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let mode = mode.clone();
            thread::spawn(move || {
                barrier.wait();
                if mode == "unshared" {
                    unshared(n)
                } else if mode == "async" {
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(1)
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(async move { tokio::spawn(slow_async(n)).await.unwrap() })
                } else {
                    slow(n)
                }
            })
        })
        .collect();
    println!("ready");
    assert_eq!(lines.next().as_deref(), Some("go"));
    barrier.wait();
    let values: Vec<String> = callers
        .into_iter()
        .map(|caller| caller.join().unwrap().to_string())
        .collect();
    println!("values {}", values.join(","));
}

#[test]
fn fleet_worker() {
    if std::env::var_os(WORKER).is_none() {
        return; // run as a test of its own: nothing to do
    }
    let url = std::env::var(WORKER_URL).unwrap();
    Config::new(&url).connect().unwrap();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines().map_while(Result::ok);
    while let Some(line) = lines.next() {
        let words: Vec<&str> = line.split(' ').collect();
        let number = |i: usize| -> u64 { words[i].parse().unwrap() };
        match words[0] {
            "watch" => watch(number(1)),
            "get" => println!("value {}", rate(number(1))),
            "bystander" => {
                let before = bystander_redis_stats();
                let value = bystander(number(1));
                let after = bystander_redis_stats();
                println!(
                    "bystander {value} in_process={}",
                    after.in_process_hits - before.in_process_hits
                );
            }
            "burst" => burst(number(1), number(2) as usize, words[3], &mut lines),
            "abandoned" => println!("value {}", abandoned(number(1))),
            "stalled" => println!("value {}", stalled(number(1))),
            "abandoned_async" => {
                let value = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(abandoned_async(number(1)));
                println!("value {value}");
            }
            "coherent" => {
                let started = Instant::now();
                while !rate_redis_stats().coherent && started.elapsed() < PATIENCE {
                    thread::sleep(Duration::from_millis(1));
                }
                println!("coherent {}", rate_redis_stats().coherent);
            }
            "exit" => return,
            other => panic!("unknown command {other}"),
        }
    }
}

/// A worker process, and its output, line by line.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Worker {
    fn start(server: &RedisServer) -> Worker {
        Self::start_with(server, &[])
    }

    fn start_with(server: &RedisServer, environment: &[(&str, &str)]) -> Worker {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fleet_worker", "--nocapture", "--test-threads=1"])
            .env(WORKER_URL, server.url())
            .env(WORKER, "1")
            .envs(environment.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the test binary runs again");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut worker = Worker {
            child,
            stdin,
            lines,
        };
        // Connected, and tracked: from here on, it hears of every change.
        assert_eq!(worker.ask("coherent", "coherent"), "true");
        worker
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The rest of the next line that starts with `word` (other lines are skipped:
    /// the test harness prints its own).
    fn expect(&mut self, word: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{word}` from the worker in time"));
            // The harness's `test fleet_worker ... ` may come first on the line.
            let line = line
                .rsplit_once("... ")
                .map_or(line.as_str(), |(_, ours)| ours);
            if line == "stuck" {
                panic!("a worker never saw the change");
            }
            if let Some(rest) = line.strip_prefix(word) {
                return rest.trim().to_owned();
            }
        }
    }

    fn ask(&mut self, line: &str, word: &str) -> String {
        self.send(line);
        self.expect(word)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(server: &RedisServer) {
    Config::new(&server.url()).connect().unwrap();
    std::env::set_var(WORKER_URL, server.url());
    assert!(rate_redis_stats().coherent, "tracked from the connect call");
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    sorted[(sorted.len() * percent / 100).min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------------------
// Invalidation reaches every process.
// ---------------------------------------------------------------------------------

#[test]
fn an_invalidation_reaches_every_process_within_the_bound() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut workers: Vec<Worker> = (0..3).map(|_| Worker::start(&server)).collect();
    let mut delays = Vec::new();
    for round in 0..40 {
        let key = round % 4;
        let current = rate(key);
        for worker in &mut workers {
            worker.send(&format!("watch {key}"));
        }
        for worker in &mut workers {
            assert_eq!(worker.expect("ready"), current.to_string());
        }
        rate_invalidate(key);
        let invalidated = now_nanos();
        let mut seen = Vec::new();
        for worker in &mut workers {
            let changed = worker.expect("changed");
            let (at, value) = changed.split_once(' ').unwrap();
            let at: u128 = at.parse().unwrap();
            seen.push(value.to_owned());
            let delay = at.saturating_sub(invalidated);
            delays.push(Duration::from_nanos(u64::try_from(delay).unwrap()));
        }
        // One new value for everyone: computed once, by one of them.
        assert!(seen.windows(2).all(|pair| pair[0] == pair[1]), "{seen:?}");
    }
    delays.sort();
    let (p50, p99) = (percentile(&delays, 50), percentile(&delays, 99));
    println!(
        "propagation of an invalidation to another process: p50 {p50:?}, p99 {p99:?}, max {:?} ({} samples)",
        delays.last().unwrap(),
        delays.len()
    );
    assert!(p99 <= BOUND, "p99 {p99:?} over {BOUND:?}");
}

#[test]
fn a_clear_in_one_process_drops_that_functions_copies_everywhere_and_no_others() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut workers: Vec<Worker> = (0..3).map(|_| Worker::start(&server)).collect();
    let kept = bystander(5);
    for worker in &mut workers {
        // Held in-process (a first read may be refused its place by the late news of
        // the parent's own write: it is then read again).
        eventually("the bystander's copy is in-process", || {
            worker.ask("bystander 5", "bystander") == format!("{kept} in_process=1")
        });
    }
    let current = rate(9);
    for worker in &mut workers {
        worker.send("watch 9");
        assert_eq!(worker.expect("ready"), current.to_string());
    }
    rate_clear();
    for worker in &mut workers {
        worker.expect("changed");
    }
    // The other function's copies are still there, in every process.
    for worker in &mut workers {
        assert_eq!(
            worker.ask("bystander 5", "bystander"),
            format!("{kept} in_process=1")
        );
    }
    assert_eq!(runs(&server, "bystander:5"), 1);
}

// ---------------------------------------------------------------------------------
// Writes by any client count.
// ---------------------------------------------------------------------------------

/// The Redis key of `rate(n)`: the only one ending with its encoded argument.
fn key_of_rate(server: &RedisServer, n: u8) -> Vec<u8> {
    let found = keys(&mut server.client(), "ttl-cached:*:rate:*");
    found
        .into_iter()
        .find(|key| key.ends_with(&[b':', n]) && !key.ends_with(b":gen"))
        .expect("rate's key is in Redis")
}

fn within_bound(what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    eventually(what, &mut condition);
    let took = started.elapsed();
    assert!(took <= BOUND, "{what}: took {took:?}");
    took
}

#[test]
fn a_key_rewritten_or_deleted_by_another_client_drops_the_copy() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let (one, two) = (rate(1), rate(2));
    assert_ne!(one, two);
    assert_eq!(rate(1), one, "an in-process hit");
    let mut client = server.client();
    // Rewritten: rate(2)'s bytes at rate(1)'s key.
    let bytes: Vec<u8> = redis::cmd("GET")
        .arg(key_of_rate(&server, 2))
        .query(&mut client)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(key_of_rate(&server, 1))
        .arg(bytes)
        .query(&mut client)
        .unwrap();
    within_bound("the rewritten value is served", || rate(1) == two);
    // Deleted: the next call computes again.
    let _: () = redis::cmd("DEL")
        .arg(key_of_rate(&server, 1))
        .query(&mut client)
        .unwrap();
    within_bound("the deleted value is computed again", || rate(1) > two);
    // Flushed: every copy goes.
    let three = rate(3);
    let _: () = redis::cmd("FLUSHDB").query(&mut client).unwrap();
    within_bound("a flush drops every copy", || rate(3) != three);
}

#[test]
fn an_entry_evicted_by_redis_maxmemory_drops_the_copy() {
    let _exclusive = exclusive();
    let server = RedisServer::start_with(&["--maxmemory-policy", "volatile-random"]);
    connect(&server);
    let first = rate(40);
    let mut client = server.client();
    let used: u64 = {
        let info: String = redis::cmd("INFO").arg("memory").query(&mut client).unwrap();
        info.lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap()
    };
    // Little room: filling it evicts a key with a TTL, and rate(40)'s is the only one.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used + 200_000)
        .query(&mut client)
        .unwrap();
    let filler = vec![b'x'; 10_000];
    let key = key_of_rate(&server, 40);
    let mut n = 0_u64;
    while redis::cmd("EXISTS")
        .arg(&key)
        .query::<bool>(&mut client)
        .unwrap()
    {
        // OOM once nothing evictable is left: the loop's check says why.
        let _ = redis::cmd("SET")
            .arg(format!("filler:{n}"))
            .arg(&filler)
            .query::<()>(&mut client);
        n += 1;
        assert!(n < 1_000_000, "never evicted");
    }
    within_bound("an evicted entry's copy is dropped", || rate(40) != first);
}

// ---------------------------------------------------------------------------------
// A lost connection never leaves a stale copy.
// ---------------------------------------------------------------------------------

fn kill_clients(server: &RedisServer, kind: &str) {
    let _: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg(kind)
        .arg("SKIPME")
        .arg("yes")
        .query(&mut server.client())
        .unwrap();
}

#[test]
fn a_killed_notification_connection_leaves_no_stale_copy() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let before = rate(50);
    kill_clients(&server, "pubsub");
    // While nobody listens: another client changes the entry.
    let _: () = redis::cmd("DEL")
        .arg(key_of_rate(&server, 50))
        .query(&mut server.client())
        .unwrap();
    eventually("no stale value after the connection came back", || {
        rate(50) != before
    });
    eventually("tracked again", || rate_redis_stats().coherent);
    // And invalidations reach it again.
    let now = rate(50);
    let _: () = redis::cmd("DEL")
        .arg(key_of_rate(&server, 50))
        .query(&mut server.client())
        .unwrap();
    within_bound("invalidations reach it again", || rate(50) != now);
}

#[test]
fn a_killed_link_connection_leaves_no_stale_copy() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let before = rate(51);
    // The tracked connection (the link's): its tracking goes with it.
    kill_clients(&server, "normal");
    let _: () = redis::cmd("DEL")
        .arg(key_of_rate(&server, 51))
        .query(&mut server.client())
        .unwrap();
    eventually("no stale value after the link came back", || {
        rate(51) != before
    });
    eventually("tracked again", || rate_redis_stats().coherent);
}

#[test]
fn a_restarted_server_leaves_no_stale_copy() {
    let _exclusive = exclusive();
    let mut server = RedisServer::start();
    connect(&server);
    let before = rate(60);
    assert_eq!(rate(60), before);
    server.restart(); // empty: the counter starts again, from 1
    let _: () = redis::cmd("SET")
        .arg("fleet-runs:rate")
        .arg(1000)
        .query(&mut server.client())
        .unwrap();
    eventually("the old copy is gone", || rate(60) > 1000);
    eventually("tracked again", || rate_redis_stats().coherent);
}

// ---------------------------------------------------------------------------------
// One computation per key across the fleet.
// ---------------------------------------------------------------------------------

fn burst_once(is_async: bool) {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mode = if is_async { "async" } else { "sync" };
    let mut workers: Vec<Worker> = (0..4).map(|_| Worker::start(&server)).collect();
    for worker in &mut workers {
        worker.ask(&format!("burst 77 8 {mode}"), "ready");
    }
    for worker in &mut workers {
        worker.send("go");
    }
    for worker in &mut workers {
        assert_eq!(worker.expect("values"), ["1"; 8].join(","));
    }
    let name = if is_async { "slow_async:77" } else { "slow:77" };
    assert_eq!(runs(&server, name), 1, "4 processes x 8 callers, one run");
}

#[test]
fn four_processes_of_eight_threads_compute_a_cold_key_once() {
    burst_once(false);
}

#[test]
fn four_processes_of_eight_async_tasks_compute_a_cold_key_once() {
    burst_once(true);
}

fn leader_killed(command: &str, name: &str) {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut leader = Worker::start(&server);
    let mut waiters: Vec<Worker> = (0..2).map(|_| Worker::start(&server)).collect();
    leader.send(&format!("{command} 3"));
    leader.expect("leading");
    for waiter in &mut waiters {
        waiter.send(&format!("{command} 3"));
    }
    // Both wait for the leader: nobody runs the body meanwhile.
    thread::sleep(Duration::from_millis(200));
    assert_eq!(runs(&server, name), 1);
    let killed = Instant::now();
    drop(leader); // SIGKILL, mid-computation
    for waiter in &mut waiters {
        assert_eq!(waiter.expect("value"), "2", "taken over once");
    }
    let took = killed.elapsed();
    println!("the leader's lease (1 s) expired and a waiter took over after {took:?}");
    assert!(took < Duration::from_secs(5), "a waiter hung: {took:?}");
    assert_eq!(runs(&server, name), 2);
}

#[test]
fn a_killed_leader_is_taken_over_after_its_lease() {
    leader_killed("abandoned", "abandoned:3");
}

#[test]
fn a_killed_async_leader_is_taken_over_after_its_lease() {
    leader_killed("abandoned_async", "abandoned_async:3");
}

#[test]
fn a_dead_redis_never_holds_a_waiter_past_the_timeout() {
    let _exclusive = exclusive();
    let mut server = RedisServer::start();
    connect(&server);
    let mut leader = Worker::start_with(&server, &[(STALL, "1")]);
    leader.send("stalled 8");
    leader.expect("leading");
    let waiting = Instant::now();
    let waiter = thread::spawn(|| stalled(8));
    // It waits for the leader (whose lease lasts 30 s)…
    thread::sleep(Duration::from_millis(300));
    assert!(
        !waiter.is_finished(),
        "a waiter computes while the lease is held"
    );
    // …until Redis dies: then it computes locally, at once.
    let killed = Instant::now();
    server.kill();
    assert_eq!(waiter.join().unwrap(), 9);
    let took = killed.elapsed();
    println!(
        "a waiter stopped waiting {took:?} after Redis died ({:?} in all)",
        waiting.elapsed()
    );
    assert!(took < Duration::from_secs(1), "held {took:?}");
}

static DEPTH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Calls itself once, with the same key, from inside its body.
#[ttl_cached(secs = 600, redis = true)]
fn reentrant(n: u64) -> u64 {
    if DEPTH.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
        reentrant(n) + 1
    } else {
        n
    }
}

#[test]
fn a_call_for_the_same_key_from_inside_the_body_does_not_wait_for_its_own_lease() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let started = Instant::now();
    assert_eq!(reentrant(4), 5);
    // The lease lasts 10 s: waiting for it would show.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_invalidation_made_while_redis_refuses_it_is_made_good_when_it_accepts_again() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut watcher = Worker::start(&server);
    let current = rate(70);
    watcher.send("watch 70");
    assert_eq!(watcher.expect("ready"), current.to_string());
    // Writes wait 1 s: the deletion times out, and is lost.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1_000)
        .arg("WRITE")
        .query(&mut server.client())
        .unwrap();
    rate_invalidate(70);
    // Once writes are accepted again, the link is back and moves rate's generation:
    // the watcher drops its copy, and the old entry is never read again.
    let changed = watcher.expect("changed");
    let (_, value) = changed.split_once(' ').unwrap();
    assert_ne!(value, current.to_string());
    assert_ne!(
        rate(70),
        current,
        "the old entry is not read again here either"
    );
}

#[test]
fn odd_keys_in_the_namespace_are_ignored() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let kept = rate(80);
    let mut client = server.client();
    for key in [
        &b"ttl-cached:"[..],
        b"ttl-cached:cache-tests:redis_fleet:rate",
        b"ttl-cached:cache-tests:redis_fleet:rate:1",
        b"ttl-cached:cache-tests:redis_fleet:rate:1:",
        b"ttl-cached:cache-tests:redis_fleet:rate:1:lease",
        b"ttl-cached:cache-tests:redis_fleet:rate:1:x:\x51",
        b"ttl-cached:cache-tests:redis_fleet:rate:1:12\xff",
        b"ttl-cached:\xff\xfe:\x00",
    ] {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(&b"\xffgarbage"[..])
            .query(&mut client)
            .unwrap();
    }
    // Still coherent, and the copy of rate(80) untouched: none of them was its entry.
    assert!(rate_redis_stats().coherent);
    assert_eq!(rate(80), kept);
    let hits = rate_redis_stats().in_process_hits;
    assert_eq!(rate(80), kept);
    assert_eq!(rate_redis_stats().in_process_hits, hits + 1);
    // And a real change still reaches it.
    let _: () = redis::cmd("DEL")
        .arg(key_of_rate(&server, 80))
        .query(&mut client)
        .unwrap();
    within_bound("a real change still counts", || rate(80) != kept);
}

#[test]
fn without_single_flight_no_process_waits_for_another() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut workers: Vec<Worker> = (0..2).map(|_| Worker::start(&server)).collect();
    for worker in &mut workers {
        worker.ask("burst 5 2 unshared", "ready");
    }
    for worker in &mut workers {
        worker.send("go");
    }
    for worker in &mut workers {
        assert_eq!(worker.expect("values"), "5,5");
    }
    // 2 processes x 2 threads, all missing at once, each computing: no lease taken.
    assert_eq!(runs(&server, "unshared:5"), 4);
    assert!(keys(&mut server.client(), "*:lease:*").is_empty());
}

#[ttl_cached(secs = 600, redis = true)]
fn unheard(n: u64) -> u64 {
    run(&format!("unheard:{n}"))
}

/// A user that may not subscribe (Redis 7's default for new ACL users): changes cannot
/// reach the process, so it keeps no copy, and serves what Redis holds now.
#[test]
fn without_notifications_nothing_is_kept_in_process_and_nothing_is_stale() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    let _: () = redis::cmd("ACL")
        .arg(
            [
                "SETUSER",
                "deaf",
                "on",
                ">secret",
                "~*",
                "+@all",
                "resetchannels",
            ]
            .as_slice(),
        )
        .query(&mut server.client())
        .unwrap();
    let url = server.url().replacen("redis://", "redis://deaf:secret@", 1);
    Config::new(&url)
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .unwrap();
    std::env::set_var(WORKER_URL, server.url());
    assert!(!unheard_redis_stats().coherent, "SUBSCRIBE is refused");
    let first = unheard(1);
    assert_eq!(unheard(1), first, "read from Redis");
    let stats = unheard_redis_stats();
    assert_eq!(
        (stats.computations, stats.redis_hits, stats.in_process_hits),
        (1, 1, 0),
        "nothing kept in-process"
    );
    // Another client deletes the entry: the next call computes again at once.
    let key = keys(&mut server.client(), "ttl-cached:*:unheard:*")
        .into_iter()
        .find(|key| !key.ends_with(b":gen"))
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(key)
        .query(&mut server.client())
        .unwrap();
    assert_ne!(unheard(1), first);
}

#[test]
fn a_refresh_in_one_process_is_what_the_others_serve_next() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut workers: Vec<Worker> = (0..2).map(|_| Worker::start(&server)).collect();
    let current = rate(11);
    for worker in &mut workers {
        worker.send("watch 11");
        assert_eq!(worker.expect("ready"), current.to_string());
    }
    let refreshed = rate_refresh(11);
    assert_ne!(refreshed, current);
    for worker in &mut workers {
        let changed = worker.expect("changed");
        let (_, value) = changed.split_once(' ').unwrap();
        assert_eq!(
            value,
            refreshed.to_string(),
            "the refreshed value, from Redis"
        );
    }
    assert_eq!(rate(11), refreshed);
}
