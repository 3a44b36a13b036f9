//! The freshness options of `#[ttl_cached]` (issue 16): `ttl_from`, `stale_if_error`,
//! `stale_while_revalidate`. Every timing is on a `MockClock` of the test's own, so
//! that tests running in parallel never move each other's time; nothing sleeps to
//! make time pass (background refreshes are waited for, with a cap).

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

// ---------------------------------------------------------------------------------
// `stale_if_error = N`
// ---------------------------------------------------------------------------------

/// An upstream that is up or down, and what it answers when up.
struct Upstream {
    up: std::sync::atomic::AtomicBool,
    version: std::sync::atomic::AtomicU64,
}

impl Upstream {
    const fn new() -> Self {
        Upstream {
            up: std::sync::atomic::AtomicBool::new(true),
            version: std::sync::atomic::AtomicU64::new(1),
        }
    }

    fn call(&self, item: u32) -> Result<u64, String> {
        if self.up.load(Ordering::SeqCst) {
            Ok(u64::from(item) * 100 + self.version.load(Ordering::SeqCst))
        } else {
            Err(format!("upstream down, item {item}"))
        }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

static PRICES: Upstream = Upstream::new();
static PRICE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

#[ttl_cached(secs = 10, stale_if_error = 5, clock = PRICE_CLOCK.clone())]
fn price(item: u32) -> Result<u64, String> {
    PRICES.call(item)
}

/// From the TTL to TTL + N (exclusive), an `Err` is answered with the expired `Ok`;
/// every other lookup treats the entry as expired; from TTL + N on, the `Err` is the
/// answer.
#[test]
fn stale_if_error_serves_the_expired_ok_over_an_error_within_its_window() {
    let served_over = || price_cache().stats().errors_served_over;
    assert_eq!(price(1), Ok(101));
    PRICES.set_up(false);
    assert_eq!(price(1), Ok(101), "live: a hit, the body does not run");
    assert_eq!(served_over(), 0);

    PRICE_CLOCK.advance(Duration::from_secs(10));
    assert_eq!(price_cache().get(&(1,)), None, "expired for other lookups");
    assert_eq!(price(1), Ok(101), "at the TTL: the error is served over");
    assert_eq!(served_over(), 1);
    assert_eq!(price_cache().stats().computations, 2, "the body did run");

    PRICE_CLOCK.advance(Duration::from_secs(5) - Duration::from_nanos(1));
    assert_eq!(price(1), Ok(101), "just inside TTL + 5 s");
    assert_eq!(served_over(), 2);

    PRICE_CLOCK.advance(Duration::from_nanos(1));
    assert_eq!(
        price(1),
        Err("upstream down, item 1".to_owned()),
        "at TTL + 5 s exactly: the error"
    );
    assert_eq!(served_over(), 2);
    assert_eq!(
        price(2),
        Err("upstream down, item 2".to_owned()),
        "no Ok ever"
    );

    PRICES.set_up(true);
    assert_eq!(price(1), Ok(101), "recovered: computed again");
    assert_eq!(price_cache().stats().computations, 6);
}

static FRESH_PRICES: Upstream = Upstream::new();
static FRESH_PRICE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

#[ttl_cached(secs = 10, stale_if_error = 5, clock = FRESH_PRICE_CLOCK.clone())]
fn fresh_price(item: u32) -> Result<u64, String> {
    FRESH_PRICES.call(item)
}

/// Within the window, an `Ok` from the body is returned and stored as usual.
#[test]
fn stale_if_error_returns_a_new_ok_as_usual() {
    assert_eq!(fresh_price(1), Ok(101));
    FRESH_PRICES.version.store(2, Ordering::SeqCst);
    FRESH_PRICE_CLOCK.advance(Duration::from_secs(12));
    assert_eq!(fresh_price(1), Ok(102));
    assert_eq!(fresh_price_cache().get(&(1,)), Some(102));
    assert_eq!(fresh_price_cache().stats().errors_served_over, 0);
}

static NEGATIVE_PRICES: Upstream = Upstream::new();
static NEGATIVE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

/// With `err_secs`, an error is cached, unless an `Ok` is served over it (then the
/// `Ok` stays, for the rest of its window).
#[ttl_cached(secs = 10, err_secs = 2, stale_if_error = 5, clock = NEGATIVE_CLOCK.clone())]
fn negative_price(item: u32) -> Result<u64, String> {
    NEGATIVE_PRICES.call(item)
}

#[test]
fn stale_if_error_composes_with_err_secs() {
    let runs = || negative_price_cache().stats().computations;
    assert_eq!(negative_price(1), Ok(101));
    NEGATIVE_PRICES.set_up(false);
    NEGATIVE_CLOCK.advance(Duration::from_secs(11));
    assert_eq!(negative_price(1), Ok(101), "served over");
    assert_eq!(
        negative_price(1),
        Ok(101),
        "served over again: the Err was not stored"
    );
    assert_eq!(runs(), 3);
    NEGATIVE_CLOCK.advance(Duration::from_secs(4));
    assert!(negative_price(1).is_err(), "past the window");
    assert!(negative_price(1).is_err());
    assert_eq!(runs(), 4, "that error is cached, for `err_secs`");
    assert_eq!(
        negative_price_cache().remaining_ttl(&(1,)),
        Some(Duration::from_secs(2))
    );
    assert_eq!(negative_price_cache().stats().errors_served_over, 2);
}

static UNSHARED_PRICES: Upstream = Upstream::new();
static UNSHARED_PRICE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

#[ttl_cached(
    secs = 10,
    stale_if_error = 5,
    single_flight = false,
    capacity = 100,
    jitter = 0.5,
    clock = UNSHARED_PRICE_CLOCK.clone()
)]
fn unshared_price(item: u32) -> Result<u64, String> {
    UNSHARED_PRICES.call(item)
}

