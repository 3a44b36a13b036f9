use cache_core::ttl_cached;

// A generic parameter type is a key part like any other: it must be `Hash + Eq`.
#[ttl_cached(secs = 5)]
fn show<T: std::fmt::Display + Clone + Send + Sync + 'static>(value: T) -> String {
    value.to_string()
}

fn main() {
    show(1u8);
    use_wrap();
}

// A type parameter in the value: it must be cloneable, and the error says only that.
#[ttl_cached(secs = 5)]
fn wrap<T: Send + Sync + 'static + Default>(id: u64) -> Vec<T> {
    let _ = id;
    vec![T::default()]
}

fn use_wrap() {
    let _: Vec<u8> = wrap(1);
}
