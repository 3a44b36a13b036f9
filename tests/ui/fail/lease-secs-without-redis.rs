use cache_core::ttl_cached;

#[ttl_cached(secs = 5, lease_secs = 2)]
fn rate(currency: &str) -> u64 {
    currency.len() as u64
}

fn main() {
    rate("EUR");
}
