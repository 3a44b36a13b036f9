use cache_core::ttl_cached;

#[derive(Clone, Hash, PartialEq, Eq)]
struct Currency(u8);

#[ttl_cached(secs = 5, redis = true)]
fn rate(from: Currency, to: &str) -> u64 {
    u64::from(from.0) + to.len() as u64
}

fn main() {
    rate(Currency(1), "USD");
    rate_invalidate(Currency(1), "USD");
}
