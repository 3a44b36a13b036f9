use cache_core::ttl_cached;

#[ttl_cached(secs = 60, err_secs = 5)]
fn price(item: u32) -> u64 {
    u64::from(item) * 100
}

fn main() {
    price(1);
}
