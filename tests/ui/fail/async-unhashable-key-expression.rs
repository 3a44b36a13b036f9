use cache_core::ttl_cached;

#[ttl_cached(secs = 5, key = ratio)]
async fn scaled(ratio: f64, base: u64) -> u64 {
    (base as f64 * ratio) as u64
}

fn main() {
    let _ = scaled(0.5, 10);
}
