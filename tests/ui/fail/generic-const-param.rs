use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
fn repeat<const N: usize>(s: &str) -> String {
    s.repeat(N)
}

fn main() {
    repeat::<2>("a");
}