/// Without single flight, with a capacity and jitter: the same.
#[test]
fn stale_if_error_without_single_flight() {
    assert_eq!(unshared_price(1), Ok(101));
    UNSHARED_PRICES.set_up(false);
    // Jittered: the entry expired somewhere in [5 s, 10 s]; at 10 s it has.
    UNSHARED_PRICE_CLOCK.advance(Duration::from_secs(10));
    assert_eq!(unshared_price_cache().get(&(1,)), None);
    assert_eq!(unshared_price(1), Ok(101));
    UNSHARED_PRICE_CLOCK.advance(Duration::from_secs(5));
    assert!(
        unshared_price(1).is_err(),
        "past 10 s + 5 s, whatever the jitter"
    );
    assert_eq!(unshared_price_cache().stats().errors_served_over, 1);
}

static ASYNC_PRICES: Upstream = Upstream::new();
static ASYNC_PRICE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

#[ttl_cached(secs = 10, stale_if_error = 5, clock = ASYNC_PRICE_CLOCK.clone())]
async fn async_price(item: u32) -> Result<u64, String> {
    tokio::task::yield_now().await;
    ASYNC_PRICES.call(item)
}

#[tokio::test]
async fn stale_if_error_in_an_async_fn() {
    assert_eq!(async_price(1).await, Ok(101));
    ASYNC_PRICES.set_up(false);
    ASYNC_PRICE_CLOCK.advance(Duration::from_secs(14));
    assert_eq!(async_price(1).await, Ok(101));
    ASYNC_PRICE_CLOCK.advance(Duration::from_secs(1));
    assert!(async_price(1).await.is_err());
    assert_eq!(async_price_cache().stats().errors_served_over, 1);
}

static WHOLE_PRICES: Upstream = Upstream::new();
static WHOLE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

/// With `cache_err = true`, a stored `Err` is never served over an error: only `Ok`.
#[ttl_cached(secs = 10, cache_err = true, stale_if_error = 5, clock = WHOLE_CLOCK.clone())]
fn whole_price(item: u32) -> Result<u64, String> {
    WHOLE_PRICES.call(item)
}

#[test]
fn stale_if_error_serves_only_an_ok() {
    WHOLE_PRICES.set_up(false);
    assert!(whole_price(1).is_err());
    WHOLE_CLOCK.advance(Duration::from_secs(11));
    assert!(whole_price(1).is_err(), "the stale value was an Err");
    assert_eq!(whole_price_cache().stats().errors_served_over, 0);
    WHOLE_PRICES.set_up(true);
    WHOLE_CLOCK.advance(Duration::from_secs(10));
    assert_eq!(whole_price(1), Ok(101));
    WHOLE_PRICES.set_up(false);
    WHOLE_CLOCK.advance(Duration::from_secs(10));
    assert_eq!(whole_price(1), Ok(101), "a stale Ok is");
    assert_eq!(whole_price_cache().stats().errors_served_over, 1);
}

static KEYED_PRICES: Upstream = Upstream::new();
static KEYED_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

struct Shop {
    id: u32,
}

