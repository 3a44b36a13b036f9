//! `rediss://` URLs (cache-core's `redis-tls` feature) against a redis-server that
//! answers only TLS, with a self-signed certificate made for the test.

#![cfg(feature = "redis-tls")]

#[path = "support/redis_server.rs"]
mod support;

use cache_core::redis::Config;
use cache_core::ttl_cached;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use support::RedisServer;

static RUNS: AtomicU64 = AtomicU64::new(0);

#[ttl_cached(secs = 60, redis = true)]
fn tls_square(n: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    n * n
}

/// A self-signed certificate and its key, in a directory of this test's own.
fn certificate() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ttl-cached-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let (certificate, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .expect("openssl is installed (it makes the test's certificate)");
    assert!(status.status.success(), "openssl failed: {status:?}");
    (certificate, key)
}

#[test]
fn a_rediss_url_shares_results_over_tls() {
    let (cert, key) = certificate();
    let server = RedisServer::start_tls(&cert, &key);
    // Plain RESP to a TLS-only port is refused at `connect`, with an error, not later.
    let plain = format!(
        "redis://{}",
        server.tls_url().trim_start_matches("rediss://")
    );
    let refused = Config::new(&plain)
        .connect_timeout(std::time::Duration::from_secs(2))
        .connect();
    assert!(
        refused.is_err(),
        "plain RESP to a TLS port must fail to connect"
    );

    Config::new(&server.tls_url())
        .namespace("tls-test")
        .connect()
        .expect("the TLS server answers a rediss:// URL");
    assert_eq!(tls_square(12), 144);
    let stats = tls_square_redis_stats();
    assert!(stats.redis_in_use, "{stats:?}");
    assert_eq!(stats.redis_errors, 0, "{stats:?}");

    // The value is in Redis, read back over TLS by a client of the test's own.
    let client = redis::Client::open(server.tls_url()).expect("a valid rediss:// URL");
    let mut connection = client.get_connection().expect("a TLS connection");
    let stored: Vec<String> = redis::cmd("KEYS")
        .arg("tls-test:*tls_square*")
        .query(&mut connection)
        .expect("KEYS answers");
    assert!(
        stored.iter().any(|key| !key.ends_with(":gen")),
        "the computed value is stored: {stored:?}"
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
}
