//! Receivers of every kind, with `key`, and associated functions without one.
#![deny(warnings)]

use cache_core::ttl_cached;
use std::sync::Arc;

#[derive(Clone)]
pub struct Repo {
    tenant: String,
}

impl Repo {
    #[ttl_cached(secs = 30, key = (self.tenant.clone(), id))]
    pub fn load(&self, id: u64) -> String {
        format!("{}/{id}", self.tenant)
    }

    #[ttl_cached(secs = 30, key = id)]
    pub fn load_shared(self: Arc<Self>, id: u64) -> String {
        format!("{}/{id}", self.tenant)
    }

    #[ttl_cached(secs = 30, key = self.tenant.len())]
    pub fn consume(self) -> usize {
        self.tenant.len()
    }

    /// An associated function: `Self` makes it one.
    #[ttl_cached(secs = 30)]
    pub fn named(tenant: &str) -> Self {
        Self { tenant: tenant.to_owned() }
    }

    #[ttl_cached(secs = 30, key = (x, y))]
    pub fn distance(&self, (x, y): (i64, i64)) -> i64 {
        let _ = self;
        x.abs() + y.abs()
    }
}

fn main() {
    let repo = Repo::named("acme");
    repo.load(1);
    let _: bool = repo.load_invalidate(1);
    let _: String = repo.load_refresh(1);
    let _: String = repo.load_uncached(1);
    Repo::load_clear();
    let _ = Repo::load_cache().len();

    Arc::new(repo.clone()).load_shared(2);
    repo.clone().consume();
    repo.distance((3, -4));
    let _ = Repo::named_cache().stats();
}
