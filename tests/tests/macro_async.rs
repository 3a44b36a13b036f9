//! `#[ttl_cached]` on `async fn`: single flight across tasks without blocking a thread,
//! cancellation, panics, `Result`/`Option` rules, `Send` futures, async methods and the
//! async helpers, on tokio's multi-thread and current-thread runtimes.
//!
//! Each test has its own cached functions (and counters), since tests run in parallel
//! and a cache is one static per function. Nothing here waits a fixed time for
//! something to happen: tests wait for an observable state (a counter, the cache's
//! miss count), under a generous deadline that only a broken implementation reaches.

use cache_core::ttl_cached;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::Barrier;

/// What no correct run comes near: a test that reaches it has hung.
const DEADLINE: Duration = Duration::from_secs(20);

/// Yields until `done()` holds; panics with `what` after [`DEADLINE`].
async fn until(what: &str, done: impl Fn() -> bool) {
    let waited = tokio::time::timeout(DEADLINE, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting until {what}");
}

fn assert_send<T: Send>(_: T) {}

// ---------------------------------------------------------------------------------
// Single flight
// ---------------------------------------------------------------------------------

const TASKS: u64 = 50;
static FIFTY_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Finishes only once every task has looked the key up and missed, so that all of
/// them are waiting on this one run.
#[ttl_cached(secs = 60)]
async fn wait_for_everyone(key: &str) -> String {
    FIFTY_RUNS.fetch_add(1, Ordering::SeqCst);
    until("every task missed", || {
        wait_for_everyone_cache().stats().misses >= TASKS
    })
    .await;
    key.to_uppercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tasks_for_one_key_run_the_body_once() {
    let barrier = Arc::new(Barrier::new(TASKS as usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                wait_for_everyone("key").await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "KEY");
    }
    assert_eq!(FIFTY_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(wait_for_everyone_cache().stats().misses, TASKS);
}

static SHARED_THREAD_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Finishes once both keys have been looked up (three lookups, all misses).
#[ttl_cached(secs = 60)]
async fn slow_double(n: u64) -> u64 {
    SHARED_THREAD_RUNS.fetch_add(1, Ordering::SeqCst);
    until("three lookups", || slow_double_cache().stats().misses >= 3).await;
    n * 2
}

#[tokio::test(flavor = "current_thread")]
async fn waiters_await_instead_of_blocking_the_only_thread() {
    let (a, b, c) = tokio::join!(slow_double(1), slow_double(1), slow_double(2));
    assert_eq!((a, b, c), (2, 2, 4));
    assert_eq!(SHARED_THREAD_RUNS.load(Ordering::SeqCst), 2);
}

static EVERY_CALLER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60, single_flight = false)]
async fn every_caller_runs(n: u64) -> u64 {
    EVERY_CALLER_RUNS.fetch_add(1, Ordering::SeqCst);
    until("both lookups", || {
        every_caller_runs_cache().stats().misses >= 2
    })
    .await;
    n
}

#[tokio::test(flavor = "current_thread")]
async fn without_single_flight_concurrent_misses_each_run_the_body() {
    let (a, b) = tokio::join!(every_caller_runs(3), every_caller_runs(3));
    assert_eq!((a, b), (3, 3));
    assert_eq!(EVERY_CALLER_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(every_caller_runs(3).await, 3);
    assert_eq!(
        EVERY_CALLER_RUNS.load(Ordering::SeqCst),
        2,
        "then it is cached"
    );
    assert_eq!(every_caller_runs_cache().stats().computations, 2);
}

#[ttl_cached(secs = 60)]
async fn square(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n * n
}

#[tokio::test(flavor = "current_thread")]
async fn a_hit_is_ready_at_the_first_poll() {
    assert_eq!(square(9).await, 81);
    let mut hit = pin!(square(9));
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(hit.as_mut().poll(&mut cx), Poll::Ready(81));
    // A miss is not: the body yields once.
    let mut miss = pin!(square(10));
    assert_eq!(miss.as_mut().poll(&mut cx), Poll::Pending);
}

// ---------------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------------

static ABORTED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The first run never finishes; the others return their run number.
#[ttl_cached(secs = 60)]
async fn first_run_hangs(key: u64) -> usize {
    let run = ABORTED_RUNS.fetch_add(1, Ordering::SeqCst) + 1;
    if run == 1 {
        std::future::pending::<()>().await;
    }
    run + key as usize
}

#[tokio::test(flavor = "current_thread")]
async fn an_aborted_leader_hands_over_to_its_waiter() {
    let leader = tokio::spawn(first_run_hangs(0));
    until("the leader runs", || {
        ABORTED_RUNS.load(Ordering::SeqCst) == 1
    })
    .await;
    let waiter = tokio::spawn(first_run_hangs(0));
    // One thread: once its lookup is counted, the waiter is parked on the flight.
    until("the waiter missed", || {
        first_run_hangs_cache().stats().misses == 2
    })
    .await;
    assert!(first_run_hangs_cache().is_empty());
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    let got = tokio::time::timeout(DEADLINE, waiter)
        .await
        .expect("the waiter must not hang after its leader was cancelled")
        .unwrap();
    assert_eq!(got, 2, "the waiter ran the body itself");
    assert_eq!(ABORTED_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(first_run_hangs_cache().len(), 1);
    assert_eq!(first_run_hangs(0).await, 2, "the waiter's result is cached");
}

static TIMED_OUT_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The first run sleeps for an hour; the others return their run number.
#[ttl_cached(secs = 60)]
async fn first_run_is_slow(key: &str) -> usize {
    let run = TIMED_OUT_RUNS.fetch_add(1, Ordering::SeqCst) + 1;
    if run == 1 {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    run + key.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_leader_stores_nothing_and_its_waiter_runs_the_body() {
    let leader = tokio::time::timeout(Duration::from_millis(100), first_run_is_slow("k"));
    let waiter = async {
        until("the leader runs", || {
            TIMED_OUT_RUNS.load(Ordering::SeqCst) == 1
        })
        .await;
        tokio::time::timeout(DEADLINE, first_run_is_slow("k")).await
    };
    let (leader, waiter) = tokio::join!(leader, waiter);
    assert!(leader.is_err(), "the leader timed out");
    assert_eq!(waiter.expect("the waiter must not hang"), 3);
    assert_eq!(TIMED_OUT_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(first_run_is_slow_cache().len(), 1);
}

static TIMEOUT_ALONE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
async fn hangs_once(key: u8) -> u8 {
    if TIMEOUT_ALONE_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        std::future::pending::<()>().await;
    }
    key
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_call_leaves_the_cache_empty() {
    let timed_out = tokio::time::timeout(Duration::from_millis(10), hangs_once(1)).await;
    assert!(timed_out.is_err());
    assert!(hangs_once_cache().is_empty());
    assert_eq!(hangs_once(1).await, 1);
    assert_eq!(TIMEOUT_ALONE_RUNS.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------------

static PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);
static RELEASE_PANIC: AtomicBool = AtomicBool::new(false);

/// The first run waits to be released, then panics; the others return.
#[ttl_cached(secs = 60)]
async fn panics_first(key: u64) -> u64 {
    if PANIC_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        until("released", || RELEASE_PANIC.load(Ordering::SeqCst)).await;
        panic!("the first run fails");
    }
    key + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_reaches_its_caller_and_the_waiter_retries() {
    let leader = tokio::spawn(panics_first(7));
    until("the leader runs", || PANIC_RUNS.load(Ordering::SeqCst) == 1).await;
    let waiter = tokio::spawn(panics_first(7));
    until("the waiter missed", || {
        panics_first_cache().stats().misses == 2
    })
    .await;
    RELEASE_PANIC.store(true, Ordering::SeqCst);
    let leader = leader.await.unwrap_err();
    assert!(leader.is_panic(), "the panic reaches the leader's caller");
    let waiter = tokio::time::timeout(DEADLINE, waiter)
        .await
        .expect("the waiter must not hang after its leader panicked");
    assert_eq!(waiter.unwrap(), 8);
    assert_eq!(PANIC_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(panics_first(7).await, 8);
}

// ---------------------------------------------------------------------------------
// Result and Option
// ---------------------------------------------------------------------------------

/// Not `Clone`: only `Ok` values are stored.
#[derive(Debug, PartialEq)]
struct Unavailable;

static FETCH_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
async fn fetch(id: u64) -> Result<String, Unavailable> {
    FETCH_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    if id == 0 {
        Err(Unavailable)
    } else {
        Ok(format!("item{id}"))
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ok_is_cached_and_err_is_not() {
    assert_eq!(fetch(1).await, Ok("item1".to_owned()));
    assert_eq!(fetch(1).await, Ok("item1".to_owned()));
    assert_eq!(FETCH_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(fetch(0).await, Err(Unavailable));
    assert_eq!(fetch(0).await, Err(Unavailable));
    assert_eq!(
        FETCH_RUNS.load(Ordering::SeqCst),
        3,
        "each error runs the body"
    );
    assert_eq!(fetch_cache().len(), 1);
}

static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The first run fails once both callers wait on it; the second succeeds.
#[ttl_cached(secs = 60)]
async fn flaky(id: u64) -> Result<u64, String> {
    let run = FLAKY_RUNS.fetch_add(1, Ordering::SeqCst);
    if run == 0 {
        until("both callers missed", || flaky_cache().stats().misses >= 2).await;
        return Err("first attempt failed".to_owned());
    }
    Ok(id)
}

#[tokio::test(flavor = "current_thread")]
async fn a_waiter_runs_the_body_itself_when_the_leader_gets_an_error() {
    let (first, second) = tokio::join!(flaky(5), flaky(5));
    assert_eq!(first, Err("first attempt failed".to_owned()));
    assert_eq!(second, Ok(5));
    assert_eq!(FLAKY_RUNS.load(Ordering::SeqCst), 2);
}

static STRICT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60, cache_err = true)]
async fn fetch_strict(id: u64) -> Result<u64, String> {
    STRICT_RUNS.fetch_add(1, Ordering::SeqCst);
    Err(format!("no item {id}"))
}

#[tokio::test(flavor = "current_thread")]
async fn err_is_cached_with_cache_err() {
    assert_eq!(fetch_strict(4).await, Err("no item 4".to_owned()));
    assert_eq!(fetch_strict(4).await, Err("no item 4".to_owned()));
    assert_eq!(STRICT_RUNS.load(Ordering::SeqCst), 1);
}

static FIND_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
async fn find(id: u64) -> Option<u64> {
    FIND_RUNS.fetch_add(1, Ordering::SeqCst);
    (id % 2 == 0).then_some(id / 2)
}

#[tokio::test(flavor = "current_thread")]
async fn some_is_cached_and_none_is_not() {
    assert_eq!(find(4).await, Some(2));
    assert_eq!(find(4).await, Some(2));
    assert_eq!(find(3).await, None);
    assert_eq!(find(3).await, None);
    assert_eq!(FIND_RUNS.load(Ordering::SeqCst), 3);
}

static FIND_ALL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60, cache_none = true)]
async fn find_all(id: u64) -> Option<u64> {
    FIND_ALL_RUNS.fetch_add(1, Ordering::SeqCst);
    (id % 2 == 0).then_some(id / 2)
}

#[tokio::test(flavor = "current_thread")]
async fn none_is_cached_with_cache_none() {
    assert_eq!(find_all(3).await, None);
    assert_eq!(find_all(3).await, None);
    assert_eq!(FIND_ALL_RUNS.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------
// Send, borrowed arguments, spawning
// ---------------------------------------------------------------------------------

#[ttl_cached(secs = 60)]
async fn greet(name: &str, times: usize) -> String {
    tokio::task::yield_now().await;
    format!("hello {name}").repeat(times)
}

#[test]
fn the_future_is_send_and_may_borrow_its_arguments() {
    let name = String::from("ada");
    assert_send(greet(&name, 1));
    assert_send(greet_refresh(&name, 1));
    assert_send(greet_uncached(&name, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_async_fn_can_be_spawned() {
    let name: &'static str = "grace";
    let spawned = tokio::spawn(greet(name, 2)).await.unwrap();
    assert_eq!(spawned, "hello gracehello grace");
    assert_eq!(greet("grace", 2).await, spawned);
    assert!(greet_cache().contains_key(&("grace".to_owned(), 2)));
}

// ---------------------------------------------------------------------------------
// Helpers and methods
// ---------------------------------------------------------------------------------

static PRICE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
async fn price(item: &str) -> u64 {
    tokio::task::yield_now().await;
    PRICE_RUNS.fetch_add(1, Ordering::SeqCst) as u64 * 100 + item.len() as u64
}

#[tokio::test(flavor = "current_thread")]
async fn refresh_and_uncached_are_async_and_the_others_are_not() {
    assert_eq!(price("tea").await, 3);
    assert_eq!(
        price_uncached("tea").await,
        103,
        "runs the body, not cached"
    );
    assert_eq!(price("tea").await, 3);
    assert_eq!(
        price_refresh("tea").await,
        203,
        "runs the body and stores it"
    );
    assert_eq!(price("tea").await, 203);
    let removed: bool = price_invalidate("tea");
    assert!(removed);
    assert_eq!(price("tea").await, 303);
    let map: &'static cache_core::TtlMap<(String,), u64> = price_cache();
    assert_eq!(map.len(), 1);
    price_clear();
    assert!(price_cache().is_empty());
}

static LOAD_RUNS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone)]
struct Client {
    tenant: String,
}

impl Client {
    fn new(tenant: &str) -> Self {
        Client {
            tenant: tenant.to_owned(),
        }
    }

    #[ttl_cached(secs = 60, key = (self.tenant.clone(), id))]
    async fn load(&self, id: u64) -> String {
        LOAD_RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        format!("{}/{id}", self.tenant)
    }

    #[ttl_cached(secs = 60, key = id)]
    async fn load_owned(self: Arc<Self>, id: u64) -> String {
        format!("{}/{id}", self.tenant)
    }

    /// An associated async function without receiver: keyed by its parameters.
    #[ttl_cached(secs = 60)]
    async fn connect(tenant: &str) -> Self {
        tokio::task::yield_now().await;
        Self::new(tenant)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_methods_share_entries_by_key() {
    let first = Client::new("acme");
    let second = Client::new("acme");
    assert_send(first.load(1));
    assert_eq!(first.load(1).await, "acme/1");
    assert_eq!(second.load(1).await, "acme/1");
    assert_eq!(Client::new("globex").load(1).await, "globex/1");
    assert_eq!(LOAD_RUNS.load(Ordering::SeqCst), 2);

    assert!(first.load_invalidate(1));
    assert_eq!(first.load_refresh(1).await, "acme/1");
    assert_eq!(first.load_uncached(9).await, "acme/9");
    assert_eq!(LOAD_RUNS.load(Ordering::SeqCst), 4);
    assert_eq!(Client::load_cache().len(), 2);
    Client::load_clear();
    assert!(Client::load_cache().is_empty());

    let owned = Arc::new(Client::new("initech"));
    assert_eq!(Arc::clone(&owned).load_owned(3).await, "initech/3");
    let other = Arc::new(Client::new("other"));
    assert_eq!(
        other.load_owned(3).await,
        "initech/3",
        "the key alone decides"
    );

    assert_eq!(Client::connect("umbrella").await.tenant, "umbrella");
    assert_eq!(Client::connect_cache().len(), 1);
}

/// The key is the name alone, so the recursive call is for the very key its caller is
/// computing: it computes its own value instead of awaiting itself.
#[ttl_cached(secs = 60, key = name.clone())]
async fn count_down(name: String, from: u32) -> u32 {
    if from == 0 {
        0
    } else {
        Box::pin(count_down(name.clone(), from - 1)).await + 1
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_async_fn_that_recurses_into_its_own_key_completes() {
    let value = tokio::time::timeout(Duration::from_secs(10), count_down("a".into(), 3))
        .await
        .expect("re-entry into its own key must not hang");
    assert_eq!(value, 3);
    // The outermost call stored its result; the inner ones computed without storing.
    assert_eq!(count_down("a".into(), 0).await, 3);
}
