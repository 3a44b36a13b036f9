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
