use cache_core::ttl_cached;

#[ttl_cached(capacity = 10)]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
}
