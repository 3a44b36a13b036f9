//! `stale_while_revalidate` on an `async fn`, under tokio's multi-thread and
//! current-thread runtimes. Built with this crate's `tokio` feature (cache-core's),
//! the refresh is spawned on the caller's runtime and every stale caller gets the old
//! value at once; without it (the default build), the caller that claims the refresh
//! awaits it and returns the refreshed value, while every other stale caller gets the
//! old value at once. Each test checks whichever of the two is built.
//! Time is a `MockClock` per function; background work is waited for, with a cap.

use cache_core::{ttl_cached, MockClock};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::watch;

/// Whether refreshes are spawned (cache-core's `tokio` feature), or awaited by the
/// caller that claims them.
const SPAWNED: bool = cfg!(feature = "tokio");

/// Awaits until `done` holds, yielding to the runtime, for at most 10 s.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A gate that bodies await until the test opens it.
struct Gate(LazyLock<watch::Sender<bool>>);

impl Gate {
    const fn new() -> Self {
        Gate(LazyLock::new(|| watch::channel(false).0))
    }

    fn set(&self, open: bool) {
        self.0.send_replace(open);
    }

    async fn pass(&self) {
        let mut open = self.0.subscribe();
        let passed = tokio::time::timeout(Duration::from_secs(10), open.wait_for(|open| *open));
        assert!(matches!(passed.await, Ok(Ok(_))), "the gate stayed closed");
    }
}

static EDGE_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static EDGE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 10, stale_while_revalidate = 5, clock = EDGE_CLOCK.clone())]
async fn edge(id: u64) -> String {
    let run = EDGE_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    format!("{id} v{run}")
}

/// Fresh until the TTL; stale (and refreshed once) from the TTL until TTL + N;
/// an ordinary miss at TTL + N exactly.
#[tokio::test]
async fn async_window_edges_are_exact() {
    let stats = || edge_cache().stats();
    assert_eq!(edge(1).await, "1 v0");
    EDGE_CLOCK.advance(Duration::from_secs(10) - Duration::from_nanos(1));
    assert_eq!(edge(1).await, "1 v0", "fresh");
    EDGE_CLOCK.advance(Duration::from_nanos(1));
    let at_ttl = edge(1).await;
    assert_eq!(stats().stale_hits, 1);
    assert_eq!(stats().refreshes_started, 1);
    if SPAWNED {
        assert_eq!(at_ttl, "1 v0", "stale at once; the refresh is spawned");
    } else {
        assert_eq!(at_ttl, "1 v1", "this caller awaited the refresh itself");
    }
    wait_for("the refresh", || stats().refreshes_succeeded == 1).await;
    assert_eq!(edge(1).await, "1 v1", "the refreshed value");

    EDGE_CLOCK.advance(Duration::from_secs(15));
    let misses = stats().misses;
    assert_eq!(
        edge(1).await,
        "1 v2",
        "at its TTL + 5 s: computed by this call"
    );
    assert_eq!(stats().misses, misses + 1);
    assert_eq!(stats().refreshes_started, 1);
}

/// 16 tasks find one key stale at once: one refresh, and every task that does not
/// await it gets the stale value at once (while the refresh is held at a gate).
async fn sixteen_stale_callers(
    call: fn() -> tokio::task::JoinHandle<u64>,
    cache: fn() -> &'static cache_core::TtlMap<(u64,), u64>,
    clock: &MockClock,
    gate: &Gate,
    runs: &AtomicUsize,
) {
    assert_eq!(call().await.unwrap(), 100);
    clock.advance(Duration::from_secs(11));
    let callers: Vec<_> = (0..16).map(|_| call()).collect();
    wait_for("16 stale hits", || cache().stats().stale_hits == 16).await;
    assert_eq!(cache().stats().refreshes_started, 1);
    let mut served = Vec::new();
    let mut waiting = Vec::new();
    for caller in callers {
        if caller.is_finished() {
            served.push(caller.await.unwrap());
        } else {
            waiting.push(caller);
        }
    }
    let expected_waiting = if SPAWNED { 0 } else { 1 };
    // Those that got the stale value may still be finishing: give them time.
    let mut still_waiting = Vec::new();
    for caller in waiting {
        match tokio::time::timeout(Duration::from_millis(200), caller).await {
            Ok(value) => served.push(value.unwrap()),
            Err(_) => still_waiting.push(()),
        }
    }
    assert_eq!(served, vec![100; 16 - expected_waiting], "stale at once");
    assert_eq!(still_waiting.len(), expected_waiting);
    gate.set(true);
    wait_for("the refresh", || cache().stats().refreshes_succeeded == 1).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the body ran once more");
    assert_eq!(call().await.unwrap(), 101);
}

