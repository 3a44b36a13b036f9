use cache_core::ttl_cached;

const FIVE_SECONDS: u64 = 5;

#[ttl_cached(secs = 60, ttl_from = FIVE_SECONDS)]
fn price(item: u32) -> u64 {
    u64::from(item) * 100
}

fn main() {
    price(1);
}
