use cache_core::ttl_cached;

#[ttl_cached(secs = 5, capacity = 10, capacity = 20)]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
    lookup_clear();
}
