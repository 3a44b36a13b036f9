use cache_core::ttl_cached;

#[ttl_cached(secs = 30, helpers = "public")]
fn lookup(id: u64) -> u64 {
    id
}

#[ttl_cached(secs = 30, helpers = pub(crate))]
fn fetch(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
    fetch(1);
}