impl Shop {
    /// A method, its key an expression, with `ttl_from` and `stale_if_error` both.
    #[ttl_cached(
        secs = 10,
        key = (self.id, item),
        stale_if_error = 5,
        ttl_from = ok_seconds,
        clock = KEYED_CLOCK.clone()
    )]
    fn price(&self, item: u32) -> Result<u64, String> {
        KEYED_PRICES.call(self.id * 10 + item)
    }
}

#[test]
fn both_options_on_a_method_with_a_key_expression() {
    let shop = Shop { id: 0 };
    // `ok_seconds`: the value's own TTL is its number of seconds, 101 > 10.
    assert_eq!(shop.price(1), Ok(101));
    KEYED_PRICES.set_up(false);
    KEYED_CLOCK.advance(Duration::from_secs(12));
    assert_eq!(shop.price(1), Ok(101));
    assert_eq!(Shop::price_cache().stats().errors_served_over, 1);
}

static BODY_PRICES: Upstream = Upstream::new();
static BODY_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);

/// `helpers = "none"`: everything is inside the body.
#[ttl_cached(secs = 10, stale_if_error = 5, helpers = "none", clock = BODY_CLOCK.clone())]
fn body_price(item: u32) -> Result<u64, String> {
    BODY_PRICES.call(item)
}

#[test]
fn stale_if_error_with_everything_in_the_body() {
    assert_eq!(body_price(1), Ok(101));
    BODY_PRICES.set_up(false);
    BODY_CLOCK.advance(Duration::from_secs(12));
    assert_eq!(body_price(1), Ok(101));
    BODY_CLOCK.advance(Duration::from_secs(3));
    assert!(body_price(1).is_err());
}

// ---------------------------------------------------------------------------------
// `stale_while_revalidate = N`
// ---------------------------------------------------------------------------------

/// Waits until `done` holds, for at most 10 s: background refreshes run on the
/// refresh pool's threads.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A gate that a body waits at (for at most 10 s) until the test opens it: keeps a
/// refresh running while the test looks.
struct Gate {
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Gate {
    const fn new() -> Self {
        Gate {
            open: std::sync::Mutex::new(false),
            opened: std::sync::Condvar::new(),
        }
    }

    fn set(&self, open: bool) {
        *self.open.lock().unwrap() = open;
        self.opened.notify_all();
    }

    fn pass(&self) {
        let open = self.open.lock().unwrap();
        let (open, timeout) = self
            .opened
            .wait_timeout_while(open, Duration::from_secs(10), |open| !*open)
            .unwrap();
        assert!(*open && !timeout.timed_out(), "the gate stayed closed");
    }
}

static RATE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static RATE_VERSION: AtomicUsize = AtomicUsize::new(1);
static RATE_GATE: Gate = Gate::new();

/// The rate of a currency, version by version; runs past the gate.
#[ttl_cached(secs = 10, stale_while_revalidate = 5, clock = RATE_CLOCK.clone())]
fn rate(currency: String) -> String {
    RATE_GATE.pass();
    format!("{currency} v{}", RATE_VERSION.load(Ordering::SeqCst))
}

/// Live until the TTL; from the TTL to TTL + N (exclusive), the old value at once and
/// one refresh; at TTL + N exactly, an ordinary miss.
#[test]
fn stale_while_revalidate_window_edges_are_exact() {
    RATE_GATE.set(true);
    let eur = || rate("EUR".to_owned());
    let stats = || rate_cache().stats();
    assert_eq!(eur(), "EUR v1");
    RATE_VERSION.store(2, Ordering::SeqCst);
    RATE_CLOCK.advance(Duration::from_secs(10) - Duration::from_nanos(1));
    assert_eq!(eur(), "EUR v1", "fresh");
    assert_eq!(stats().refreshes_started, 0);

    // At the TTL: expired for every other lookup, served stale here.
    RATE_GATE.set(false);
    RATE_CLOCK.advance(Duration::from_nanos(1));
    assert_eq!(rate_cache().get(&("EUR".to_owned(),)), None);
    assert_eq!(
        eur(),
        "EUR v1",
        "stale, at once (the refresh waits at the gate)"
    );
    assert_eq!((stats().stale_hits, stats().refreshes_started), (1, 1));
    RATE_CLOCK.advance(Duration::from_secs(5) - Duration::from_nanos(1));
    assert_eq!(
        eur(),
        "EUR v1",
        "just inside TTL + 5 s: stale, no second refresh"
    );
    assert_eq!((stats().stale_hits, stats().refreshes_started), (2, 1));
    RATE_GATE.set(true);
    wait_for("the refresh", || stats().refreshes_succeeded == 1);
    assert_eq!(eur(), "EUR v2", "the refreshed value");
    assert_eq!(stats().hits, 2);

    // The refreshed value lives its own TTL, from when it landed; at its TTL + 5 s
    // exactly, it is an ordinary miss, computed by the caller.
    RATE_VERSION.store(3, Ordering::SeqCst);
    RATE_CLOCK.advance(Duration::from_secs(15));
    let misses = stats().misses;
    assert_eq!(eur(), "EUR v3", "computed here, not served stale");
    assert_eq!(stats().misses, misses + 1);
    assert_eq!(stats().refreshes_started, 1);
}

static QUOTE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static QUOTE_RUNS: AtomicUsize = AtomicUsize::new(0);
static QUOTE_GATE: Gate = Gate::new();

#[ttl_cached(secs = 10, stale_while_revalidate = 30, clock = QUOTE_CLOCK.clone())]
fn stock_quote(symbol: String) -> u64 {
    let run = QUOTE_RUNS.fetch_add(1, Ordering::SeqCst);
    if run > 0 {
        QUOTE_GATE.pass();
    }
    symbol.len() as u64 * 100 + run as u64
}

/// 16 callers that find one key stale at once: each gets the stale value at once, and
/// the body runs once, in one background refresh.
#[test]
fn sixteen_concurrent_stale_callers_start_exactly_one_refresh() {
    assert_eq!(stock_quote("ACME".to_owned()), 400);
    QUOTE_CLOCK.advance(Duration::from_secs(11));
    let start = std::sync::Barrier::new(16);
    let served: Vec<u64> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    stock_quote("ACME".to_owned())
                })
            })
            .collect();
        callers
            .into_iter()
            .map(|caller| caller.join().unwrap())
            .collect()
    });
    assert_eq!(served, vec![400; 16], "all stale, none waited");
    let stats = stock_quote_cache().stats();
    assert_eq!((stats.stale_hits, stats.refreshes_started), (16, 1));
    QUOTE_GATE.set(true);
    wait_for("the refresh", || {
        stock_quote_cache().stats().refreshes_succeeded == 1
    });
    assert_eq!(
        QUOTE_RUNS.load(Ordering::SeqCst),
        2,
        "one refresh ran the body"
    );
    assert_eq!(stock_quote("ACME".to_owned()), 401);
}

