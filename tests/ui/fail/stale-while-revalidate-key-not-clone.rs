use cache_core::ttl_cached;

#[derive(Hash, PartialEq, Eq)]
struct Region(u32);

/// A refresh keeps a copy of the key: it must be `Clone`.
#[ttl_cached(secs = 60, key = Region(id), stale_while_revalidate = 30)]
fn banner(id: u32) -> String {
    format!("region {id}")
}

fn main() {
    banner(1);
}
