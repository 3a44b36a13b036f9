//! Redis as a second level (issue 14): `#[ttl_cached(redis = true)]` against cached's
//! Redis store (`#[concurrent_cached(redis = true)]`, an r2d2 pool that pings on every
//! checkout), on one `redis-server` the scenario starts on a free port of 127.0.0.1.
//!
//! Four figures: an in-process hit (ours only: cached's Redis store has no in-process
//! level; against a plain `#[ttl_cached]` hit); a hit served from Redis, a value another
//! *process* computed (this binary re-executed to fill the keys), on 1 thread and on 8;
//! and a call while Redis is down, once the first timeout has opened the circuit
//! (against a plain local miss).
//!
//! This module owns the server's lifetime: it kills it to measure the outage, and on
//! the way out. Without `redis-server` installed it reports nothing.

use cache_bench::measure::median_of;
use cache_bench::report::{Column, Measured, Ratios, Results, Unit};
use cache_bench::Role;
use cache_core::ttl_cached;
use cached::macros::concurrent_cached;
use std::hint::black_box;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::plan::Plan;

/// The environment variable that makes this binary a filler: `url first count`.
pub const FILL_ENV: &str = "COMPARE_REDIS_FILL";

/// Keys per timed round of Redis hits (each a round trip) on one thread.
const KEYS_PER_ROUND: u64 = 2_000;
/// Threads of the throughput figure.
const THREADS: usize = 8;
/// Hot keys of the in-process hit loop, and its calls per round.
const HOT_KEYS: u64 = 1_024;
const HIT_CALLS: u64 = 2_000_000;

/// The row labels.
pub const OURS: &str = "cache-core #[ttl_cached(redis = true)]";
pub const PEER: &str = "cached #[concurrent_cached(redis = true)]";
pub const LOCAL: &str = "cache-core #[ttl_cached] (no Redis)";

/// Columns.
pub const IN_PROCESS_HIT: usize = 0;
pub const REDIS_HIT: usize = 1;
pub const REDIS_HITS_8_THREADS: usize = 2;
pub const REDIS_DOWN_CALL: usize = 3;
pub const LOCAL_MISS: usize = 4;

#[ttl_cached(secs = 3600, redis = true)]
fn ours_shared(x: u64) -> u64 {
    black_box(x)
}

#[ttl_cached(secs = 3600)]
fn ours_local(x: u64) -> u64 {
    black_box(x)
}

/// cached's Redis store needs a `Result` for its store errors.
#[derive(Debug)]
struct StoreError(#[allow(dead_code)] String);

#[concurrent_cached(redis = true, ttl_secs = 3600, map_error = |e| StoreError(format!("{e:?}")))]
fn theirs_shared(x: u64) -> Result<u64, StoreError> {
    Ok(black_box(x))
}

/// Run by the re-executed binary: computes `ours_shared` for `count` keys from
/// `first`, so that the measuring process finds them in Redis and not in its own
/// memory.
pub fn fill(spec: &str) {
    let mut parts = spec.split(' ');
    let (Some(url), Some(first), Some(count)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("{FILL_ENV}: `url first count`, got {spec:?}");
    };
    let first: u64 = first.parse().expect("first key");
    let count: u64 = count.parse().expect("key count");
    connect(url);
    for key in first..first + count {
        ours_shared(key);
    }
    let stats = ours_shared_redis_stats();
    assert_eq!(
        stats.computations, count,
        "the filler computed every key: {stats:?}"
    );
}

fn connect(url: &str) {
    cache_core::redis::Config::new(url)
        .namespace("compare")
        .connect()
        .expect("the scenario's redis-server answers");
}

/// Keys `first..first + count` of `ours_shared`, computed in another process.
fn fill_in_another_process(url: &str, first: u64, count: u64) {
    let status = Command::new(std::env::current_exe().expect("this binary's path"))
        .env(FILL_ENV, format!("{url} {first} {count}"))
        .status()
        .expect("the filler runs");
    assert!(status.success(), "the filler failed");
}

/// A `redis-server` of the scenario's own (the fleet scenario's too), killed when
/// dropped.
pub struct Server {
    pub url: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a `redis-server` on a free port of 127.0.0.1 (no persistence), and waits
/// until it answers; `None` if it is not installed or does not start in 10 s.
pub fn start_server() -> Option<Server> {
    let port = TcpListener::bind(("127.0.0.1", 0))
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let server = Server {
        url: format!("redis://127.0.0.1:{port}/"),
        child,
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(server)
}

/// Nanoseconds per call of `call` over `keys`, once each.
fn per_call(keys: std::ops::Range<u64>, mut call: impl FnMut(u64)) -> f64 {
    let count = keys.end - keys.start;
    let started = Instant::now();
    for key in keys {
        call(key);
    }
    started.elapsed().as_nanos() as f64 / count as f64
}

/// Calls per second of `THREADS` threads, each calling `call` once on its own keys.
fn throughput(first: u64, per_thread: u64, call: impl Fn(u64) + Sync) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..THREADS as u64 {
            let call = &call;
            scope.spawn(move || {
                let from = first + thread * per_thread;
                for key in from..from + per_thread {
                    call(key);
                }
            });
        }
    });
    (THREADS as u64 * per_thread) as f64 / started.elapsed().as_secs_f64()
}