static FLAKY_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The first run succeeds; then a panic, then an `Err`, then a success.
#[ttl_cached(secs = 10, stale_while_revalidate = 5, clock = FLAKY_CLOCK.clone())]
fn flaky(id: u32) -> Result<String, String> {
    match FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) {
        0 => Ok(format!("{id} v1")),
        1 => panic!("the refresh of {id} panics"),
        2 => Err(format!("{id} unavailable")),
        _ => Ok(format!("{id} v2")),
    }
}

/// A refresh that panics or returns `Err` leaves the stale value in place, and is
/// counted; a later stale call starts another refresh.
#[test]
fn a_failed_refresh_leaves_the_stale_value_and_is_counted() {
    let stats = || flaky_cache().stats();
    assert_eq!(flaky(1), Ok("1 v1".to_owned()));
    FLAKY_CLOCK.advance(Duration::from_secs(10));
    assert_eq!(flaky(1), Ok("1 v1".to_owned()), "stale; the refresh panics");
    wait_for("the panicking refresh", || stats().refreshes_failed == 1);
    assert_eq!(
        flaky(1),
        Ok("1 v1".to_owned()),
        "still stale; this refresh errs"
    );
    wait_for("the failing refresh", || stats().refreshes_failed == 2);
    assert_eq!(stats().refreshes_succeeded, 0);
    assert_eq!(
        flaky(1),
        Ok("1 v1".to_owned()),
        "still stale; this one succeeds"
    );
    wait_for("the third refresh", || stats().refreshes_succeeded == 1);
    assert_eq!(flaky(1), Ok("1 v2".to_owned()));
    assert_eq!(stats().refreshes_started, 3);
}

static BOTH_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static BOTH_PRICES: Upstream = Upstream::new();

