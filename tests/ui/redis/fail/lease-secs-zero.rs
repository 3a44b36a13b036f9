use cache_core::ttl_cached;

#[ttl_cached(secs = 5, redis = true, lease_secs = 0)]
fn rate(currency: &str) -> u64 {
    currency.len() as u64
}

fn main() {
    rate("EUR");
}
