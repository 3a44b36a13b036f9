//! `Result` caches only `Ok` and `Option` only `Some`, unless `cache_err = true` /
//! `cache_none = true`. The error type need not be `Clone`.

use cache_core::ttl_cached;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Not `Clone`: only `Ok` values are stored, so that is fine.
#[derive(Debug, PartialEq)]
struct ParseFailure;

static PARSE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn parse(text: &str) -> Result<u64, ParseFailure> {
    PARSE_RUNS.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|_| ParseFailure)
}

#[test]
fn ok_is_cached_and_err_is_not() {
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(PARSE_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(parse("x"), Err(ParseFailure));
    assert_eq!(parse("x"), Err(ParseFailure));
    assert_eq!(
        PARSE_RUNS.load(Ordering::SeqCst),
        3,
        "each error runs the body"
    );
    assert_eq!(parse_cache().len(), 1);
    assert_eq!(
        parse_cache().get(&("12".to_owned(),)),
        Some(12),
        "the Ok value alone"
    );
}

static STRICT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60, cache_err = true)]
fn parse_strict(text: &str) -> Result<u64, String> {
    STRICT_RUNS.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|_| format!("not a number: {text}"))
}

#[test]
fn err_is_cached_with_cache_err() {
    assert!(parse_strict("x").is_err());
    assert_eq!(parse_strict("x"), Err("not a number: x".to_owned()));
    assert_eq!(STRICT_RUNS.load(Ordering::SeqCst), 1);
}

static FIND_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn find(id: u64) -> Option<String> {
    FIND_RUNS.fetch_add(1, Ordering::SeqCst);
    (id % 2 == 0).then(|| format!("user{id}"))
}

#[test]
fn some_is_cached_and_none_is_not() {
    assert_eq!(find(2), Some("user2".to_owned()));
    assert_eq!(find(2), Some("user2".to_owned()));
    assert_eq!(find(3), None);
    assert_eq!(find(3), None);
    assert_eq!(FIND_RUNS.load(Ordering::SeqCst), 3);
}

static FIND_ALL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60, cache_none = true)]
fn find_all(id: u64) -> Option<String> {
    FIND_ALL_RUNS.fetch_add(1, Ordering::SeqCst);
    (id % 2 == 0).then(|| format!("user{id}"))
}

#[test]
fn none_is_cached_with_cache_none() {
    assert_eq!(find_all(3), None);
    assert_eq!(find_all(3), None);
    assert_eq!(FIND_ALL_RUNS.load(Ordering::SeqCst), 1);
}

static READ_RUNS: AtomicUsize = AtomicUsize::new(0);

/// `io::Result<T>` is an alias whose last segment is `Result`: only `Ok` is cached.
#[ttl_cached(secs = 60)]
fn read_config(name: &str) -> io::Result<String> {
    READ_RUNS.fetch_add(1, Ordering::SeqCst);
    if name.is_empty() {
        Err(io::Error::new(io::ErrorKind::NotFound, "no name"))
    } else {
        Ok(format!("[{name}]"))
    }
}

#[test]
fn an_aliased_result_caches_only_ok() {
    assert!(read_config("").is_err());
    assert!(read_config("").is_err());
    assert_eq!(read_config("app").unwrap(), "[app]");
    assert_eq!(read_config("app").unwrap(), "[app]");
    assert_eq!(READ_RUNS.load(Ordering::SeqCst), 3);
}

type Lookup = Result<u64, String>;

static ALIAS_RUNS: AtomicUsize = AtomicUsize::new(0);

/// An alias with another name is a plain value: `Err` is cached too.
#[ttl_cached(secs = 60)]
fn lookup(id: u64) -> Lookup {
    ALIAS_RUNS.fetch_add(1, Ordering::SeqCst);
    Err(format!("{id} not found"))
}

#[test]
fn an_alias_with_another_name_is_a_plain_value() {
    assert!(lookup(1).is_err());
    assert!(lookup(1).is_err());
    assert_eq!(ALIAS_RUNS.load(Ordering::SeqCst), 1);
}

static NEGATIVE_CLOCK: std::sync::LazyLock<cache_core::MockClock> =
    std::sync::LazyLock::new(cache_core::MockClock::new);
static FLAKY_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static MAYBE_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[cache_core::ttl_cached(secs = 60, err_secs = 5, clock = NEGATIVE_CLOCK.clone())]
fn flaky(n: u32) -> Result<u32, String> {
    FLAKY_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if n % 2 == 0 {
        Ok(n)
    } else {
        Err(format!("{n} failed"))
    }
}

#[cache_core::ttl_cached(secs = 60, none_secs = 5, clock = NEGATIVE_CLOCK.clone())]
fn maybe(n: u32) -> Option<u32> {
    MAYBE_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    (n % 2 == 0).then_some(n)
}

/// `err_secs` / `none_secs`: failures are cached too (the upstream is not hammered),
/// for less time than successes (it recovers quickly).
#[test]
fn negative_results_are_cached_for_their_own_shorter_ttl() {
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::Duration;
    let runs = || (FLAKY_RUNS.load(SeqCst), MAYBE_RUNS.load(SeqCst));
    for _ in 0..3 {
        assert_eq!(flaky(2), Ok(2));
        assert_eq!(flaky(3), Err("3 failed".to_owned()));
        assert_eq!(maybe(2), Some(2));
        assert_eq!(maybe(3), None);
    }
    assert_eq!(runs(), (2, 2), "failures cached like successes");
    NEGATIVE_CLOCK.advance(Duration::from_secs(5) - Duration::from_nanos(1));
    let _ = flaky(3);
    maybe(3);
    assert_eq!(runs(), (2, 2), "within err_secs / none_secs");
    NEGATIVE_CLOCK.advance(Duration::from_nanos(1));
    let _ = flaky(2);
    let _ = flaky(3);
    maybe(2);
    maybe(3);
    assert_eq!(
        runs(),
        (3, 3),
        "the failures expired at 5 s, the successes did not"
    );
    NEGATIVE_CLOCK.advance(Duration::from_secs(55));
    let _ = flaky(2);
    maybe(2);
    assert_eq!(runs(), (4, 4), "the successes at 60 s");
}