/// Both stale options, with different windows: stale while revalidating for 5 s past
/// the TTL, and served over an error for 20 s.
#[ttl_cached(
    secs = 10,
    stale_while_revalidate = 5,
    stale_if_error = 20,
    err_secs = 1,
    capacity = 10,
    clock = BOTH_CLOCK.clone()
)]
fn both(item: u32) -> Result<u64, String> {
    BOTH_PRICES.call(item)
}

#[test]
fn stale_while_revalidate_and_stale_if_error_together() {
    let stats = || both_cache().stats();
    assert_eq!(both(1), Ok(101));
    BOTH_PRICES.set_up(false);
    BOTH_CLOCK.advance(Duration::from_secs(12));
    assert_eq!(both(1), Ok(101), "stale while revalidating");
    wait_for("the failed refresh", || stats().refreshes_failed == 1);
    BOTH_CLOCK.advance(Duration::from_secs(4));
    assert_eq!(
        both(1),
        Ok(101),
        "past the revalidate window: served over the Err"
    );
    assert_eq!(stats().errors_served_over, 1);
    assert_eq!(stats().refreshes_started, 1, "no refresh past its window");
    BOTH_CLOCK.advance(Duration::from_secs(14));
    assert!(both(1).is_err(), "past both windows");
}

/// `key = expr`, `single_flight = false`, `helpers = "none"` and `ttl_from`: the
/// same behaviour.
fn always_ten(_: &String) -> Option<Duration> {
    Some(Duration::from_secs(10))
}

static KEYED_SWR_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static KEYED_SWR_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(
    secs = 60,
    key = region.clone(),
    stale_while_revalidate = 5,
    single_flight = false,
    ttl_from = always_ten,
    jitter = 0.1,
    helpers = "none",
    clock = KEYED_SWR_CLOCK.clone()
)]
fn banner(region: String, _request_id: u64) -> String {
    let run = KEYED_SWR_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{region} #{run}")
}

#[test]
fn stale_while_revalidate_with_a_key_expression_and_no_helpers() {
    assert_eq!(banner("eu".to_owned(), 1), "eu #0");
    assert_eq!(banner("eu".to_owned(), 2), "eu #0", "same key");
    KEYED_SWR_CLOCK.advance(Duration::from_secs(10));
    assert_eq!(banner("eu".to_owned(), 3), "eu #0", "stale");
    wait_for("the refresh", || KEYED_SWR_RUNS.load(Ordering::SeqCst) == 2);
    let refreshed = (0..10_000)
        .map(|_| {
            std::thread::yield_now();
            banner("eu".to_owned(), 4)
        })
        .find(|value| value == "eu #1");
    assert_eq!(refreshed.as_deref(), Some("eu #1"));
}

// ---------------------------------------------------------------------------------
// In a trait impl, and generic
// ---------------------------------------------------------------------------------

trait Catalog: Sized {
    fn open(name: String) -> Result<Self, String>;
}

#[derive(Clone, Debug, PartialEq)]
struct Store {
    name: String,
    opened: usize,
}

static STORE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static STORE_OPENS: AtomicUsize = AtomicUsize::new(0);
static STORES: Upstream = Upstream::new();

#[cache_core::ttl_cached_impl]
impl Catalog for Store {
    #[ttl_cached(
        secs = 10,
        stale_while_revalidate = 5,
        stale_if_error = 60,
        clock = STORE_CLOCK.clone()
    )]
    fn open(name: String) -> Result<Self, String> {
        STORES.call(0)?;
        let opened = STORE_OPENS.fetch_add(1, Ordering::SeqCst);
        Ok(Store { name, opened })
    }
}

/// Both stale options on an associated function of a trait impl.
#[test]
fn stale_options_in_a_trait_impl() {
    let open = || Store::open("main".to_owned()).map(|store| store.opened);
    assert_eq!(open(), Ok(0));
    STORE_CLOCK.advance(Duration::from_secs(11));
    assert_eq!(open(), Ok(0), "stale");
    wait_for("the refresh", || {
        Store::open_cache().stats().refreshes_succeeded == 1
    });
    assert_eq!(open(), Ok(1), "refreshed");
    STORES.set_up(false);
    STORE_CLOCK.advance(Duration::from_secs(20));
    assert_eq!(open(), Ok(1), "served over the error");
}

fn short_for_small<T: Copy + Into<u64>>(value: &Result<T, String>) -> Option<Duration> {
    match value {
        Ok(n) if (*n).into() < 10 => Some(Duration::from_secs(1)),
        Ok(_) => Some(Duration::from_secs(60)),
        Err(_) => None,
    }
}

