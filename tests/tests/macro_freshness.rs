//! The freshness options of `#[ttl_cached]` (issue 16): `ttl_from`. Every timing is on
//! a `MockClock` of the test's own, so that tests running in parallel never move each
//! other's time, and nothing sleeps.

use cache_core::{ttl_cached, MockClock};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

// ---------------------------------------------------------------------------------
// `ttl_from = path`
// ---------------------------------------------------------------------------------

/// A response that says how long it stays fresh, as an HTTP `max-age` does.
#[derive(Clone, Debug, PartialEq)]
struct Response {
    body: String,
    /// `None`: `no-store`.
    max_age: Option<u64>,
}

fn max_age(response: &Response) -> Option<Duration> {
    response.max_age.map(Duration::from_secs)
}

static FETCH_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static FETCH_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The URL says its own max-age: `"/a?30"` lives 30 s, `"/a"` is `no-store`.
fn respond(url: &str) -> Response {
    let max_age = url.split_once('?').and_then(|(_, age)| age.parse().ok());
    Response {
        body: format!("body of {url}"),
        max_age,
    }
}

#[ttl_cached(secs = 60, ttl_from = max_age, clock = FETCH_CLOCK.clone())]
fn fetch(url: &str) -> Response {
    FETCH_RUNS.fetch_add(1, Ordering::SeqCst);
    respond(url)
}

/// `Some(d)` shorter than the TTL: the value lives `d`, to the nanosecond; a longer
/// `d` is capped by the TTL; `None`: returned, never stored.
#[test]
fn ttl_from_decides_each_values_lifetime_under_the_ttl() {
    let runs = || FETCH_RUNS.load(Ordering::SeqCst);
    assert_eq!(fetch("/short?10").max_age, Some(10));
    assert_eq!(fetch("/long?600").max_age, Some(600));
    assert_eq!(
        fetch_cache().remaining_ttl(&("/short?10".to_owned(),)),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        fetch_cache().remaining_ttl(&("/long?600".to_owned(),)),
        Some(Duration::from_secs(60)),
        "capped by the TTL"
    );

    assert_eq!(fetch("/none").body, "body of /none", "the caller gets it");
    assert_eq!(fetch("/none").body, "body of /none");
    assert_eq!(
        runs(),
        4,
        "`None`: never stored, so each call runs the body"
    );
    assert_eq!(fetch_cache().get(&("/none".to_owned(),)), None);

    FETCH_CLOCK.advance(Duration::from_secs(10) - Duration::from_nanos(1));
    fetch("/short?10");
    assert_eq!(runs(), 4, "live until its own TTL");
    FETCH_CLOCK.advance(Duration::from_nanos(1));
    fetch("/short?10");
    assert_eq!(runs(), 5, "expired at 10 s");
    fetch("/long?600");
    assert_eq!(runs(), 5, "the capped one is live at 10 s");
    FETCH_CLOCK.advance(Duration::from_secs(50));
    fetch("/long?600");
    assert_eq!(runs(), 6, "and expired at the TTL, 60 s");
}

/// `_refresh` stores through the same rule.
#[ttl_cached(secs = 60, ttl_from = max_age, clock = MockClock::new())]
fn refreshed(url: &str) -> Response {
    respond(url)
}

#[test]
fn refresh_stores_for_ttl_from_too() {
    refreshed_refresh("/a?5");
    assert_eq!(
        refreshed_cache().remaining_ttl(&("/a?5".to_owned(),)),
        Some(Duration::from_secs(5))
    );
    refreshed_refresh("/b");
    assert!(refreshed_cache().get(&("/b".to_owned(),)).is_none());
}

static UNSHARED_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

/// Without single flight, callers store what they computed: through the same rule.
#[ttl_cached(secs = 60, ttl_from = max_age, single_flight = false, clock = UNSHARED_CLOCK.clone())]
fn unshared(url: &str) -> Response {
    respond(url)
}

#[test]
fn ttl_from_without_single_flight() {
    unshared("/a?5");
    unshared("/b");
    assert_eq!(
        unshared_cache().remaining_ttl(&("/a?5".to_owned(),)),
        Some(Duration::from_secs(5))
    );
    assert_eq!(unshared_cache().len(), 1, "`None` is not stored");
}

/// `ttl_from` sees every result, `Err` too; with `err_secs`, the shorter of the two
/// caps applies.
fn retry_after(result: &Result<u64, String>) -> Option<Duration> {
    match result {
        Ok(n) => Some(Duration::from_secs(*n)),
        Err(message) if message == "busy" => Some(Duration::from_secs(30)),
        Err(_) => None,
    }
}

#[ttl_cached(secs = 60, err_secs = 10, ttl_from = retry_after, clock = MockClock::new())]
fn lookup(input: &str) -> Result<u64, String> {
    input.parse().map_err(|_| input.to_owned())
}

#[test]
fn ttl_from_composes_with_err_secs() {
    let remaining = |input: &str| lookup_cache().remaining_ttl(&(input.to_owned(),));
    assert_eq!(lookup("20"), Ok(20));
    assert_eq!(remaining("20"), Some(Duration::from_secs(20)));
    assert_eq!(lookup("busy"), Err("busy".to_owned()));
    assert_eq!(
        remaining("busy"),
        Some(Duration::from_secs(10)),
        "`err_secs` caps what `ttl_from` allows"
    );
    assert_eq!(lookup("bad"), Err("bad".to_owned()));
    assert_eq!(remaining("bad"), None, "`ttl_from` said not to store it");
}

/// A `Result` whose `Ok` part alone is cached: `ttl_from` still takes the whole
/// `Result`.
fn ok_seconds(result: &Result<u64, String>) -> Option<Duration> {
    result.as_ref().ok().map(|n| Duration::from_secs(*n))
}

#[ttl_cached(secs = 60, ttl_from = ok_seconds, jitter = 0.5, clock = MockClock::new())]
fn jittered(input: &str) -> Result<u64, String> {
    input.parse().map_err(|_| input.to_owned())
}

#[test]
fn ttl_from_composes_with_jitter_and_never_lives_longer() {
    for n in 1..=40_u64 {
        jittered(&n.to_string()).unwrap();
        let remaining = jittered_cache()
            .remaining_ttl(&(n.to_string(),))
            .expect("stored");
        let own = Duration::from_secs(n);
        assert!(
            remaining <= own && remaining >= own / 2,
            "{n}: {remaining:?} outside [{:?}, {own:?}]",
            own / 2
        );
    }
}

static ASYNC_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60, ttl_from = max_age, clock = ASYNC_CLOCK.clone())]
async fn fetch_async(url: String) -> Response {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    respond(&url)
}

#[tokio::test]
async fn ttl_from_in_an_async_fn() {
    fetch_async("/a?5".to_owned()).await;
    fetch_async("/a?5".to_owned()).await;
    fetch_async("/b".to_owned()).await;
    fetch_async("/b".to_owned()).await;
    assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 3);
    ASYNC_CLOCK.advance(Duration::from_secs(5));
    fetch_async("/a?5".to_owned()).await;
    assert_eq!(
        ASYNC_RUNS.load(Ordering::SeqCst),
        4,
        "expired at its own 5 s"
    );
}
