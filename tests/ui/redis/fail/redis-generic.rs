use cache_core::ttl_cached;

#[ttl_cached(secs = 5, redis = true)]
fn parse<T: std::str::FromStr + Clone + Send + Sync + 'static>(s: &str) -> Option<T> {
    s.parse().ok()
}

fn main() {
    let _ = parse::<u8>("1");
}
