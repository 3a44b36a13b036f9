use cache_core::ttl_cached;

#[derive(Clone)]
struct Rate(f64);

#[ttl_cached(secs = 5, redis = true)]
fn rate(currency: &str) -> Result<Rate, String> {
    Ok(Rate(currency.len() as f64))
}

fn main() {
    let _ = rate("EUR");
    rate_clear();
}
