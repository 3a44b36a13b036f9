use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
async fn fetch(id: u64) -> u64 {
    id
}

fn main() {
    let _ = fetch(1);
}