static MULTI_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static MULTI_RUNS: AtomicUsize = AtomicUsize::new(0);
static MULTI_GATE: Gate = Gate::new();

#[ttl_cached(secs = 10, stale_while_revalidate = 30, clock = MULTI_CLOCK.clone())]
async fn multi(id: u64) -> u64 {
    let run = MULTI_RUNS.fetch_add(1, Ordering::SeqCst);
    if run > 0 {
        MULTI_GATE.pass().await;
    }
    id * 100 + run as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_stale_tasks_start_one_refresh_multi_thread() {
    sixteen_stale_callers(
        || tokio::spawn(multi(1)),
        multi_cache,
        &MULTI_CLOCK,
        &MULTI_GATE,
        &MULTI_RUNS,
    )
    .await;
}

static CURRENT_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static CURRENT_RUNS: AtomicUsize = AtomicUsize::new(0);
static CURRENT_GATE: Gate = Gate::new();

#[ttl_cached(secs = 10, stale_while_revalidate = 30, clock = CURRENT_CLOCK.clone())]
async fn current(id: u64) -> u64 {
    let run = CURRENT_RUNS.fetch_add(1, Ordering::SeqCst);
    if run > 0 {
        CURRENT_GATE.pass().await;
    }
    id * 100 + run as u64
}

#[tokio::test(flavor = "current_thread")]
async fn sixteen_stale_tasks_start_one_refresh_current_thread() {
    sixteen_stale_callers(
        || tokio::spawn(current(1)),
        current_cache,
        &CURRENT_CLOCK,
        &CURRENT_GATE,
        &CURRENT_RUNS,
    )
    .await;
}

static PANIC_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 10, stale_while_revalidate = 5, clock = PANIC_CLOCK.clone())]
async fn panicky(id: u64) -> Option<String> {
    tokio::task::yield_now().await;
    match PANIC_RUNS.fetch_add(1, Ordering::SeqCst) {
        0 => Some(format!("{id} v1")),
        1 => panic!("the refresh of {id} panics"),
        2 => None,
        _ => Some(format!("{id} v2")),
    }
}

/// A refresh that panics or returns `None` leaves the stale value, and is counted.
#[tokio::test]
async fn a_failed_async_refresh_leaves_the_stale_value() {
    let stats = || panicky_cache().stats();
    assert_eq!(panicky(1).await.as_deref(), Some("1 v1"));
    PANIC_CLOCK.advance(Duration::from_secs(10));
    assert_eq!(panicky(1).await.as_deref(), Some("1 v1"), "stale; panics");
    wait_for("the panicking refresh", || stats().refreshes_failed == 1).await;
    assert_eq!(panicky(1).await.as_deref(), Some("1 v1"), "stale; `None`");
    wait_for("the failed refresh", || stats().refreshes_failed == 2).await;
    let third = panicky(1).await;
    wait_for("the third refresh", || stats().refreshes_succeeded == 1).await;
    if SPAWNED {
        assert_eq!(third.as_deref(), Some("1 v1"));
    } else {
        assert_eq!(third.as_deref(), Some("1 v2"));
    }
    assert_eq!(panicky(1).await.as_deref(), Some("1 v2"));
    assert_eq!(stats().refreshes_started, 3);
}

