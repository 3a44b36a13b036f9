use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
fn area(width: f64, name: &str) -> u64 {
    width as u64 + name.len() as u64
}

fn main() {
    area(1.0, "square");
    area_invalidate(1.0, "square");
    area_clear();
}
