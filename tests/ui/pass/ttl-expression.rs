//! `ttl = <expr>`, `capacity`, `refresh` and `single_flight` together.
#![deny(warnings)]

use cache_core::ttl_cached;
use std::time::Duration;

fn configured_ttl() -> Duration {
    Duration::from_secs(30)
}

#[ttl_cached(ttl = configured_ttl(), capacity = 100, refresh = true, single_flight = false)]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {
    lookup(1);
}
