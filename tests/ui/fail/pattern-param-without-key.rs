use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
fn distance((x, y): (i64, i64)) -> i64 {
    x.abs() + y.abs()
}

fn main() {
    distance((3, 4));
}
