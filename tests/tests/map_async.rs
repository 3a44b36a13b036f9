//! `get_or_insert_with_async`: single-flight across tasks, cancellation, panics,
//! errors, and `Send` futures, on tokio's multi-thread and current-thread runtimes.

use cache_core::TtlMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

/// Long enough that every task reaches the map while the body is still running.
const SLOW_BODY: Duration = Duration::from_millis(200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tasks_for_one_key_run_the_body_once() {
    let map = Arc::new(TtlMap::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (map, runs, barrier) = (map.clone(), runs.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                map.get_or_insert_with_async("key", || async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(SLOW_BODY).await;
                    7
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 7);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Every task missed or hit; the 50 coalesced into one computation.
    let stats = map.stats();
    assert_eq!((stats.hits + stats.misses, stats.computations), (50, 1));
}

#[tokio::test(flavor = "current_thread")]
async fn waiters_await_instead_of_blocking_the_only_thread() {
    let map = TtlMap::new();
    let runs = AtomicUsize::new(0);
    let body = |value: u32| {
        let runs = &runs;
        move || async move {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(SLOW_BODY).await;
            value
        }
    };
    let (a, b, c) = tokio::join!(
        map.get_or_insert_with_async(1, body(10)),
        map.get_or_insert_with_async(1, body(99)),
        map.get_or_insert_with_async(2, body(20)),
    );
    assert_eq!((a, b, c), (10, 10, 20));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_over_to_a_waiter() {
    let map = Arc::new(TtlMap::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let leader = {
        let (map, runs) = (map.clone(), runs.clone());
        tokio::spawn(async move {
            map.get_or_insert_with_async(1, || async {
                runs.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<u32>().await
            })
            .await
        })
    };
    while runs.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let waiter = {
        let (map, runs) = (map.clone(), runs.clone());
        tokio::spawn(async move {
            map.get_or_insert_with_async(1, || async {
                runs.fetch_add(1, Ordering::SeqCst);
                5
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiter must not hang after its leader was cancelled")
        .unwrap();
    assert_eq!(got, 5);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(map.get(&1), Some(5));
}

#[tokio::test(flavor = "current_thread")]
async fn a_timed_out_call_stores_nothing() {
    let map: TtlMap<u8, u8> = TtlMap::new();
    let slow = map.get_or_insert_with_async(1, || async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        1
    });
    assert!(tokio::time::timeout(Duration::from_millis(10), slow)
        .await
        .is_err());
    assert!(map.is_empty());
    assert_eq!(map.get_or_insert_with_async(1, || async { 2 }).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_body_reaches_its_caller_and_a_waiter_retries() {
    let map = Arc::new(TtlMap::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(2));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (map, runs, barrier) = (map.clone(), runs.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                map.get_or_insert_with_async(1u8, || async {
                    let run = runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(SLOW_BODY).await;
                    if run == 0 {
                        panic!("first body run fails");
                    }
                    3u8
                })
                .await
            })
        })
        .collect();
    let mut panicked = 0;
    for task in tasks {
        match task.await {
            Ok(value) => assert_eq!(value, 3),
            Err(error) => {
                assert!(error.is_panic());
                panicked += 1;
            }
        }
    }
    assert_eq!(panicked, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn errors_are_returned_and_not_cached() {
    let map: TtlMap<&str, u32> = TtlMap::new();
    let failed: Result<u32, String> = map
        .try_get_or_insert_with_async("k", || async { Err("down".to_owned()) })
        .await;
    assert_eq!(failed, Err("down".to_owned()));
    assert!(!map.contains_key("k"));
    let ok: Result<u32, String> = map
        .try_get_or_insert_with_async("k", || async { Ok(1) })
        .await;
    assert_eq!(ok, Ok(1));
    assert_eq!(map.get("k"), Some(1));
}

#[test]
fn the_future_is_send_when_the_body_is() {
    fn assert_send<T: Send>(_: T) {}
    let map: TtlMap<String, Vec<u8>> = TtlMap::new();
    assert_send(map.get_or_insert_with_async("k".to_owned(), || async { vec![1] }));
    assert_send(
        map.try_get_or_insert_with_async("k".to_owned(), || async { Ok::<_, String>(vec![1]) }),
    );
}

/// Polls `future` to completion on this thread with a waker that does nothing, giving
/// up (the test fails) after `polls` polls: a future that can never complete does not
/// hang the test.
fn poll_to_end<F: std::future::Future>(future: F, polls: usize) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..polls {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
    panic!("still pending after {polls} polls: it waits for itself");
}

#[test]
fn an_init_that_awaits_its_own_key_computes_instead_of_hanging() {
    let map = TtlMap::new();
    let value = poll_to_end(
        map.get_or_insert_with_async(2, || async {
            map.get_or_insert_with_async(2, || async { 5 }).await + 1
        }),
        100,
    );
    assert_eq!(value, 6, "the inner call computes 5; the outer stores 6");
    assert_eq!(map.get(&2), Some(6));
}

#[test]
fn a_sync_call_inside_an_async_init_for_the_same_key_computes_instead_of_blocking() {
    let map = TtlMap::new();
    let value = poll_to_end(
        map.get_or_insert_with_async("k", || async { map.get_or_insert_with("k", || 1) + 1 }),
        100,
    );
    assert_eq!(value, 2);
    assert_eq!(map.get("k"), Some(2));
}

#[tokio::test(flavor = "current_thread")]
async fn an_async_recursion_into_its_own_key_completes_on_one_thread() {
    let map = Arc::new(TtlMap::new());
    let outer = {
        let map = map.clone();
        async move {
            map.get_or_insert_with_async(1, || async {
                tokio::task::yield_now().await;
                map.get_or_insert_with_async(1, || async { 40 }).await + 2
            })
            .await
        }
    };
    let value = tokio::time::timeout(Duration::from_secs(10), outer)
        .await
        .expect("re-entry into its own key must not hang");
    assert_eq!(value, 42);
}

/// A waiter's waker is executor code, and may use the map: it must be woken after the
/// leader has released every lock, or it would wait for the leader's own lock. Both
/// when the leader stores its value and when it stores nothing.
#[test]
fn a_waiters_waker_that_uses_the_map_is_woken_with_no_lock_held() {
    assert_eq!(wake_a_waiter_that_uses_the_map(Ok(10)), 10);
    // The leader failed: the waiter is told to retry, and computes its own value.
    assert_eq!(wake_a_waiter_that_uses_the_map(Err(())), 99);
}

/// A sync leader computes key 1 with `outcome` while an async waiter, whose waker
/// reads and writes the map, waits for it; the waiter's result.
fn wake_a_waiter_that_uses_the_map(outcome: Result<u8, ()>) -> u8 {
    use std::future::Future;
    use std::sync::atomic::AtomicBool;
    use std::task::{Context, Poll, Wake, Waker};

    struct ReadsTheMap {
        map: Arc<TtlMap<u8, u8>>,
        woken: AtomicBool,
    }
    impl Wake for ReadsTheMap {
        fn wake(self: Arc<Self>) {
            // Same key, so same shard as the flight that just ended. Under the
            // shard's write lock this would spin forever.
            let _ = self.map.get(&1);
            self.map.insert(2, 2);
            self.woken.store(true, Ordering::SeqCst);
        }
    }

    let map = Arc::new(TtlMap::new());
    let waker_state = Arc::new(ReadsTheMap {
        map: map.clone(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(waker_state.clone());
    let (lead_started, leader_go) = (
        Arc::new(std::sync::Barrier::new(2)),
        Arc::new(std::sync::Barrier::new(2)),
    );
    let leader = {
        let (map, lead_started, leader_go) = (map.clone(), lead_started.clone(), leader_go.clone());
        std::thread::spawn(move || {
            map.try_get_or_insert_with(1, || {
                lead_started.wait();
                leader_go.wait();
                outcome
            })
        })
    };
    lead_started.wait();
    let mut waiter = std::pin::pin!(map.get_or_insert_with_async(1, || async { 99 }));
    let mut cx = Context::from_waker(&waker);
    assert_eq!(waiter.as_mut().poll(&mut cx), Poll::Pending);
    leader_go.wait();
    assert_eq!(leader.join().unwrap(), outcome);
    assert!(waker_state.woken.load(Ordering::SeqCst));
    assert_eq!(map.get(&2), Some(2));
    match waiter.as_mut().poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("woken, yet still pending"),
    }
}
