use cache_core::ttl_cached;

#[derive(Clone, Hash, PartialEq, Eq)]
pub struct Region(u8);

// A `key` expression of a `redis = true` function must be `Serialize` too: one error,
// at the expression, naming no generated item.
#[ttl_cached(secs = 5, redis = true, key = Region(region))]
fn price(region: u8) -> u64 {
    u64::from(region)
}

fn main() {
    price(1);
}