/// Runs the scenario, or says why it did not.
pub fn run(plan: &Plan) -> Results {
    let columns = vec![
        Column::new("in-process hit, ns", Unit::Nanos, Ratios::Inline),
        Column::new("hit from Redis, ns", Unit::Nanos, Ratios::Inline),
        Column::new(
            "hits from Redis, 8 threads, k calls/s",
            Unit::Count,
            Ratios::None,
        ),
        Column::new("call with Redis down, ns", Unit::Nanos, Ratios::Inline),
        Column::new("local miss, ns", Unit::Nanos, Ratios::Inline),
    ];
    let mut results = Results::new("Redis as a second level (issue 14)", columns);
    let Some(server) = start_server() else {
        results.notes.push(
            "Not run: `redis-server` is not installed (apt-get install redis-server).".to_owned(),
        );
        return results;
    };
    connect(&server.url);
    // cached's Redis store reads its URL from the environment on first use. (Set before
    // any thread of this scenario calls it.)
    std::env::set_var("CACHED_REDIS_CONNECTION_STRING", &server.url);
    let rounds = plan.rounds;
    let keys = if plan.quick {
        KEYS_PER_ROUND / 4
    } else {
        KEYS_PER_ROUND
    };
    let hit_calls = if plan.quick { HIT_CALLS / 4 } else { HIT_CALLS };

    // In-process hits: the same hot keys, again and again.
    for key in 0..HOT_KEYS {
        ours_shared(key);
        ours_local(key);
    }
    let hit = |call: &dyn Fn(u64) -> u64| {
        median_of(rounds, || {
            let started = Instant::now();
            for index in 0..hit_calls {
                black_box(call(black_box(index % HOT_KEYS)));
            }
            started.elapsed().as_nanos() as f64 / hit_calls as f64
        })
    };
    let ours_hit = hit(&ours_shared);
    let local_hit = hit(&ours_local);

    // Hits from Redis: each round's keys were computed by another process.
    let mut next_key = 1_000_000;
    let mut ours_redis_hit = Vec::new();
    let mut theirs_redis_hit = Vec::new();
    for _ in 0..rounds {
        fill_in_another_process(&server.url, next_key, keys);
        ours_redis_hit.push(per_call(next_key..next_key + keys, |key| {
            black_box(ours_shared(key));
        }));
        // cached: the first call of a key stores it; the timed second one reads it.
        for key in next_key..next_key + keys {
            let _ = theirs_shared(key);
        }
        theirs_redis_hit.push(per_call(next_key..next_key + keys, |key| {
            let _ = black_box(theirs_shared(key));
        }));
        next_key += keys;
    }
    let per_thread = keys / 2;
    let mut ours_8 = Vec::new();
    let mut theirs_8 = Vec::new();
    for _ in 0..rounds {
        let total = per_thread * THREADS as u64;
        fill_in_another_process(&server.url, next_key, total);
        ours_8.push(throughput(next_key, per_thread, |key| {
            black_box(ours_shared(key));
        }));
        for key in next_key..next_key + total {
            let _ = theirs_shared(key);
        }
        theirs_8.push(throughput(next_key, per_thread, |key| {
            let _ = black_box(theirs_shared(key));
        }));
        next_key += total;
    }
    let stats = ours_shared_redis_stats();

    // Redis down: the first call waits for the command timeout and opens the circuit;
    // the calls after it are local misses plus the circuit's check.
    drop(server);
    let first_call = Instant::now();
    ours_shared(next_key);
    let first_call = first_call.elapsed();
    next_key += 1;
    let mut down = Vec::new();
    let mut local_miss = Vec::new();
    for _ in 0..rounds {
        down.push(per_call(next_key..next_key + keys, |key| {
            black_box(ours_shared(key));
        }));
        local_miss.push(per_call(next_key..next_key + keys, |key| {
            black_box(ours_local(key));
        }));
        next_key += keys;
    }
    let median = cache_bench::measure::median;
    results.rows = vec![
        Measured {
            name: OURS,
            role: Role::Ours,
            figures: vec![
                Some(ours_hit),
                Some(median(ours_redis_hit)),
                Some(median(ours_8) / 1e3),
                Some(median(down)),
                None,
            ],
        },
        Measured {
            name: PEER,
            role: Role::Peer,
            figures: vec![
                None,
                Some(median(theirs_redis_hit)),
                Some(median(theirs_8) / 1e3),
                None,
                None,
            ],
        },
        Measured {
            name: LOCAL,
            role: Role::Peer,
            figures: vec![Some(local_hit), None, None, None, Some(median(local_miss))],
        },
    ];
    results.notes.push(format!(
        "One `redis-server` on 127.0.0.1 (no persistence), started by the scenario. \
         In-process hit: {HOT_KEYS} hot `u64` keys called again and again (ns per call). \
         Hit from Redis: {keys} keys per round computed by another process (this binary \
         re-executed), each then called once here (ours: in-process miss, one round trip; \
         cached: every call goes to Redis, after an r2d2 checkout that pings). {THREADS} \
         threads: each calls {per_thread} such keys of its own. Redis down: the server is \
         killed; the first call took {:.0} ms (the command timeout, 100 ms, opens the \
         circuit); then {keys} new keys per round (ns per call), against the same calls of \
         a plain `#[ttl_cached]` function (a local miss). Median of {rounds} rounds. Our \
         function's Redis stats after the hits: {} from Redis, {} computed here, {} Redis \
         errors.",
        first_call.as_secs_f64() * 1e3,
        stats.redis_hits,
        stats.computations,
        stats.redis_errors,
    ));
    results
}
