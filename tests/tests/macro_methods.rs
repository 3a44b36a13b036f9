//! `#[ttl_cached]` in `impl` blocks: methods with `key`, any receiver, and
//! associated functions. The cache is one static, shared by every instance.

use cache_core::ttl_cached;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

static LOAD_RUNS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone)]
struct Repo {
    tenant: String,
}

impl Repo {
    fn new(tenant: &str) -> Self {
        Repo {
            tenant: tenant.to_owned(),
        }
    }

    #[ttl_cached(secs = 60, key = (self.tenant.clone(), id))]
    fn load(&self, id: u64) -> String {
        LOAD_RUNS.fetch_add(1, Ordering::SeqCst);
        format!("{}/{id}", self.tenant)
    }

    #[ttl_cached(secs = 60, key = id)]
    fn load_shared(self: Arc<Self>, id: u64) -> String {
        format!("{}/{id}", self.tenant)
    }

    /// An associated function without receiver: no `key` needed.
    #[ttl_cached(secs = 60)]
    fn named(tenant: &str) -> Self {
        Self::new(tenant)
    }
}

#[test]
fn instances_with_the_same_key_share_entries() {
    let first = Repo::new("acme");
    let second = Repo::new("acme");
    assert_eq!(first.load(1), "acme/1");
    assert_eq!(second.load(1), "acme/1");
    let other = Repo::new("globex");
    assert_eq!(other.load(1), "globex/1");
    assert_eq!(LOAD_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(Repo::load_cache().len(), 2);
}

#[test]
fn method_helpers_take_the_receiver_and_clear_takes_none() {
    let repo = Repo::new("initech");
    repo.load(5);
    assert!(repo.load_invalidate(5));
    assert!(!repo.load_invalidate(5));
    assert_eq!(repo.load_refresh(6), "initech/6");
    assert_eq!(repo.load_uncached(7), "initech/7");
    assert!(Repo::load_cache().stats().insertions >= 1);
    Repo::load_clear();
}

#[test]
fn an_arc_receiver_works_and_the_key_alone_decides_sharing() {
    let repo = Arc::new(Repo::new("umbrella"));
    assert_eq!(Arc::clone(&repo).load_shared(3), "umbrella/3");
    assert_eq!(Repo::new("other").into_arc().load_shared(3), "umbrella/3");
}

impl Repo {
    fn into_arc(self) -> Arc<Self> {
        Arc::new(self)
    }
}

#[test]
fn an_associated_function_without_receiver_is_cached_by_its_parameters() {
    assert_eq!(Repo::named("a").tenant, "a");
    assert_eq!(Repo::named("a").tenant, "a");
    assert_eq!(Repo::named_cache().stats().hits, 1);
}

static PRICE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The key is a subset of the parameters: `region` does not change the price.
#[ttl_cached(secs = 60, key = id)]
fn price(id: u64, region: &str) -> u64 {
    PRICE_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 100 + region.len() as u64
}

#[test]
fn key_may_leave_parameters_out() {
    assert_eq!(price(1, "eu"), 102);
    assert_eq!(price(1, "north-america"), 102, "same key, cached value");
    assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 1);
    assert!(price_invalidate(1, "anywhere"));
}

#[ttl_cached(secs = 60, key = x * 1000 + y)]
fn manhattan((x, y): (i64, i64)) -> i64 {
    x.abs() + y.abs()
}

#[test]
fn a_pattern_parameter_works_with_key() {
    assert_eq!(manhattan((3, -4)), 7);
    assert_eq!(manhattan((3, -4)), 7);
    assert_eq!(manhattan_cache().stats().hits, 1);
}
