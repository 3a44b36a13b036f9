use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
fn describe<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

fn main() {
    describe(1);
}
