use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
struct Config {
    ttl: u64,
}

fn main() {
    let _ = Config { ttl: 1 };
}
