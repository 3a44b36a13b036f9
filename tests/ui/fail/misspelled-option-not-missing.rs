use cache_core::ttl_cached;

// One error each: the misspelled option, not also "missing TTL" or "needs `key`".
#[ttl_cached(sec = 5)]
fn lookup(id: u64) -> u64 {
    id
}

pub struct Repo;

impl Repo {
    #[ttl_cached(secs = 5, kye = id)]
    pub fn load(&self, id: u64) -> u64 {
        id
    }
}

fn main() {
    lookup(1);
    Repo.load(1);
}
