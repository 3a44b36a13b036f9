use cache_core::ttl_cached;

// One map per instantiation needs the type parameters' `TypeId`: they must be
// `'static`. One error, naming the parameter and the fix.
#[ttl_cached(secs = 5)]
fn describe<T: std::fmt::Debug>(id: u64) -> String {
    format!("{id}: {}", std::any::type_name::<T>())
}

fn main() {
    describe::<u8>(1);
}
