use cache_core::ttl_cached;

#[ttl_cached(secs = 1.5)]
fn lookup(id: u64) -> u64 {
    id
}

#[ttl_cached(millis = "250")]
fn other(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
    other(1);
}
