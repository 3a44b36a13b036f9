//! A redis-server of a test's own, on a free port of 127.0.0.1, stopped when dropped.
//! Never a server that happens to be running: each test knows what its server holds.

#![allow(dead_code)] // each test file uses a part of it

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a starting server may take to answer: generous, for a loaded CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    extra: Vec<String>,
}

impl RedisServer {
    /// A server with no persistence, answering on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server with extra arguments, e.g. `["--requirepass", "secret"]`.
    pub fn start_with(extra: &[&str]) -> Self {
        let port = free_port();
        let mut server = RedisServer {
            child: None,
            port,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
        };
        server.restart();
        server
    }

    /// A server that answers only TLS, with this certificate and key (PEM files).
    pub fn start_tls(certificate: &std::path::Path, key: &std::path::Path) -> Self {
        let port = free_port();
        let mut server = RedisServer {
            child: None,
            port,
            extra: vec![
                "--port".to_owned(),
                "0".to_owned(),
                "--tls-port".to_owned(),
                port.to_string(),
                "--tls-cert-file".to_owned(),
                certificate.to_string_lossy().into_owned(),
                "--tls-key-file".to_owned(),
                key.to_string_lossy().into_owned(),
                "--tls-ca-cert-file".to_owned(),
                certificate.to_string_lossy().into_owned(),
                "--tls-auth-clients".to_owned(),
                "no".to_owned(),
            ],
        };
        server.restart();
        server
    }

    /// The `rediss://` URL of a TLS server, accepting its self-signed certificate.
    pub fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{}/#insecure", self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A URL with this password.
    pub fn url_with_password(&self, password: &str) -> String {
        format!("redis://:{password}@127.0.0.1:{}/", self.port)
    }

    /// A direct connection, to look at what is stored (as the admin: no password
    /// argument is given to servers whose tests use this).
    pub fn client(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).expect("a valid URL");
        let connection = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("the test server answers");
        connection
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        connection
    }

    /// `CLIENT PAUSE millis ALL`: the server answers no client for that long.
    pub fn pause_clients(&self, millis: u64) {
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(millis)
            .arg("ALL")
            .query(&mut self.client())
            .expect("CLIENT PAUSE answers");
    }

    /// Stops the server (SIGKILL: as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: no persistence), and waits
    /// until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", &std::env::temp_dir().to_string_lossy()])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed for the Redis tests \
                 (`apt-get install -y redis-server`; `.ci/run` does it)",
            );
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < START_TIMEOUT,
                "redis-server did not start on port {}",
                self.port
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on now (the OS picks it).
fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Tests of one binary share the process's Redis connection: each holds this while it
/// connects and runs, so that none sees another's server.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The keys matching `pattern` (a test's server holds a handful).
pub fn keys(connection: &mut redis::Connection, pattern: &str) -> Vec<Vec<u8>> {
    redis::cmd("KEYS")
        .arg(pattern)
        .query(connection)
        .expect("KEYS answers")
}

/// Waits until `condition` holds, failing after a generous deadline: for effects of
/// commands that the cache sends without waiting (`_invalidate`, `_clear`).
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never happened: {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}
