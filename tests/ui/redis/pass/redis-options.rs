//! `redis = true` with every option it combines with, and the helpers it adds.

use cache_core::ttl_cached;
use std::time::Duration;

#[ttl_cached(secs = 5, redis = true, version = 3, capacity = 10, refresh = true, lease_secs = 3)]
fn rate(from: &str, to: &str) -> f64 {
    from.len() as f64 / to.len() as f64
}

#[ttl_cached(ttl = Duration::from_millis(500), redis = true, cache_err = true)]
fn fallible(n: u64) -> Result<u64, String> {
    Ok(n)
}

#[ttl_cached(secs = 5, redis = true, key = name.to_lowercase(), single_flight = false)]
async fn profile(name: &str) -> Option<String> {
    Some(name.to_owned())
}

#[ttl_cached(secs = 5, redis = false)]
fn local(n: u64) -> u64 {
    n
}

struct Repo {
    tenant: String,
}

impl Repo {
    #[ttl_cached(secs = 5, redis = true, key = (self.tenant.clone(), id), helpers = "pub(crate)")]
    fn load(&self, id: u64) -> Vec<u8> {
        vec![id as u8]
    }
}

fn main() {
    let _ = rate("EUR", "USD");
    let _ = rate_redis_stats().redis_in_use;
    let _ = fallible(1);
    let _ = profile("Ada");
    let _ = local(1);
    let repo = Repo { tenant: "t".to_owned() };
    let _ = repo.load(1);
    repo.load_invalidate(1);
    Repo::load_clear();
    let _: cache_core::redis::RedisStats = Repo::load_redis_stats();
}
