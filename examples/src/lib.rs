//! Runnable examples live in `examples/`; this library holds what several of them share.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The Redis server an example uses: `REDIS_URL` if set (and no process to stop),
/// else one of its own from [`start_redis_server`].
///
/// ```no_run
/// let (url, server) = cache_examples::redis_url_or_own_server();
/// println!("Redis at {url}");
/// if let Some(mut server) = server {
///     let _ = server.kill();
/// }
/// ```
pub fn redis_url_or_own_server() -> (String, Option<Child>) {
    match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let (url, server) = start_redis_server();
            (url, Some(server))
        }
    }
}

/// Starts a `redis-server` on a free port of 127.0.0.1, with no persistence, and
/// waits until it accepts connections: its URL, and the process to kill at the end.
///
/// Panics if `redis-server` is not installed (`apt-get install redis-server`) or does
/// not start within 10 s: the examples that call it are about Redis, and say so.
///
/// ```no_run
/// let (url, mut server) = cache_examples::start_redis_server();
/// println!("Redis at {url}");
/// let _ = server.kill();
/// ```
pub fn start_redis_server() -> (String, Child) {
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (apt-get install redis-server), or set REDIS_URL");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        thread::sleep(Duration::from_millis(10));
    }
    (format!("redis://127.0.0.1:{port}/"), server)
}
