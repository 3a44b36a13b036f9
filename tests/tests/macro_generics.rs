//! Generic `#[ttl_cached]` functions: one map per instantiation of the type
//! parameters, and helpers that take the same type parameters.

use cache_core::{ttl_cached, ttl_cached_impl};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

static PARSE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn parse<T: FromStr + Clone + Send + Sync + 'static>(s: &str) -> Option<T> {
    PARSE_RUNS.fetch_add(1, Ordering::SeqCst);
    s.parse().ok()
}

#[test]
fn each_instantiation_has_its_own_map() {
    assert_eq!(parse::<u8>("7"), Some(7));
    assert_eq!(parse::<u8>("7"), Some(7));
    assert_eq!(PARSE_RUNS.load(Ordering::SeqCst), 1);
    // Same argument, other type: another map, so the body runs again.
    assert_eq!(parse::<u64>("7"), Some(7));
    assert_eq!(parse::<u64>("7"), Some(7));
    assert_eq!(PARSE_RUNS.load(Ordering::SeqCst), 2);
    // A value `u8` cannot hold: `None`, not cached; `u64`'s map is untouched.
    assert_eq!(parse::<u8>("300"), None);
    assert_eq!(parse::<u64>("300"), Some(300));

    // `_cache::<T>()` reaches the right map.
    assert_eq!(parse_cache::<u8>().len(), 1);
    assert_eq!(parse_cache::<u64>().len(), 2);
    assert_eq!(parse_cache::<u8>().stats().hits, 1);
    assert_eq!(parse_cache::<u16>().len(), 0);
    assert!(parse_invalidate::<u64>("300"));
    assert_eq!(parse_cache::<u64>().len(), 1);
    parse_clear::<u8>();
    assert_eq!(parse_cache::<u8>().len(), 0);
    assert_eq!(parse_cache::<u64>().len(), 1);
}

/// Two type parameters, a `where` clause, and `key`: keyed on the instantiation too.
#[ttl_cached(secs = 60, key = id)]
fn pair<A, B>(id: u64) -> (A, B)
where
    A: Default + Clone + Send + Sync + 'static,
    B: Default + Clone + Send + Sync + 'static,
{
    PAIR_RUNS.fetch_add(1, Ordering::SeqCst);
    let _ = id;
    (A::default(), B::default())
}

static PAIR_RUNS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn several_type_parameters_and_key() {
    let _: (u8, String) = pair(1);
    let _: (u8, String) = pair(1);
    assert_eq!(PAIR_RUNS.load(Ordering::SeqCst), 1);
    let _: (String, u8) = pair(1);
    assert_eq!(PAIR_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(pair_cache::<u8, String>().len(), 1);
    assert_eq!(pair_cache::<String, u8>().len(), 1);
}

/// The type parameter only in the value: still one map per instantiation, though
/// the key and value types are the same for both.
#[ttl_cached(secs = 60)]
fn type_name_len<T: 'static>(extra: usize) -> usize {
    std::any::type_name::<T>().len() + extra
}

#[test]
fn instantiations_with_the_same_key_and_value_types_are_apart() {
    assert_eq!(type_name_len::<u8>(0), 2);
    assert_eq!(type_name_len::<u16>(0), 3);
    assert_eq!(type_name_len::<u8>(0), 2);
}

#[ttl_cached(secs = 60)]
async fn parse_async<T: FromStr + Clone + Send + Sync + 'static>(s: String) -> Option<T> {
    s.parse().ok()
}

#[test]
fn an_async_generic_function_memoizes_per_instantiation() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(parse_async::<u8>("5".to_owned()).await, Some(5));
        assert_eq!(parse_async::<u8>("5".to_owned()).await, Some(5));
        assert_eq!(parse_async::<i64>("5".to_owned()).await, Some(5));
        assert_eq!(parse_async_cache::<u8>().stats().computations, 1);
        assert_eq!(parse_async_cache::<i64>().stats().computations, 1);
    });
}

struct Codec;

#[ttl_cached_impl]
impl Codec {
    /// A generic associated function (that does not mention `Self`: hence
    /// `#[ttl_cached_impl]`, which tells the macro it is one).
    #[ttl_cached(secs = 60, key = (s.to_owned(), std::any::type_name::<T>()))]
    fn decode<T: FromStr + Clone + Send + Sync + 'static>(s: &str) -> Option<T> {
        s.parse().ok()
    }
}

#[test]
fn a_generic_associated_function_memoizes() {
    assert_eq!(Codec::decode::<u8>("3"), Some(3));
    assert_eq!(Codec::decode::<u8>("3"), Some(3));
    assert_eq!(Codec::decode_cache::<u8>().stats().hits, 1);
}

static INNER_RUNS: AtomicUsize = AtomicUsize::new(0);

/// With `helpers = "none"`, the registry of maps is inside the function's body.
#[ttl_cached(secs = 60, helpers = "none")]
fn parse_quietly<T: FromStr + Clone + Send + Sync + 'static>(s: &str) -> Option<T> {
    INNER_RUNS.fetch_add(1, Ordering::SeqCst);
    s.parse().ok()
}

#[test]
fn a_generic_function_without_helpers_keeps_a_map_per_instantiation() {
    assert_eq!(parse_quietly::<u8>("1"), Some(1));
    assert_eq!(parse_quietly::<u8>("1"), Some(1));
    assert_eq!(INNER_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(parse_quietly::<i8>("1"), Some(1));
    assert_eq!(INNER_RUNS.load(Ordering::SeqCst), 2);
}
