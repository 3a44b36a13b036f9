use cache_core::ttl_cached;

#[ttl_cached(secs = 60, stale_if_error = 0)]
fn price(item: u32) -> Result<u64, String> {
    Ok(u64::from(item) * 100)
}

fn main() {
    let _ = price(1);
}
