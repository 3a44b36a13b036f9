//! Every kind of parameter the default key supports, and every helper.
#![deny(warnings)]

use cache_core::ttl_cached;
use std::path::{Path, PathBuf};

#[ttl_cached(secs = 60)]
fn no_parameters() -> u64 {
    42
}

#[ttl_cached(secs = 60)]
fn copy_and_borrowed(id: u64, region: &str, bytes: &[u8], path: &Path) -> String {
    format!("{id}/{region}/{}/{}", bytes.len(), path.display())
}

#[ttl_cached(secs = 60)]
fn owned(name: String, tags: Vec<String>, mut count: usize) -> usize {
    count += name.len() + tags.len();
    count
}

#[ttl_cached(secs = 60)]
fn unit_result(id: u64) {
    let _ = id;
}

fn main() {
    assert_eq!(no_parameters(), 42);
    let _: &'static cache_core::TtlMap<(), u64> = no_parameters_cache();

    copy_and_borrowed(1, "eu", &[1, 2], Path::new("/tmp"));
    let _: &'static cache_core::TtlMap<(u64, String, Vec<u8>, PathBuf), String> =
        copy_and_borrowed_cache();
    let _: bool = copy_and_borrowed_invalidate(1, "eu", &[1, 2], Path::new("/tmp"));
    let _: String = copy_and_borrowed_refresh(1, "eu", &[1, 2], Path::new("/tmp"));
    let _: String = copy_and_borrowed_uncached(1, "eu", &[1, 2], Path::new("/tmp"));
    copy_and_borrowed_clear();

    owned("a".to_owned(), vec![], 1);
    let _: &'static cache_core::TtlMap<(String, Vec<String>, usize), usize> = owned_cache();

    unit_result(1);
}
