//! `#[ttl_cached]` on free functions: hits, keys, and the generated helpers.

use cache_core::{ttl_cached, TtlMap};
use std::sync::atomic::{AtomicUsize, Ordering};

static SQUARE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn square(n: u64) -> u64 {
    SQUARE_RUNS.fetch_add(1, Ordering::SeqCst);
    n * n
}

#[test]
fn a_second_call_with_the_same_arguments_is_a_hit() {
    assert_eq!(square(7), 49);
    assert_eq!(square(7), 49);
    assert_eq!(SQUARE_RUNS.load(Ordering::SeqCst), 1);
    let stats = square_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.insertions), (1, 1, 1));
}

static GREET_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn greet(id: u64, region: &str) -> String {
    GREET_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{id}@{region}")
}

#[test]
fn each_combination_of_arguments_is_its_own_entry() {
    greet(1, "eu");
    greet(1, "us");
    greet(2, "eu");
    greet(1, "eu");
    assert_eq!(GREET_RUNS.load(Ordering::SeqCst), 3);
    assert_eq!(greet_cache().len(), 3);
}

static SUM_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn sum(values: &[u32], label: &str) -> String {
    SUM_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{label}={}", values.iter().sum::<u32>())
}

#[test]
fn borrowed_arguments_hit_whatever_owns_them() {
    let first = (vec![1, 2, 3], String::from("total"));
    let second = (vec![1, 2, 3], String::from("total"));
    assert_eq!(sum(&first.0, &first.1), "total=6");
    assert_eq!(sum(&second.0, &second.1), "total=6");
    assert_eq!(SUM_RUNS.load(Ordering::SeqCst), 1);
}

#[test]
fn the_cache_is_keyed_by_the_owned_parameters() {
    greet(40, "ap");
    let cache: &'static TtlMap<(u64, String), String> = greet_cache();
    assert_eq!(cache.get(&(40, "ap".to_owned())), Some("40@ap".to_owned()));
}

static OWNED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn describe(name: String, tags: Vec<String>) -> String {
    OWNED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{name}:{}", tags.join(","))
}

#[test]
fn owned_parameters_are_part_of_the_key() {
    assert_eq!(describe("a".into(), vec!["x".into()]), "a:x");
    assert_eq!(describe("a".into(), vec!["x".into()]), "a:x");
    assert_eq!(describe("a".into(), vec!["y".into()]), "a:y");
    assert_eq!(OWNED_RUNS.load(Ordering::SeqCst), 2);
}

static CONSTANT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn constant() -> u64 {
    CONSTANT_RUNS.fetch_add(1, Ordering::SeqCst);
    42
}

#[test]
fn a_function_without_parameters_caches_one_value() {
    assert_eq!(constant(), 42);
    assert_eq!(constant(), 42);
    assert_eq!(CONSTANT_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(constant_cache().len(), 1);
}

static TICKET_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Returns how many times the body has run, so tests can see which run a value came from.
#[ttl_cached(secs = 60)]
fn ticket(queue: &str) -> usize {
    let _ = queue;
    TICKET_RUNS.fetch_add(1, Ordering::SeqCst) + 1
}

#[test]
fn helpers_invalidate_refresh_bypass_and_clear() {
    assert_eq!(ticket("a"), 1);
    assert_eq!(ticket("a"), 1, "a hit");

    assert_eq!(ticket_uncached("a"), 2, "the body runs");
    assert_eq!(ticket("a"), 1, "and the cache is untouched");

    assert_eq!(ticket_refresh("a"), 3, "the body runs");
    assert_eq!(ticket("a"), 3, "and its result is cached");

    assert!(ticket_invalidate("a"), "a live entry was removed");
    assert!(!ticket_invalidate("a"), "nothing left to remove");
    assert_eq!(ticket("a"), 4, "a miss after invalidation");

    ticket("b");
    assert_eq!(ticket_cache().len(), 2);
    ticket_clear();
    assert_eq!(ticket_cache().len(), 0);
}

mod visibility {
    use cache_core::ttl_cached;

    /// Helpers get the function's visibility.
    #[ttl_cached(secs = 60)]
    pub fn double(n: u64) -> u64 {
        n * 2
    }
}

#[test]
fn helpers_have_the_function_visibility() {
    assert_eq!(visibility::double(2), 4);
    assert_eq!(visibility::double_uncached(2), 4);
    assert_eq!(visibility::double_cache().len(), 1);
    visibility::double_clear();
}

/// # Safety
/// `n` must be below 100 (a stand-in for a real contract).
#[ttl_cached(secs = 60)]
unsafe fn checked_double(n: u64) -> u64 {
    n * 2
}

#[test]
fn the_helpers_that_never_run_the_body_of_an_unsafe_fn_are_safe() {
    // SAFETY: 21 < 100.
    assert_eq!(unsafe { checked_double(21) }, 42);
    // No `unsafe` block: these would not compile if they were `unsafe fn`.
    let map: &'static TtlMap<(u64,), u64> = checked_double_cache();
    assert_eq!(map.len(), 1);
    assert!(checked_double_invalidate(21));
    checked_double_clear();
    assert_eq!(checked_double_cache().len(), 0);
    // Those that run the body keep the contract.
    // SAFETY: 4 < 100.
    assert_eq!(unsafe { checked_double_refresh(4) }, 8);
    // SAFETY: 4 < 100.
    assert_eq!(unsafe { checked_double_uncached(4) }, 8);
}
