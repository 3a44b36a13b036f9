use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
const fn double(n: u64) -> u64 {
    n * 2
}

fn main() {
    double(1);
}
