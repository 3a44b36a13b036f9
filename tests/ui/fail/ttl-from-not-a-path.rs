use cache_core::ttl_cached;

#[ttl_cached(secs = 60, ttl_from = |_: &u64| None)]
fn price(item: u32) -> u64 {
    u64::from(item) * 100
}

fn main() {
    price(1);
}
