use cache_core::ttl_cached;

#[ttl_cached(secs = 60, stale_while_revalidate = 30)]
fn describe<T: std::fmt::Debug + Clone + std::hash::Hash + Eq + Send + Sync + 'static>(
    value: T,
) -> String {
    format!("{value:?}")
}

fn main() {
    describe(1_u8);
}