static CANCEL_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static CANCEL_RUNS: AtomicUsize = AtomicUsize::new(0);
static CANCEL_GATE: Gate = Gate::new();

#[ttl_cached(secs = 10, stale_while_revalidate = 30, clock = CANCEL_CLOCK.clone())]
async fn cancellable(id: u64) -> u64 {
    let run = CANCEL_RUNS.fetch_add(1, Ordering::SeqCst);
    if run > 0 {
        CANCEL_GATE.pass().await;
    }
    id * 100 + run as u64
}

/// Without a spawner, the caller awaiting a refresh may be cancelled: the refresh is
/// then a failed one, and the key is free for the next stale caller to refresh.
#[tokio::test]
async fn a_cancelled_refresh_lets_the_key_go() {
    if SPAWNED {
        return; // the refresh is a task of its own: nobody awaits it to cancel it
    }
    let stats = || cancellable_cache().stats();
    assert_eq!(cancellable(1).await, 100);
    CANCEL_CLOCK.advance(Duration::from_secs(11));
    let cancelled = tokio::time::timeout(Duration::from_millis(20), cancellable(1)).await;
    assert!(cancelled.is_err(), "held at the gate, then dropped");
    assert_eq!(
        (stats().refreshes_started, stats().refreshes_failed),
        (1, 1)
    );
    CANCEL_GATE.set(true);
    assert_eq!(
        cancellable(1).await,
        102,
        "a new refresh, awaited by this caller"
    );
    assert_eq!(
        (stats().refreshes_started, stats().refreshes_succeeded),
        (2, 1)
    );
}

static LABEL_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static LABEL_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A borrowed parameter: the refresh owns a `String` and lends it as `&str`.
#[ttl_cached(secs = 10, stale_while_revalidate = 5, clock = LABEL_CLOCK.clone())]
async fn label(name: &str) -> String {
    let run = LABEL_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    format!("{name} v{run}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_borrowed_argument_is_lent_to_the_async_refresh() {
    assert_eq!(label("ana").await, "ana v0");
    LABEL_CLOCK.advance(Duration::from_secs(10));
    let stale = label("ana").await;
    if SPAWNED {
        assert_eq!(stale, "ana v0", "stale, at once; the refresh is spawned");
        wait_for("the refresh", || {
            label_cache().stats().refreshes_succeeded == 1
        })
        .await;
    } else {
        assert_eq!(stale, "ana v1", "the claiming caller awaited its refresh");
    }
    assert_eq!(label("ana").await, "ana v1");
    assert_eq!(LABEL_RUNS.load(Ordering::SeqCst), 2);
}

static SHELF_CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static SHELF_RUNS: AtomicUsize = AtomicUsize::new(0);

/// An async method: the refresh owns a clone of `self`.
#[derive(Clone)]
struct Shelf {
    name: String,
}

impl Shelf {
    #[ttl_cached(
        secs = 10,
        stale_while_revalidate = 5,
        key = self.name.clone(),
        clock = SHELF_CLOCK.clone()
    )]
    async fn count(&self) -> String {
        let run = SHELF_RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        format!("{} v{run}", self.name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_method_is_refreshed_on_a_clone_of_self() {
    let shelf = Shelf {
        name: "top".to_owned(),
    };
    assert_eq!(shelf.count().await, "top v0");
    SHELF_CLOCK.advance(Duration::from_secs(10));
    let stale = shelf.count().await;
    if SPAWNED {
        assert_eq!(stale, "top v0", "stale, at once; the refresh is spawned");
        wait_for("the refresh", || {
            Shelf::count_cache().stats().refreshes_succeeded == 1
        })
        .await;
    } else {
        assert_eq!(stale, "top v1", "the claiming caller awaited its refresh");
    }
    assert_eq!(shelf.count().await, "top v1");
}
