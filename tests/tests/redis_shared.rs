//! `redis = true` against a real redis-server: one memo shared by processes, keys,
//! TTLs, and untrusted data. Each test starts its own server (see `support`).

#![cfg(feature = "redis")]

#[path = "support/redis_server.rs"]
mod support;

use cache_core::redis::Config;
use cache_core::ttl_cached;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use support::{eventually, exclusive, keys, RedisServer};

fn connect(server: &RedisServer) {
    Config::new(&server.url())
        .connect()
        .expect("the test server answers");
}

// ---------------------------------------------------------------------------------
// Across processes: this test binary, run again with `--exact child_process` and the
// server's URL in the environment, is the other process.
// ---------------------------------------------------------------------------------

const CHILD_URL: &str = "TTL_CACHED_TEST_CHILD_URL";
const CHILD_NAMESPACE: &str = "TTL_CACHED_TEST_CHILD_NAMESPACE";
/// The namespace with which the child does not call `connect`, and relies on
/// `REDIS_URL` (which the parent sets to the server's URL).
const FROM_ENVIRONMENT: &str = "-";

#[ttl_cached(secs = 60, redis = true)]
fn shared_square(n: u64) -> u64 {
    n * n
}

/// The other process: connects, calls `shared_square(12)` once, prints what happened.
#[test]
fn child_process() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return; // run as a test of its own: nothing to do
    };
    let namespace = std::env::var(CHILD_NAMESPACE).unwrap_or_else(|_| "ttl-cached".into());
    if namespace != FROM_ENVIRONMENT {
        Config::new(&url).namespace(&namespace).connect().unwrap();
    }
    let value = shared_square(12);
    let stats = shared_square_redis_stats();
    println!(
        "CHILD value={value} computations={} redis_hits={}",
        stats.computations, stats.redis_hits
    );
}

/// Runs [`child_process`] in a new process: its (value, computations, Redis hits).
fn run_child(server: &RedisServer, namespace: &str) -> (u64, u64, u64) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, server.url())
        .env("REDIS_URL", server.url())
        .env(CHILD_NAMESPACE, namespace)
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stdout}");
    let line = stdout
        .lines()
        .find_map(|line| Some(line.split_once("CHILD ")?.1))
        .unwrap_or_else(|| panic!("no report from the child: {stdout}"));
    let field = |name: &str| -> u64 {
        line.split(' ')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    (field("value"), field("computations"), field("redis_hits"))
}

#[test]
fn a_value_computed_in_one_process_is_a_hit_in_another() {
    let server = RedisServer::start();
    assert_eq!(run_child(&server, "ttl-cached"), (144, 1, 0));
    assert_eq!(run_child(&server, "ttl-cached"), (144, 0, 1));
    assert_eq!(run_child(&server, "ttl-cached"), (144, 0, 1));
}

#[test]
fn without_connect_the_first_use_connects_to_redis_url() {
    let server = RedisServer::start();
    assert_eq!(run_child(&server, FROM_ENVIRONMENT), (144, 1, 0));
    assert_eq!(run_child(&server, "ttl-cached"), (144, 0, 1));
    assert_eq!(run_child(&server, FROM_ENVIRONMENT), (144, 0, 1));
}

#[test]
fn namespaces_keep_services_apart() {
    let server = RedisServer::start();
    assert_eq!(run_child(&server, "billing"), (144, 1, 0));
    assert_eq!(run_child(&server, "search"), (144, 1, 0));
    assert_eq!(run_child(&server, "billing"), (144, 0, 1));
    let mut client = server.client();
    assert_eq!(keys(&mut client, "billing:*").len(), 1);
    assert_eq!(keys(&mut client, "search:*").len(), 1);
}

// ---------------------------------------------------------------------------------
// In this process.
// ---------------------------------------------------------------------------------

static TTL_RUNS: AtomicU64 = AtomicU64::new(0);

#[ttl_cached(secs = 30, redis = true)]
fn ttl_in_redis(n: u64) -> u64 {
    TTL_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 1
}

