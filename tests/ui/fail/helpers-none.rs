use cache_core::ttl_cached;

#[ttl_cached(secs = 30, helpers = "none")]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
    lookup_invalidate(1);
}
