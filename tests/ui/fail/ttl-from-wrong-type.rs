use cache_core::ttl_cached;
use std::time::Duration;

/// Takes the `Ok` value, where `ttl_from` gives the whole `Result`.
fn seconds(value: &u64) -> Option<Duration> {
    Some(Duration::from_secs(*value))
}

#[ttl_cached(secs = 60, ttl_from = seconds)]
fn price(item: u32) -> Result<u64, String> {
    Ok(u64::from(item) * 100)
}

fn main() {
    let _ = price(1);
}
