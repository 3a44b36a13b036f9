//! `redis = true` when Redis fails: a wrong password, a server killed and restarted,
//! a paused server. No caller ever sees a Redis error or waits past the command
//! timeout; the cache serves locally, and shares again once Redis is back.

#![cfg(feature = "redis")]

#[path = "support/redis_server.rs"]
mod support;

use cache_core::redis::Config;
use cache_core::ttl_cached;
use std::thread;
use std::time::{Duration, Instant};
use support::{eventually, exclusive, keys, RedisServer};

/// The command timeout these tests configure.
const TIMEOUT: Duration = Duration::from_millis(100);
/// What a call may take beyond the timeout on a loaded 2-core machine: generous, and
/// still far below the seconds a call would take if it waited for a connection.
const MARGIN: Duration = Duration::from_millis(400);

#[ttl_cached(secs = 60, redis = true)]
fn guarded(n: u64) -> u64 {
    n * 3
}

#[test]
fn a_wrong_password_is_a_connect_error_and_the_process_runs_local_only() {
    let _exclusive = exclusive();
    let server = RedisServer::start_with(&["--requirepass", "right"]);
    let error = Config::new(&server.url_with_password("wrong"))
        .connect()
        .expect_err("a wrong password is refused");
    let message = error.to_string();
    assert!(
        message.contains("cannot connect to Redis at 127.0.0.1:"),
        "{message}"
    );
    assert!(
        !message.contains("wrong"),
        "the password is never shown: {message}"
    );

    assert_eq!(guarded(2), 6);
    assert_eq!(guarded(2), 6);
    let stats = guarded_redis_stats();
    assert!(!stats.redis_in_use);
    assert_eq!((stats.computations, stats.in_process_hits), (1, 1));
    assert_eq!((stats.redis_hits, stats.redis_errors), (0, 0));
}

#[ttl_cached(secs = 60, redis = true)]
fn through_outage(n: u64) -> u64 {
    n + 100
}

#[test]
fn a_killed_redis_fails_no_caller_delays_none_past_the_timeout_and_sharing_resumes() {
    let _exclusive = exclusive();
    let mut server = RedisServer::start();
    Config::new(&server.url())
        .command_timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .connect()
        .unwrap();
    assert_eq!(through_outage(0), 100);
    assert_eq!(keys(&mut server.client(), "*:through_outage:*").len(), 1);

    server.kill();
    // Four threads call new keys (each a miss that would go to Redis) for a while.
    let callers: Vec<_> = (0..4_u64)
        .map(|thread| {
            thread::spawn(move || {
                let mut slowest = Duration::ZERO;
                for i in 0..50 {
                    let n = 1 + thread * 1000 + i;
                    let started = Instant::now();
                    assert_eq!(through_outage(n), n + 100);
                    slowest = slowest.max(started.elapsed());
                }
                slowest
            })
        })
        .collect();
    for caller in callers {
        let slowest = caller.join().expect("no caller fails");
        assert!(slowest < TIMEOUT + MARGIN, "a call took {slowest:?}");
    }
    let stats = through_outage_redis_stats();
    assert!(!stats.redis_in_use);
    assert!(stats.redis_errors >= 1);
    assert!(stats.redis_errors <= 8, "the circuit opened: {stats:?}");

    server.restart();
    eventually("reconnected", || through_outage_redis_stats().redis_in_use);
    assert_eq!(through_outage(9_999), 10_099);
    assert_eq!(
        keys(&mut server.client(), "*:through_outage:*").len(),
        1,
        "written to the restarted server"
    );
}

#[ttl_cached(secs = 60, redis = true)]
fn while_paused(n: u64) -> u64 {
    n * 7
}

#[test]
fn a_paused_redis_is_waited_for_at_most_the_command_timeout() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    Config::new(&server.url())
        .command_timeout(TIMEOUT)
        .connect()
        .unwrap();
    assert_eq!(while_paused(1), 7);
    server.pause_clients(3000);
    let started = Instant::now();
    assert_eq!(while_paused(2), 14);
    let took = started.elapsed();
    assert!(took < TIMEOUT + MARGIN, "took {took:?}");
    assert!(took >= TIMEOUT, "it did wait for Redis: {took:?}");
    let stats = while_paused_redis_stats();
    // The read that timed out, and maybe the write after it, queued before the link
    // saw the timeout.
    assert!((1..=2).contains(&stats.redis_errors), "{stats:?}");
    assert!(!stats.redis_in_use, "the circuit is open");
    // With the circuit open, a miss does not wait at all.
    let started = Instant::now();
    assert_eq!(while_paused(3), 21);
    assert!(started.elapsed() < TIMEOUT, "took {:?}", started.elapsed());
}

#[ttl_cached(secs = 60, redis = true)]
fn after_flush(n: u64) -> u64 {
    n + 1
}

#[test]
fn scripts_the_server_lost_are_loaded_again() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    Config::new(&server.url())
        .command_timeout(TIMEOUT)
        .connect()
        .unwrap();
    assert_eq!(after_flush(1), 2);
    let mut client = server.client();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut client)
        .unwrap();
    assert_eq!(after_flush(2), 3, "NOSCRIPT: computed locally");
    assert!(after_flush_redis_stats().redis_errors >= 1);
    eventually("reconnected", || after_flush_redis_stats().redis_in_use);
    assert_eq!(after_flush(3), 4);
    eventually("written through the reloaded script", || {
        keys(&mut client, "*:after_flush:*").len() == 2
    });
}