#[test]
fn an_entry_lives_the_functions_ttl_in_redis_and_no_longer_in_process() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut client = server.client();
    assert_eq!(ttl_in_redis(1), 2);
    let found = keys(&mut client, "ttl-cached:*:ttl_in_redis:*");
    assert_eq!(found.len(), 1, "one key, with the function's name");
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&found[0])
        .query(&mut client)
        .unwrap();
    assert!((25_000..=30_000).contains(&pttl), "PTTL {pttl}");

    // Another process would read this entry with 2 s left: so does this one, once
    // its own copy is gone, and it keeps it no longer than that.
    let _: () = redis::cmd("PEXPIRE")
        .arg(&found[0])
        .arg(2_000)
        .query(&mut client)
        .unwrap();
    ttl_in_redis_cache().clear();
    // The PEXPIRE is news to this process too (it came from another client): a read
    // made before the news arrived is served but not kept, so read until it is kept.
    eventually("kept in-process", || {
        assert_eq!(ttl_in_redis(1), 2);
        ttl_in_redis_cache().remaining_ttl(&(1,)).is_some()
    });
    assert_eq!(TTL_RUNS.load(Ordering::SeqCst), 1, "served from Redis");
    let local = ttl_in_redis_cache()
        .remaining_ttl(&(1,))
        .expect("kept in-process");
    assert!(local <= Duration::from_secs(2), "in-process for {local:?}");
}

#[ttl_cached(secs = 30, err_secs = 2, redis = true)]
fn failing_in_redis(n: u64) -> Result<u64, String> {
    if n == 0 {
        Err("zero".to_owned())
    } else {
        Ok(n)
    }
}

/// `err_secs` with `redis = true`: an `Err` lives its shorter TTL in Redis too, a
/// success the function's.
#[test]
fn an_err_lives_err_secs_in_redis_and_a_success_the_ttl() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut client = server.client();
    assert_eq!(failing_in_redis(0), Err("zero".to_owned()));
    assert_eq!(failing_in_redis(5), Ok(5));
    let mut pttls: Vec<i64> = keys(&mut client, "ttl-cached:*:failing_in_redis:*")
        .iter()
        .filter(|key| !key.ends_with(b":gen"))
        .map(|key| redis::cmd("PTTL").arg(key).query(&mut client).unwrap())
        .collect();
    pttls.sort_unstable();
    assert_eq!(pttls.len(), 2, "both results stored: {pttls:?}");
    assert!(
        (1..=2_000).contains(&pttls[0]),
        "the Err: PTTL {}",
        pttls[0]
    );
    assert!(
        (25_000..=30_000).contains(&pttls[1]),
        "the Ok: PTTL {}",
        pttls[1]
    );
    let local = failing_in_redis_cache()
        .remaining_ttl(&(0,))
        .expect("the Err kept in-process");
    assert!(local <= Duration::from_secs(2), "in-process for {local:?}");
}

#[ttl_cached(secs = 60, redis = true)]
fn concat(a: &str, b: &str) -> String {
    format!("{a}|{b}")
}

#[test]
fn two_argument_tuples_never_share_an_entry() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    assert_eq!(concat("ab", "c"), "ab|c");
    assert_eq!(concat("a", "bc"), "a|bc");
    concat_cache().clear();
    assert_eq!(concat("ab", "c"), "ab|c");
    assert_eq!(concat("a", "bc"), "a|bc");
    let stats = concat_redis_stats();
    assert_eq!((stats.computations, stats.redis_hits), (2, 2));
    assert_eq!(keys(&mut server.client(), "*:concat:*").len(), 2);
}

#[ttl_cached(secs = 60, redis = true)]
fn label(n: u64) -> String {
    format!("label {n}")
}

#[ttl_cached(secs = 60, redis = true)]
fn count(n: u64) -> u64 {
    n
}

#[test]
fn garbage_or_another_builds_value_at_the_key_is_a_miss_deleted_and_counted() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut client = server.client();
    label(1);
    count(1);
    let label_key = keys(&mut client, "*:label:*").remove(0);
    let count_key = keys(&mut client, "*:count:*").remove(0);
    let count_value: Vec<u8> = redis::cmd("GET")
        .arg(&count_key)
        .query(&mut client)
        .unwrap();
    let poisons: [(&str, Poison<'_>); 4] = [
        (
            "garbage bytes",
            Box::new(|c| set(c, &label_key, b"\xff\x00garbage")),
        ),
        ("nothing", Box::new(|c| set(c, &label_key, b""))),
        // A `u64` in this crate's own envelope: decodes, but is not a `String`.
        (
            "another type's value",
            Box::new(|c| set(c, &label_key, &count_value)),
        ),
        (
            "a list",
            Box::new(|c| {
                let _: () = redis::cmd("DEL").arg(&label_key).query(c).unwrap();
                let _: () = redis::cmd("RPUSH")
                    .arg(&label_key)
                    .arg("x")
                    .query(c)
                    .unwrap();
            }),
        ),
    ];
    for (round, (what, poison)) in poisons.iter().enumerate() {
        poison(&mut client);
        label_cache().clear();
        assert_eq!(label(1), "label 1", "{what}");
        let stats = label_redis_stats();
        assert_eq!(stats.discarded_values, round as u64 + 1, "{what}");
        assert_eq!(stats.computations, round as u64 + 2, "{what}");
        // The recomputed value replaced the bad one.
        eventually("the good value is back", || {
            let stored: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&label_key)
                .query(&mut client)
                .unwrap_or(None);
            stored.is_some_and(|bytes| bytes.starts_with(b"tc1"))
        });
    }
}

