use cache_core::ttl_cached;

#[ttl_cached(secs = 5, millis = 500)]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
}
