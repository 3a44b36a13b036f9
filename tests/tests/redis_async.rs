//! `async fn` with `redis = true` under tokio (multi-thread and current-thread) and
//! smol: shared through Redis, with no runtime feature enabled in cache-core, and no
//! executor thread ever blocked on Redis.

#![cfg(feature = "redis")]

#[path = "support/redis_server.rs"]
mod support;

use cache_core::redis::Config;
use cache_core::ttl_cached;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use support::{exclusive, RedisServer};

fn connect(server: &RedisServer) {
    Config::new(&server.url())
        .command_timeout(Duration::from_millis(200))
        .connect()
        .unwrap();
}

#[ttl_cached(secs = 60, redis = true)]
async fn on_tokio(n: u64) -> Result<u64, String> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(n * 2)
}

#[test]
fn shared_under_tokio_multi_thread() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Spawned: the future is `Send`.
        let computed = tokio::spawn(on_tokio(4)).await.unwrap();
        assert_eq!(computed, Ok(8));
        on_tokio_cache().clear();
        assert_eq!(tokio::spawn(on_tokio(4)).await.unwrap(), Ok(8));
    });
    let stats = on_tokio_redis_stats();
    assert_eq!((stats.computations, stats.redis_hits), (1, 1));
}

#[ttl_cached(secs = 60, redis = true)]
async fn on_current_thread(n: u64) -> u64 {
    n * 3
}

#[test]
fn shared_under_tokio_current_thread() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(on_current_thread(5).await, 15);
        on_current_thread_cache().clear();
        assert_eq!(on_current_thread(5).await, 15);
    });
    let stats = on_current_thread_redis_stats();
    assert_eq!((stats.computations, stats.redis_hits), (1, 1));
}

#[ttl_cached(secs = 60, redis = true)]
async fn on_smol(n: u64) -> String {
    format!("smol {n}")
}

#[test]
fn shared_under_smol() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    smol::block_on(async {
        assert_eq!(on_smol(6).await, "smol 6");
        on_smol_cache().clear();
        assert_eq!(on_smol(6).await, "smol 6");
    });
    let stats = on_smol_redis_stats();
    assert_eq!((stats.computations, stats.redis_hits), (1, 1));
}

#[ttl_cached(secs = 60, redis = true)]
async fn paused(n: u64) -> u64 {
    n
}

#[test]
fn waiting_for_redis_never_blocks_the_executor_thread() {
    let _exclusive = exclusive();
    let server = RedisServer::start();
    connect(&server);
    server.pause_clients(3000);
    static TICKS: AtomicU64 = AtomicU64::new(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // One thread runs both tasks: the ticker ticks only while `paused` awaits.
        let ticker = tokio::spawn(async {
            loop {
                TICKS.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        tokio::task::yield_now().await;
        let before = TICKS.load(Ordering::SeqCst);
        assert_eq!(paused(1).await, 1);
        let during = TICKS.load(Ordering::SeqCst) - before;
        ticker.abort();
        assert!(
            during >= 3,
            "the executor ran {during} ticks while Redis was awaited"
        );
    });
    assert!(paused_redis_stats().redis_errors >= 1);
}