/// Puts something bad at a key.
type Poison<'a> = Box<dyn Fn(&mut redis::Connection) + 'a>;

fn set(client: &mut redis::Connection, key: &[u8], value: &[u8]) {
    let _: () = redis::cmd("SET").arg(key).arg(value).query(client).unwrap();
}

#[ttl_cached(secs = 60, redis = true)]
fn big(n: usize) -> String {
    "x".repeat(n)
}

#[test]
fn a_value_over_the_size_limit_stays_local() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    Config::new(&server.url())
        .max_value_bytes(100)
        .connect()
        .unwrap();
    assert_eq!(big(10).len(), 10);
    assert_eq!(big(1_000).len(), 1_000);
    assert_eq!(big(1_000).len(), 1_000); // an in-process hit
    let stats = big_redis_stats();
    assert_eq!(stats.oversized_values, 1);
    assert_eq!(stats.in_process_hits, 1);
    assert_eq!(
        keys(&mut server.client(), "*:big:*").len(),
        1,
        "only the small one"
    );
}

#[ttl_cached(secs = 60, redis = true, version = 7)]
fn versioned(n: u64) -> u64 {
    n * 10
}

#[test]
fn the_version_is_part_of_the_key() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut client = server.client();
    versioned(1);
    let key = keys(&mut client, "*:versioned:*").remove(0);
    let text = String::from_utf8_lossy(&key).into_owned();
    assert!(
        text.starts_with("ttl-cached:cache-tests:redis_shared:versioned:7:0:"),
        "{text}"
    );
    // An entry of version 1 of the same function is not read.
    let value: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut client).unwrap();
    let old_key = text.replacen(":versioned:7:", ":versioned:1:", 1);
    let mut other: Vec<u8> = key.clone();
    other.truncate(0);
    other.extend_from_slice(old_key.as_bytes());
    set(&mut client, &other, &value);
    versioned_cache().clear();
    let _: () = redis::cmd("DEL").arg(&key).query(&mut client).unwrap();
    versioned(1);
    assert_eq!(versioned_redis_stats().computations, 2);
}

static HELPER_RUNS: AtomicU64 = AtomicU64::new(0);

#[ttl_cached(secs = 60, redis = true)]
fn helpers(n: u64) -> u64 {
    HELPER_RUNS.fetch_add(1, Ordering::SeqCst) + n * 1000
}

#[test]
fn invalidate_clear_and_refresh_act_on_both_levels() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut client = server.client();
    let stored = |client: &mut redis::Connection| keys(client, "*:helpers:*").len();
    assert_eq!(helpers(1), 1000);
    assert_eq!(stored(&mut client), 1);

    assert!(helpers_invalidate(1));
    eventually("the key is deleted", || stored(&mut client) == 0);
    assert_eq!(helpers(1), 1001, "computed again");

    helpers_clear();
    eventually("a new generation", || {
        let generation: Option<u64> = redis::cmd("GET")
            .arg("ttl-cached:cache-tests:redis_shared:helpers:1:gen")
            .query(&mut client)
            .unwrap();
        generation == Some(1)
    });
    assert_eq!(helpers(1), 1002, "the old generation's entry is not read");

    assert_eq!(helpers_refresh(1), 1003);
    helpers_cache().clear();
    assert_eq!(helpers(1), 1003, "the refreshed value, from Redis");
    assert_eq!(helpers_uncached(1), 1004);
    helpers_cache().clear();
    assert_eq!(helpers(1), 1003, "`_uncached` wrote nothing");
}

