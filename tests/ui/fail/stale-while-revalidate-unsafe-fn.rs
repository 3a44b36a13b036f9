use cache_core::ttl_cached;

/// # Safety
/// `index` is in bounds of `TABLE`.
#[ttl_cached(secs = 60, stale_while_revalidate = 30)]
unsafe fn entry(index: usize) -> u64 {
    static TABLE: [u64; 4] = [1, 2, 3, 4];
    unsafe { *TABLE.get_unchecked(index) }
}

fn main() {
    unsafe { entry(1) };
}
