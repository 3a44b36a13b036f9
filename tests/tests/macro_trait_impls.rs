//! `#[ttl_cached]` methods in trait impls, through `#[ttl_cached_impl]` on the block:
//! they memoize, and their helpers are inherent functions of the type.

use cache_core::{ttl_cached, ttl_cached_impl};
use std::sync::atomic::{AtomicUsize, Ordering};

trait Store {
    fn get(&self, id: u64) -> String;
    fn lookup(id: u64) -> u64;
    fn describe(&self) -> String {
        "a store".to_owned()
    }
}

struct Db {
    name: String,
    runs: AtomicUsize,
}

static LOOKUP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached_impl]
impl Store for Db {
    #[ttl_cached(secs = 60, key = (self.name.clone(), id))]
    fn get(&self, id: u64) -> String {
        self.runs.fetch_add(1, Ordering::SeqCst);
        // The trait's other methods stay callable from the body.
        format!("{}/{id} in {}", self.name, self.describe())
    }

    /// An associated function that mentions neither `self` nor `Self`.
    #[ttl_cached(secs = 60, helpers = "pub(crate)")]
    fn lookup(id: u64) -> u64 {
        LOOKUP_RUNS.fetch_add(1, Ordering::SeqCst);
        id * 2
    }
}

fn db(name: &str) -> Db {
    Db {
        name: name.to_owned(),
        runs: AtomicUsize::new(0),
    }
}

#[test]
fn a_trait_method_runs_its_body_once_per_key() {
    let db = db("trait-method");
    assert_eq!(db.get(1), "trait-method/1 in a store");
    assert_eq!(db.get(1), "trait-method/1 in a store");
    assert_eq!(db.runs.load(Ordering::SeqCst), 1);
    assert_eq!(db.get(2), "trait-method/2 in a store");
    assert_eq!(db.runs.load(Ordering::SeqCst), 2);
    // Through the trait, generically, too.
    fn through<S: Store>(store: &S) -> String {
        store.get(1)
    }
    assert_eq!(through(&db), "trait-method/1 in a store");
    assert_eq!(db.runs.load(Ordering::SeqCst), 2);
}

#[test]
fn a_trait_methods_helpers_reach_its_cache() {
    let db = db("helpers");
    db.get(5);
    assert!(db.get_invalidate(5));
    assert!(!db.get_invalidate(5));
    db.get(5);
    assert_eq!(db.runs.load(Ordering::SeqCst), 2);
    assert_eq!(db.get_uncached(5), "helpers/5 in a store");
    assert_eq!(db.runs.load(Ordering::SeqCst), 3);
    db.get_refresh(6);
    db.get(6);
    assert_eq!(
        db.runs.load(Ordering::SeqCst),
        4,
        "refresh stored the value"
    );
    assert!(Db::get_cache().len() >= 2);
}

#[test]
fn an_associated_function_without_receiver_memoizes() {
    assert_eq!(<Db as Store>::lookup(21), 42);
    assert_eq!(Db::lookup(21), 42);
    assert_eq!(LOOKUP_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(Db::lookup_cache().stats().computations, 1);
    Db::lookup_clear();
    assert_eq!(Db::lookup(21), 42);
    assert_eq!(LOOKUP_RUNS.load(Ordering::SeqCst), 2);
}

/// A generic impl: the helpers' inherent `impl` has the same generics.
struct Wrapper<T>(T);

trait Named {
    fn name(&self, suffix: u8) -> String;
}

static NAME_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached_impl]
impl<T: std::fmt::Debug + Send + Sync> Named for Wrapper<T> {
    #[ttl_cached(secs = 60, key = (format!("{:?}", self.0), suffix))]
    fn name(&self, suffix: u8) -> String {
        NAME_RUNS.fetch_add(1, Ordering::SeqCst);
        format!("{:?}{suffix}", self.0)
    }
}

#[test]
fn a_generic_trait_impl_memoizes() {
    assert_eq!(Wrapper(7u8).name(1), "71");
    assert_eq!(Wrapper(7u8).name(1), "71");
    assert_eq!(NAME_RUNS.load(Ordering::SeqCst), 1);
}

/// Without `#[ttl_cached_impl]`: `helpers = "none"` keeps everything inside the
/// method's body, so a bare `#[ttl_cached]` compiles in a trait impl.
trait Lookup {
    fn find(&self, id: u64) -> Option<u64>;
    fn count(words: &str) -> usize;
    fn sum(&self, pair: (u64, u64), scale: u64) -> u64;
    async fn fetch(&self, id: u64) -> Result<u64, std::num::ParseIntError>;
}

struct Index {
    runs: AtomicUsize,
}

static COUNT_RUNS: AtomicUsize = AtomicUsize::new(0);

impl Lookup for Index {
    #[ttl_cached(secs = 60, key = id, helpers = "none")]
    fn find(&self, id: u64) -> Option<u64> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if id == 0 {
            // `return` stays the body's: the result is still cached (or not) as usual.
            return None;
        }
        Some(id + 1)
    }

    #[ttl_cached(secs = 60, helpers = "none")]
    fn count(words: &str) -> usize {
        COUNT_RUNS.fetch_add(1, Ordering::SeqCst);
        words.split_whitespace().count()
    }

    #[ttl_cached(secs = 60, key = (a, b, scale), helpers = "none")]
    fn sum(&self, (a, b): (u64, u64), mut scale: u64) -> u64 {
        self.runs.fetch_add(1, Ordering::SeqCst);
        scale += 0;
        (a + b) * scale
    }

    #[ttl_cached(secs = 60, key = id, helpers = "none")]
    async fn fetch(&self, id: u64) -> Result<u64, std::num::ParseIntError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        // `?` in the body converts to the function's error type.
        let parsed: u64 = id.to_string().parse()?;
        Ok(parsed)
    }
}

#[test]
fn helpers_none_memoizes_in_a_trait_impl_without_the_block_attribute() {
    let index = Index {
        runs: AtomicUsize::new(0),
    };
    assert_eq!(index.find(1), Some(2));
    assert_eq!(index.find(1), Some(2));
    assert_eq!(index.runs.load(Ordering::SeqCst), 1);
    // `None` is not cached: the body runs each time.
    assert_eq!(index.find(0), None);
    assert_eq!(index.find(0), None);
    assert_eq!(index.runs.load(Ordering::SeqCst), 3);

    assert_eq!(Index::count("a b c"), 3);
    assert_eq!(Index::count("a b c"), 3);
    assert_eq!(COUNT_RUNS.load(Ordering::SeqCst), 1);

    assert_eq!(index.sum((1, 2), 2), 6);
    assert_eq!(index.sum((1, 2), 2), 6);
    assert_eq!(index.runs.load(Ordering::SeqCst), 4);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(index.fetch(9).await, Ok(9));
        assert_eq!(index.fetch(9).await, Ok(9));
    });
    assert_eq!(index.runs.load(Ordering::SeqCst), 5);
}