struct Repo {
    tenant: String,
}

impl Repo {
    #[ttl_cached(secs = 60, redis = true, key = (self.tenant.clone(), id), capacity = 100)]
    fn load(&self, id: u64) -> Result<String, String> {
        if id == 0 {
            return Err("no record 0".to_owned());
        }
        Ok(format!("{}/{id}", self.tenant))
    }
}

#[ttl_cached(secs = 60, redis = true, cache_none = true, single_flight = false)]
fn lookup(n: u64) -> Option<u64> {
    (n % 2 == 0).then_some(n / 2)
}

#[test]
fn methods_keys_results_options_capacity_and_no_single_flight_go_through_redis() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let repo = Repo {
        tenant: "acme".to_owned(),
    };
    assert_eq!(repo.load(7), Ok("acme/7".to_owned()));
    assert!(repo.load(0).is_err(), "an `Err` is not cached");
    Repo::load_cache().clear();
    assert_eq!(repo.load(7), Ok("acme/7".to_owned()));
    let stats = Repo::load_redis_stats();
    assert_eq!((stats.computations, stats.redis_hits), (2, 1));
    let mut client = server.client();
    let found = keys(&mut client, "*load*");
    assert_eq!(found.len(), 1, "only `Ok` is stored");
    let key = String::from_utf8_lossy(&found[0]).into_owned();
    assert!(
        key.contains(":Repo::load:1:0:"),
        "the type is in the key: {key}"
    );

    assert_eq!(lookup(3), None);
    assert_eq!(lookup(4), Some(2));
    lookup_cache().clear();
    assert_eq!(lookup(3), None, "`None` is cached with `cache_none`");
    assert_eq!(lookup(4), Some(2));
    let stats = lookup_redis_stats();
    assert_eq!((stats.computations, stats.redis_hits), (2, 2));
}

#[ttl_cached(secs = 30, redis = true, refresh = true)]
fn sliding(n: u64) -> u64 {
    n
}

#[test]
fn with_refresh_a_read_from_redis_slides_the_redis_entry() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut client = server.client();
    sliding(1);
    let key = keys(&mut client, "*:sliding:*").remove(0);
    let _: () = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(2_000)
        .query(&mut client)
        .unwrap();
    sliding_cache().clear();
    sliding(1);
    assert_eq!(sliding_redis_stats().redis_hits, 1);
    let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut client).unwrap();
    assert!(pttl > 25_000, "slid back to the full TTL: {pttl}");
}

#[ttl_cached(secs = 60, redis = true)]
fn through_url(n: u64) -> u64 {
    n
}

#[test]
fn unix_sockets_database_numbers_and_acl_users_are_urls_like_any_other() {
    let _exclusive = exclusive();
    let socket = std::env::temp_dir().join(format!("ttl-cached-test-{}.sock", std::process::id()));
    let socket_arg = socket.to_string_lossy().into_owned();
    let server = RedisServer::start_with(&["--unixsocket", &socket_arg, "--unixsocketperm", "700"]);
    let mut client = server.client();
    let _: () = redis::cmd("ACL")
        .arg(["SETUSER", "reader", "on", ">secret", "~*", "+@all"].as_slice())
        .query(&mut client)
        .unwrap();
    let port = server
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let urls = [
        (format!("redis+unix://{socket_arg}"), 0, 1),
        (format!("redis://127.0.0.1:{port}/3"), 3, 2),
        (format!("redis://reader:secret@127.0.0.1:{port}/"), 0, 3),
    ];
    for (url, database, n) in urls {
        Config::new(&url)
            .connect()
            .unwrap_or_else(|error| panic!("{url}: {error}"));
        assert_eq!(through_url(n), n);
        let _: () = redis::cmd("SELECT")
            .arg(database)
            .query(&mut client)
            .unwrap();
        let stored = keys(&mut client, "*:through_url:*");
        assert!(
            stored.iter().any(|key| key.ends_with(&[n as u8])),
            "{url}: no key for {n} in database {database}"
        );
    }
    let _ = std::fs::remove_file(&socket);
}

fn seconds_of(result: &Result<u64, String>) -> Option<std::time::Duration> {
    result.as_ref().ok().map(|n| Duration::from_secs(*n))
}

#[ttl_cached(secs = 30, ttl_from = seconds_of, redis = true)]
fn own_ttl_in_redis(n: u64) -> Result<u64, String> {
    if n == 0 {
        Err("zero".to_owned())
    } else {
        Ok(n)
    }
}

