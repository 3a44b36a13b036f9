//! `#[ttl_cached_impl]`: cached methods and associated functions in trait impls, their
//! helpers as inherent functions, with `#![deny(warnings)]` (no unused import of
//! `ttl_cached`, no dead helper).
#![deny(warnings)]

use cache_core::{ttl_cached, ttl_cached_impl};

trait Store {
    fn get(&self, id: u64) -> String;
    fn open(name: &str) -> Self;
    async fn fetch(&self, id: u64) -> Result<u64, String>;
}

#[derive(Clone)]
struct Db {
    name: String,
}

#[ttl_cached_impl]
impl Store for Db {
    /// Doc comments stay on the method.
    #[ttl_cached(secs = 20, key = (self.name.clone(), id))]
    fn get(&self, id: u64) -> String {
        format!("{}/{id}", self.name)
    }

    #[cache_core::ttl_cached(secs = 20, helpers = "none")]
    fn open(name: &str) -> Self {
        Db { name: name.to_owned() }
    }

    #[ttl_cached(millis = 500, key = id, helpers = "pub")]
    async fn fetch(&self, id: u64) -> Result<u64, String> {
        Ok(id)
    }
}

/// Without `#[ttl_cached_impl]`: `helpers = "none"` keeps everything in the body.
pub trait Plain {
    fn plain(&self, id: u64) -> u64;
    fn associated(id: u64) -> u64;
}

impl Plain for Db {
    #[ttl_cached(secs = 20, key = id, helpers = "none")]
    fn plain(&self, id: u64) -> u64 {
        id + self.name.len() as u64
    }

    #[ttl_cached(secs = 20, helpers = "none")]
    fn associated(id: u64) -> u64 {
        id
    }
}

fn main() {
    let _ = Db::associated(1) + Db::open("x").plain(1);
    let db = Db::open("main");
    let _: String = db.get(1);
    let _: bool = db.get_invalidate(1);
    Db::get_clear();
    let _ = Db::fetch_cache().len();
    let _ = db.fetch(1);
}
