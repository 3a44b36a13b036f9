use cache_core::ttl_cached;

#[ttl_cached(secs = 60, stale_if_error = 30)]
fn price(item: u32) -> Option<u64> {
    Some(u64::from(item) * 100)
}

fn main() {
    price(1);
}