/// `ttl_from` with `redis = true`: the Redis entry gets the same capped TTL (`SET
/// PX`), and a result `ttl_from` says not to store is stored in neither level.
#[test]
fn ttl_from_sets_the_redis_ttl_too() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut client = server.client();
    assert_eq!(own_ttl_in_redis(3), Ok(3));
    assert_eq!(own_ttl_in_redis(600), Ok(600));
    assert!(own_ttl_in_redis(0).is_err());
    let mut pttls: Vec<i64> = keys(&mut client, "ttl-cached:*:own_ttl_in_redis:*")
        .iter()
        .filter(|key| !key.ends_with(b":gen"))
        .map(|key| redis::cmd("PTTL").arg(key).query(&mut client).unwrap())
        .collect();
    pttls.sort_unstable();
    assert_eq!(pttls.len(), 2, "the Err is not stored: {pttls:?}");
    assert!((1..=3_000).contains(&pttls[0]), "3 s: PTTL {}", pttls[0]);
    assert!(
        (25_000..=30_000).contains(&pttls[1]),
        "capped at 30 s: PTTL {}",
        pttls[1]
    );
    let local = own_ttl_in_redis_cache()
        .remaining_ttl(&(3,))
        .expect("kept in-process");
    assert!(local <= Duration::from_secs(3), "in-process for {local:?}");
}

static STALE_REDIS_CLOCK: std::sync::LazyLock<cache_core::MockClock> =
    std::sync::LazyLock::new(cache_core::MockClock::new);
static STALE_REDIS_UP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

#[ttl_cached(secs = 10, stale_if_error = 5, redis = true, clock = STALE_REDIS_CLOCK.clone())]
fn stale_in_redis(n: u64) -> Result<u64, String> {
    if STALE_REDIS_UP.load(Ordering::SeqCst) {
        Ok(n)
    } else {
        Err("down".to_owned())
    }
}

/// `stale_if_error` with `redis = true`: Redis is read first on a miss; when it has
/// nothing and the body fails, the `Ok` this process still keeps is served over it.
#[test]
fn stale_if_error_with_redis_serves_the_local_ok() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let mut client = server.client();
    assert_eq!(stale_in_redis(7), Ok(7));
    STALE_REDIS_UP.store(false, Ordering::SeqCst);
    STALE_REDIS_CLOCK.advance(Duration::from_secs(11));
    assert_eq!(stale_in_redis(7), Ok(7), "from Redis, which still has it");
    assert_eq!(stale_in_redis_redis_stats().redis_hits, 1);
    // Expired here again (the mock clock moves only this process's time), and Redis
    // loses it (its own TTL, an eviction, a flush): the body runs, and fails.
    STALE_REDIS_CLOCK.advance(Duration::from_secs(11));
    let _: () = redis::cmd("FLUSHALL").query(&mut client).unwrap();
    assert_eq!(
        stale_in_redis(7),
        Ok(7),
        "the local Ok, served over the error"
    );
    assert_eq!(stale_in_redis_cache().stats().errors_served_over, 1);
}

static SWR_REDIS_CLOCK: std::sync::LazyLock<cache_core::MockClock> =
    std::sync::LazyLock::new(cache_core::MockClock::new);
static SWR_REDIS_RUNS: AtomicU64 = AtomicU64::new(0);

#[ttl_cached(secs = 10, stale_while_revalidate = 5, redis = true, clock = SWR_REDIS_CLOCK.clone())]
fn revalidated_in_redis(n: u64) -> u64 {
    n * 100 + SWR_REDIS_RUNS.fetch_add(1, Ordering::SeqCst)
}

/// `stale_while_revalidate` with `redis = true`: staleness is this process's own (a
/// stale value is its in-process copy, past the TTL on its clock); the background
/// refresh runs the body and stores the new value in this process.
#[test]
fn stale_while_revalidate_with_redis_is_local() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    assert_eq!(revalidated_in_redis(1), 100);
    SWR_REDIS_CLOCK.advance(Duration::from_secs(11));
    assert_eq!(revalidated_in_redis(1), 100, "stale, at once");
    eventually("the refresh", || {
        revalidated_in_redis_cache().stats().refreshes_succeeded == 1
    });
    assert_eq!(revalidated_in_redis(1), 101);
}
