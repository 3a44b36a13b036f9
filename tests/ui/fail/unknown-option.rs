use cache_core::ttl_cached;

#[ttl_cached(secs = 5, capacty = 100)]
fn lookup(id: u64) -> u64 {
    id
}

#[ttl_cached(secs = 5, timeout = 3)]
fn other(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
    other(1);
}
