use cache_core::ttl_cached;

#[ttl_cached(secs = 5, redis = true, lease_secs = "10")]
fn rate(currency: &str) -> u64 {
    currency.len() as u64
}

#[ttl_cached(secs = 5, redis = true, lease_secs = 2.5)]
fn rates(currency: &str) -> u64 {
    currency.len() as u64
}

fn main() {
    rate("EUR");
    rates("EUR");
}
