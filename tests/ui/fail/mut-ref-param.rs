use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
fn push_and_count(items: &mut Vec<u64>, item: u64) -> usize {
    items.push(item);
    items.len()
}

fn main() {
    push_and_count(&mut Vec::new(), 1);
}
