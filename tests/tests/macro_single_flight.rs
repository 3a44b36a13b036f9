//! Single flight, by default: concurrent misses of one key run the body once, other
//! keys never wait, and a panic reaches its caller while a waiter takes over.

use cache_core::ttl_cached;
use std::panic;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

static SLOW_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn slow_square(n: u64) -> u64 {
    SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(200));
    n * n
}

#[test]
fn concurrent_misses_of_one_key_run_the_body_once() {
    const THREADS: usize = 8;
    let start = Barrier::new(THREADS);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                start.wait();
                assert_eq!(slow_square(12), 144);
            });
        }
    });
    assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), 1);
    let stats = slow_square_cache().stats();
    assert_eq!(stats.computations, 1, "{stats:?}");
    assert_eq!(stats.hits + stats.misses, THREADS as u64);
}

static BLOCKED_STARTED: AtomicBool = AtomicBool::new(false);
static RELEASE_BLOCKED: AtomicBool = AtomicBool::new(false);

/// Key 0 waits until released (at most 10 s); any other key returns at once.
#[ttl_cached(secs = 60)]
fn gated(key: u64) -> u64 {
    if key == 0 {
        BLOCKED_STARTED.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !RELEASE_BLOCKED.load(Ordering::SeqCst) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }
    key
}

#[test]
fn a_miss_on_another_key_does_not_wait() {
    thread::scope(|scope| {
        let blocked = scope.spawn(|| gated(0));
        while !BLOCKED_STARTED.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(gated(1), 1, "returned while key 0 is still computing");
        assert!(!RELEASE_BLOCKED.load(Ordering::SeqCst));
        RELEASE_BLOCKED.store(true, Ordering::SeqCst);
        assert_eq!(blocked.join().unwrap(), 0);
    });
}

static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);
static FLAKY_STARTED: AtomicBool = AtomicBool::new(false);

/// The first run panics after a pause; later runs succeed.
#[ttl_cached(secs = 60)]
fn flaky(n: u64) -> u64 {
    if FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        FLAKY_STARTED.store(true, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(300));
        panic!("first run fails");
    }
    n + 1
}

#[test]
fn a_panic_reaches_its_caller_and_a_waiter_runs_the_body_instead() {
    thread::scope(|scope| {
        let leader = scope.spawn(|| panic::catch_unwind(|| flaky(1)));
        while !FLAKY_STARTED.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(1));
        }
        let waiter = scope.spawn(|| flaky(1));
        assert!(
            leader.join().unwrap().is_err(),
            "the panic reached the leader"
        );
        assert_eq!(waiter.join().unwrap(), 2, "the waiter ran the body itself");
    });
    assert_eq!(FLAKY_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(
        flaky_cache().stats().computations,
        2,
        "the run that panicked counts"
    );
    assert_eq!(flaky(1), 2, "the cache works after the panic");
}

/// A key whose `Clone` panics while `PANIC_ON_CLONE` is set.
#[derive(PartialEq, Eq, Hash)]
struct FragileKey(u64);

static PANIC_ON_CLONE: AtomicBool = AtomicBool::new(false);
static FRAGILE_RUNS: AtomicUsize = AtomicUsize::new(0);

impl Clone for FragileKey {
    fn clone(&self) -> Self {
        if PANIC_ON_CLONE.load(Ordering::SeqCst) {
            panic!("the key's Clone failed");
        }
        FragileKey(self.0)
    }
}

#[ttl_cached(secs = 60)]
fn fragile(key: &FragileKey) -> u64 {
    FRAGILE_RUNS.fetch_add(1, Ordering::SeqCst);
    key.0 * 10
}

#[test]
fn a_panic_between_the_lookup_and_the_body_leaves_no_flight_behind() {
    // The miss takes the lead of the key's computation, then the owned key's clone
    // panics before the body runs.
    PANIC_ON_CLONE.store(true, Ordering::SeqCst);
    let failed = panic::catch_unwind(|| fragile(&FragileKey(4)));
    PANIC_ON_CLONE.store(false, Ordering::SeqCst);
    assert!(failed.is_err());
    assert_eq!(FRAGILE_RUNS.load(Ordering::SeqCst), 0);
    // Another thread must not wait for a flight that nobody runs...
    let (sender, receiver) = std::sync::mpsc::channel();
    thread::spawn(move || sender.send(fragile(&FragileKey(4))));
    let computed = receiver.recv_timeout(Duration::from_secs(30));
    assert_eq!(
        computed,
        Ok(40),
        "the other thread waited for an abandoned flight"
    );
    // ...and the value it computed is stored: this thread hits it.
    assert_eq!(fragile(&FragileKey(4)), 40);
    assert_eq!(FRAGILE_RUNS.load(Ordering::SeqCst), 1);
}
