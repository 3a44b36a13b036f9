#![deny(warnings)]
use cache_core::ttl_cached;

// Each warning about the user's own code is reported once, at the user's token, not
// once per generated helper.
#[ttl_cached(secs = 5)]
pub fn load(id: u64, unused: u64, mut never_mutated: u64) -> u64 {
    let also_unused = 1;
    id + never_mutated
}

#[ttl_cached(secs = 5, key = id)]
pub fn keyed(id: u64, unused: &str) -> u64 {
    id
}

#[ttl_cached(secs = 5, key = id)]
pub async fn keyed_async(id: u64, unused: &str) -> u64 {
    id
}

#[ttl_cached(secs = 5, helpers = "none")]
pub fn in_body(id: u64, unused: u64, mut never_mutated: u64) -> u64 {
    id + never_mutated
}

pub struct Repo;

impl Repo {
    #[ttl_cached(secs = 5, key = id)]
    pub fn load(&self, id: u64, unused: u8) -> u64 {
        id
    }
}

fn main() {}
