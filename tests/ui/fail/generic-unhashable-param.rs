use cache_core::ttl_cached;

// A generic parameter type is a key part like any other: it must be `Hash + Eq`.
#[ttl_cached(secs = 5)]
fn show<T: std::fmt::Display + Clone + Send + Sync + 'static>(value: T) -> String {
    value.to_string()
}

fn main() {
    show(1u8);
}
