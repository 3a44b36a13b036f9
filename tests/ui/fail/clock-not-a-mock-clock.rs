use cache_core::ttl_cached;
use std::time::Instant;

#[ttl_cached(secs = 30, clock = Instant::now())]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
}
