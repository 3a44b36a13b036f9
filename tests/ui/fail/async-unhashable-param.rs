use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
async fn area(width: f64, name: &str) -> u64 {
    let _ = name;
    width as u64
}

fn main() {
    let _ = area(1.5, "square");
}
