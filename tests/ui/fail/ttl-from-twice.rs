use cache_core::ttl_cached;
use std::time::Duration;

fn short(_: &u64) -> Option<Duration> {
    Some(Duration::from_secs(5))
}

#[ttl_cached(secs = 60, ttl_from = short, ttl_from = short)]
fn price(item: u32) -> u64 {
    u64::from(item) * 100
}

fn main() {
    price(1);
}
