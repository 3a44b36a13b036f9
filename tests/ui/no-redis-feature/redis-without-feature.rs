use cache_core::ttl_cached;

#[ttl_cached(secs = 300, redis = true)]
fn exchange_rate(from: &str, to: &str) -> Result<f64, String> {
    Ok(from.len() as f64 / to.len() as f64)
}

fn main() {
    let _ = exchange_rate("EUR", "USD");
    exchange_rate_invalidate("EUR", "USD");
    exchange_rate_clear();
}
