use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
fn describe(value: impl std::fmt::Debug) -> String {
    format!("{value:?}")
}

fn main() {
    describe(1);
}
