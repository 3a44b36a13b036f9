//! Generic functions: type parameters with bounds inline and in `where`, lifetimes that
//! stay out of the key and value, `async`, and every helper with the type parameters.
#![deny(warnings)]

use cache_core::ttl_cached;
use std::str::FromStr;

#[ttl_cached(secs = 60)]
pub fn parse<T: FromStr + Clone + Send + Sync + 'static>(s: &str) -> Option<T> {
    s.parse().ok()
}

#[ttl_cached(secs = 60, helpers = "pub(crate)")]
pub fn first<'a, T>(items: &'a [T]) -> Option<T>
where
    T: Clone + std::hash::Hash + Eq + Send + Sync + 'static,
{
    items.first().cloned()
}

#[ttl_cached(secs = 60, key = s.len())]
pub async fn parse_len<T: FromStr + Clone + Send + Sync + 'static>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| s.to_owned())
}

fn main() {
    let _: Option<u8> = parse("1");
    let _ = parse_cache::<u8>().stats();
    parse_clear::<u8>();
    let _: bool = parse_invalidate::<u8>("1");
    let _: Option<u8> = parse_uncached("1");
    let _: Option<u8> = parse_refresh("1");
    let _ = first(&[1u8, 2]);
    let _ = first_cache::<u8>().len();
    let _ = parse_len::<u8>("1");
    let _ = parse_len_cache::<u8>().len();
}