#[ttl_cached(secs = 30, ttl_from = short_for_small::<T>, stale_if_error = 5, clock = MockClock::new())]
fn parse_number<T: std::str::FromStr + Copy + Into<u64> + Send + Sync + 'static>(
    text: &str,
) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

/// A generic function: `ttl_from` names the instantiation's function.
#[test]
fn ttl_from_in_a_generic_function() {
    assert_eq!(parse_number::<u8>("7"), Ok(7));
    assert_eq!(parse_number::<u32>("700"), Ok(700));
    assert_eq!(
        parse_number_cache::<u8>().remaining_ttl(&("7".to_owned(),)),
        Some(Duration::from_secs(1))
    );
    assert_eq!(
        parse_number_cache::<u32>().remaining_ttl(&("700".to_owned(),)),
        Some(Duration::from_secs(30))
    );
}

static GREETING_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static GREETING_VERSION: AtomicUsize = AtomicUsize::new(1);

/// Borrowed parameters: the refresh gets owned copies (`String`, `Vec<u8>`) and lends
/// them to the body as `&str` and `&[u8]`.
#[ttl_cached(secs = 10, stale_while_revalidate = 5, clock = GREETING_CLOCK.clone())]
fn greeting(name: &str, suffix: &[u8]) -> String {
    format!(
        "hello {name}{} v{}",
        String::from_utf8_lossy(suffix),
        GREETING_VERSION.load(Ordering::SeqCst)
    )
}

static TITLE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static TITLE_VERSION: AtomicUsize = AtomicUsize::new(1);

/// The same with the body expanded in place (`helpers = "none"`).
#[ttl_cached(
    secs = 10,
    stale_while_revalidate = 5,
    helpers = "none",
    clock = TITLE_CLOCK.clone()
)]
fn title(name: &str, rank: u32) -> String {
    format!("{rank}. {name} v{}", TITLE_VERSION.load(Ordering::SeqCst))
}

#[test]
fn stale_while_revalidate_lends_borrowed_arguments_to_the_refresh() {
    assert_eq!(greeting("ana", b"!"), "hello ana! v1");
    GREETING_VERSION.store(2, Ordering::SeqCst);
    GREETING_CLOCK.advance(Duration::from_secs(10));
    assert_eq!(greeting("ana", b"!"), "hello ana! v1", "stale, at once");
    wait_for("the refresh", || {
        greeting_cache().stats().refreshes_succeeded == 1
    });
    assert_eq!(
        greeting("ana", b"!"),
        "hello ana! v2",
        "refreshed with the same arguments"
    );
    assert_eq!(greeting("bo", b"?"), "hello bo? v2", "another key");

    assert_eq!(title("ana", 1), "1. ana v1");
    TITLE_VERSION.store(2, Ordering::SeqCst);
    TITLE_CLOCK.advance(Duration::from_secs(12));
    assert_eq!(title("ana", 1), "1. ana v1", "stale, at once");
    let refreshed = std::time::Instant::now() + Duration::from_secs(10);
    while title("ana", 1) != "1. ana v2" {
        assert!(
            std::time::Instant::now() < refreshed,
            "the refresh never landed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

static PRICE_LIST_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static PRICE_LIST_VERSION: AtomicUsize = AtomicUsize::new(1);

/// A method: the refresh calls it on a clone of `self`.
#[derive(Clone)]
struct PriceList {
    region: String,
}

impl PriceList {
    #[ttl_cached(
        secs = 10,
        stale_while_revalidate = 5,
        key = (self.region.clone(), id),
        clock = PRICE_LIST_CLOCK.clone()
    )]
    fn price(&self, id: u32) -> String {
        format!(
            "{} {id} v{}",
            self.region,
            PRICE_LIST_VERSION.load(Ordering::SeqCst)
        )
    }
}

#[test]
fn stale_while_revalidate_refreshes_a_method_on_a_clone_of_self() {
    let eu = PriceList {
        region: "eu".to_owned(),
    };
    assert_eq!(eu.price(1), "eu 1 v1");
    PRICE_LIST_VERSION.store(2, Ordering::SeqCst);
    PRICE_LIST_CLOCK.advance(Duration::from_secs(10));
    assert_eq!(eu.price(1), "eu 1 v1", "stale, at once");
    wait_for("the refresh", || {
        PriceList::price_cache().stats().refreshes_succeeded == 1
    });
    assert_eq!(eu.price(1), "eu 1 v2", "refreshed through a clone of self");
}
