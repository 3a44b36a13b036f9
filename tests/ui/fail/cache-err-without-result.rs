use cache_core::ttl_cached;

#[ttl_cached(secs = 5, cache_err = true)]
fn lookup(id: u64) -> Option<u64> {
    Some(id)
}

fn main() {
    lookup(1);
}
