//! `Result`, `io::Result` and `Option` cache only the success, unless told otherwise.
#![deny(warnings)]

use cache_core::ttl_cached;
use std::io;

#[derive(Debug)]
pub struct NotClone;

#[ttl_cached(secs = 60)]
fn parse(text: &str) -> Result<u64, NotClone> {
    text.parse().map_err(|_| NotClone)
}

#[ttl_cached(secs = 60)]
fn read(path: &str) -> io::Result<String> {
    Ok(path.to_owned())
}

#[ttl_cached(secs = 60, cache_err = true)]
fn parse_all(text: &str) -> Result<u64, String> {
    text.parse().map_err(|_| text.to_owned())
}

#[ttl_cached(secs = 60)]
fn find(id: u64) -> Option<String> {
    (id > 0).then(|| id.to_string())
}

#[ttl_cached(secs = 60, cache_none = true)]
fn find_all(id: u64) -> Option<String> {
    (id > 0).then(|| id.to_string())
}

fn main() {
    let _ = parse("1");
    let _: &'static cache_core::TtlMap<(String,), u64> = parse_cache();
    let _ = read("a");
    let _: &'static cache_core::TtlMap<(String,), Result<u64, String>> = parse_all_cache();
    let _ = find(1);
    let _: &'static cache_core::TtlMap<(u64,), String> = find_cache();
    let _: &'static cache_core::TtlMap<(u64,), Option<String>> = find_all_cache();
}
