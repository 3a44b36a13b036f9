//! A Redis second level under the in-process map (feature `redis`): a result computed
//! by one process is served to every process that shares the server.
//!
//! ```no_run
//! use cache_core::ttl_cached;
//!
//! #[ttl_cached(secs = 300, redis = true)]
//! fn exchange_rate(from: &str, to: &str) -> Result<f64, String> {
//!     Ok(1.08) // imagine a slow call to a rates service
//! }
//!
//! fn main() -> Result<(), cache_core::redis::Error> {
//!     cache_core::redis::connect("redis://127.0.0.1:6379/")?; // once, at start-up
//!     let rate = exchange_rate("EUR", "USD");
//!     println!("{rate:?} {:?}", exchange_rate_redis_stats());
//!     Ok(())
//! }
//! ```
//!
//! # Where a value comes from
//!
//! The in-process map first (a hit there does no I/O at all), then Redis (one round
//! trip), then the function's body. A computed value is written to Redis with the
//! function's TTL (`SET … PX`); a value read from Redis is kept in-process no longer
//! than it still lives there (its `PTTL`, read in the same round trip: the machines'
//! clocks never matter).
//!
//! # Connecting
//!
//! [`connect`] (or [`Config::connect`]) connects the process and checks that the
//! server answers: a wrong password or an unreachable server is an `Err` there, and the
//! process then runs local-only. Without a `connect` call, the first use reads the URL
//! from the `REDIS_URL` environment variable (waiting at most the connect timeout for
//! the server, once). With neither, `redis = true` functions behave exactly as plain
//! `#[ttl_cached]` ones, and their [`RedisStats::redis_in_use`] says so.
//!
//! `connect` also waits, at most the connect timeout, until changes made in Redis
//! reach the process (see "Coherence across processes"). A function's copies made
//! before the process was connected are dropped at its first miss after.
//!
//! URLs are the `redis` crate's: `redis://[user:password@]host[:port][/db]`,
//! `redis+unix:///path/to/socket`, and `rediss://` (TLS) with the `redis-tls` feature.
//!
//! # Never a single point of failure
//!
//! Redis I/O runs on one thread of this crate: a caller queues its command and waits
//! for the answer at most the command timeout (an `async fn` awaits it, never blocking
//! its executor's thread, and needs no runtime feature). When Redis is down, slow, or
//! refuses (an error reply such as OOM or READONLY), the function computes and serves
//! locally, and the process stops sending for a back-off (a circuit breaker): a dead
//! Redis then costs a call one atomic load. The thread reconnects by itself.
//!
//! # Keys and values
//!
//! Keys are `{namespace}:{crate}:{module path}:{function}:{version}:{generation}:{arguments}`,
//! the arguments in full (postcard-encoded), so two argument tuples never share an
//! entry. `_clear` increments the function's generation (one `INCR`, whatever the
//! number of entries; old entries age out). Values are postcard in a small envelope
//! (a format tag and the type's fingerprint): a value that does not decode, written by
//! another build or garbage, is a miss, deleted, counted in
//! [`RedisStats::discarded_values`], and recomputed. A value larger than
//! [`Config::max_value_bytes`] (1 MiB by default) stays local.
//!
//! # Coherence across processes
//!
//! Every process keeps in-process copies, and drops them when Redis's copy changes:
//! after `f_invalidate(args)`, `f_clear()` or `f_refresh(args)` returns in one
//! process, the others stop serving the old value within milliseconds (on one host,
//! from the return of `_invalidate` to another process serving the new value,
//! recomputed: p50 0.4 ms, p99 0.6 ms in `compare --quick fleet`; p50 1–2 ms, p99
//! 2–3 ms in the debug build of `tests/redis_fleet.rs`). The same holds
//! for any change of a key by any client: rewritten, deleted, expired, evicted by
//! `maxmemory`, or `FLUSHDB`. Invalidating one function never drops another's copies.
//! [`RedisStats::coherent`] says whether this holds now.
//!
//! The mechanism is Redis's client-side caching, in broadcasting mode, over RESP2
//! (which every server version since 6 speaks, and the `redis` crate's sync
//! connection reads without a runtime): a second connection subscribes to
//! `__redis__:invalidate`, and the link's connection runs `CLIENT TRACKING ON
//! REDIRECT <that connection> BCAST PREFIX <namespace>: NOLOOP`. Broadcasting costs
//! the server no memory per key read (the default mode remembers every key every
//! client read); `NOLOOP` spares a process the news of its own writes, which it has
//! already applied (the writes that matter are plain commands for that reason: a Lua
//! script's writes are not its caller's, for `NOLOOP`; `_refresh`, which writes by
//! script, so hears of its own write and drops the copy it stored: the next call
//! reads it back from Redis). A pub/sub channel of our own
//! would miss what other clients do (`DEL`, eviction, expiry), which tracking reports.
//! While the link is up but changes go unreported (the notification connection is
//! down; or the server has no `CLIENT TRACKING`, before Redis 6; or an ACL user may
//! not subscribe, as Redis 7's new users may not until given `&__redis__:invalidate`
//! or `allchannels`), nothing read or computed is kept in-process: every call is
//! served by Redis, so no copy can outlive a change. [`RedisStats::coherent`] is then
//! `false`, and `connect` will have waited its connect timeout for tracking.
//!
//! **From a key back to the copy.** Keys need only `Serialize`, so the process cannot
//! rebuild a key from the bytes Redis names. Each `redis = true` function registers
//! its map on first use, with a side index from the encoded arguments of every value
//! it holds to the map's hash of their key; a removal compares the stored keys'
//! encodings, so a hash collision removes nothing else. The index costs, per value
//! held in-process, the encoded arguments, 8 bytes and a hash-table slot (about 40
//! bytes plus the arguments); it is not told of expiries and evictions, so it is
//! pruned (to the hashes the map still holds) whenever it doubles. Plain
//! `#[ttl_cached]` functions have none of this, and a hit costs what it did: no I/O,
//! no lock, not even an atomic load more.
//!
//! **The race of a read and an invalidation.** An invalidation can arrive before the
//! reply of a read that it makes stale (the two come on different connections), when
//! there is no copy yet to drop. So each function has epochs (64, picked by the
//! encoded arguments), moved by every invalidation before it removes anything; a miss
//! reads its key's epoch before it reads Redis, and its value is stored in-process
//! only if the epoch did not move, checked under the shard's write lock that the
//! removal also takes. Either the check sees the move, or the removal comes after
//! the store. (The value is still returned: it was current when read.)
//!
//! **A lost connection never leaves stale copies.** While either connection is down,
//! or the notification connection does not answer its ping (sent when it has been
//! quiet for 1 s), or the link's (pinged after 250 ms of quiet), changes go
//! unreported: the copies of every `redis = true` function are dropped when that
//! happens and again when tracking is back, and in between the process runs by the
//! outage rules above. `_invalidate`, `_clear` and `_refresh` do not wait for Redis;
//! if their command cannot be sent or fails, the function's generation is incremented
//! once the link is back, before anything else is sent, so that no process serves
//! what was meant to go.
//!
//! Sliding expiry (`refresh = true`) slides the Redis entry only once less than half
//! of its TTL is left: a slide is a write, which every other process hears of (and
//! drops its copy for).
//!
//! # One computation per key across the fleet
//!
//! With single flight (the default; `single_flight = false` turns it off here too),
//! the first process to miss a key takes its lease (`SET
//! {namespace}:{crate}:{module path}:{function}:{version}:lease:{arguments} <token> NX
//! PX <lease>`, in the same script as the read), computes, stores, and
//! releases the lease with a compare-and-delete script; other processes that miss
//! meanwhile wait, and take the value from Redis. They are woken by the notification
//! connection (the entry or the lease changed), re-read at least every command
//! timeout, never wait past the lease (`lease_secs`, 10 s by default: a leader that
//! died or hangs loses it, and one waiter takes over), and stop waiting at once when
//! the link or the notifications are lost. This is an efficiency guarantee, not a
//! lock for correctness: a leader slower than its lease, or an outage, lets two
//! processes compute the same key; both results are valid values of the function.
//! Without live notifications, no lease is taken and nobody waits.
//!
//! # What this module owns, and must never do
//!
//! All Redis interaction lives in this folder: the link and its thread (`link.rs`),
//! the answer slots (`reply.rs`), the key and value formats (`codec.rs`), one
//! function's commands and counters (`level.rs`), the miss paths that put them
//! together (`miss.rs`), the fleet-wide lease (`lease.rs`), the notification thread
//! (`notify.rs`), the tracking state the link and it share (`tracking.rs`), and the
//! registry of functions' copies, epochs and side indexes (`registry.rs`). Nothing
//! here may block a caller past the command timeout (a fleet-wide waiter waits for
//! another process, at most its lease), hand a caller a Redis error, panic on
//! anything the server sends, or run the user's code while holding a lock.

mod codec;
mod lease;
mod level;
mod link;
pub(crate) mod miss;
mod notify;
mod registry;
mod reply;
mod tracking;

pub use level::RedisLevel;

use link::{Link, Timeouts};
use notify::Notifications;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use tracking::Tracking;

/// The namespace of keys when [`Config::namespace`] is not given.
pub const DEFAULT_NAMESPACE: &str = "ttl-cached";
/// How long a caller waits for Redis at most, by default.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(100);
/// How long connecting may take at most, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The largest encoded value written to Redis, by default: 1 MiB.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1 << 20;
/// The environment variable read on first use when [`connect`] was not called.
pub const URL_VARIABLE: &str = "REDIS_URL";

/// Connects the process to the Redis server at `url`, with the defaults of
/// [`Config`]; call it once, at start-up.
///
/// `Err` if the URL is not valid or the server does not answer (unreachable, wrong
/// password, …); the process then runs local-only (connecting again is allowed).
///
/// # Examples
///
/// ```
/// // No server listens on port 1: the error says so, and nothing panics later.
/// let error = cache_core::redis::connect("redis://127.0.0.1:1/").unwrap_err();
/// assert!(error.to_string().contains("cannot connect to Redis"));
/// ```
pub fn connect(url: &str) -> Result<(), Error> {
    Config::new(url).connect()
}

/// How to connect: the URL, then options, then [`connect`](Config::connect).
///
/// # Examples
///
/// ```
/// use cache_core::redis::Config;
/// use std::time::Duration;
///
/// let config = Config::new("redis://127.0.0.1:1/")
///     .namespace("billing")
///     .command_timeout(Duration::from_millis(50))
///     .connect_timeout(Duration::from_millis(200))
///     .max_value_bytes(64 * 1024);
/// assert!(config.connect().is_err()); // nothing listens on port 1
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    url: String,
    namespace: String,
    timeouts: Timeouts,
    max_value_bytes: usize,
}

impl Config {
    /// A configuration for the server at `url`, with the defaults: namespace
    /// [`DEFAULT_NAMESPACE`], command timeout 100 ms, connect timeout 1 s, values up
    /// to 1 MiB.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = cache_core::redis::Config::new("redis://127.0.0.1:6379/0");
    /// ```
    pub fn new(url: &str) -> Self {
        Config {
            url: url.to_owned(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            timeouts: Timeouts {
                connect: DEFAULT_CONNECT_TIMEOUT,
                command: DEFAULT_COMMAND_TIMEOUT,
            },
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }

    /// The first part of every key: services sharing a server keep apart by it.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = cache_core::redis::Config::new("redis://127.0.0.1/").namespace("billing");
    /// ```
    pub fn namespace(mut self, namespace: &str) -> Self {
        namespace.clone_into(&mut self.namespace);
        self
    }

    /// How long a caller waits for an answer from Redis at most, before computing
    /// locally (100 ms by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = cache_core::redis::Config::new("redis://127.0.0.1/")
    ///     .command_timeout(Duration::from_millis(20));
    /// ```
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.command = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long connecting (and reconnecting, in the background) may take at most
    /// (1 s by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = cache_core::redis::Config::new("redis://127.0.0.1/")
    ///     .connect_timeout(Duration::from_millis(250));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout.max(Duration::from_millis(1));
        self
    }

    /// The largest encoded value written to Redis (1 MiB by default); larger values
    /// stay local, counted in [`RedisStats::oversized_values`].
    ///
    /// # Examples
    ///
    /// ```
    /// let config = cache_core::redis::Config::new("redis://127.0.0.1/").max_value_bytes(4096);
    /// ```
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// Connects the process with this configuration, replacing any earlier
    /// connection. `Err` if the URL is not valid or the server does not answer; the
    /// process then runs local-only.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = cache_core::redis::Config::new("not a url").connect();
    /// assert!(result.unwrap_err().to_string().contains("invalid Redis URL"));
    /// ```
    pub fn connect(self) -> Result<(), Error> {
        let opened = self.open();
        let mut slot = CONNECTED.write().unwrap_or_else(PoisonError::into_inner);
        RESOLVED.store(true, Ordering::Release);
        if let Some(replaced) = slot.as_ref() {
            // Callers may hold it a while yet: its losses are not this process's.
            replaced.tracking.retire();
        }
        match opened {
            Ok(connected) => {
                *slot = Some(Arc::new(connected));
                Ok(())
            }
            Err(error) => {
                *slot = None;
                Err(error)
            }
        }
    }

    fn open(self) -> Result<Connected, Error> {
        #[cfg(feature = "redis-tls")]
        {
            // rustls panics at the first handshake if no process-wide crypto provider
            // is installed and it cannot pick one (none, or several, enabled in the
            // build). Ours unless the application installed its own first.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|source| Error {
            kind: ErrorKind::InvalidUrl,
            source,
        })?;
        let address = client.get_connection_info().addr().to_string();
        let tracking = Arc::new(Tracking::new(&self.namespace));
        let link =
            Link::open(client.clone(), self.timeouts, Arc::clone(&tracking)).map_err(|source| {
                Error {
                    kind: ErrorKind::Connect { address },
                    source,
                }
            })?;
        let notifications =
            Notifications::start(client, self.timeouts, Arc::clone(&tracking), link.waker());
        // Tracked from the first call, when the server allows it: the link's thread
        // starts tracking as soon as it hears of the notification connection.
        if tracking.wait_live(self.timeouts.connect) {
            // The copies that going live dropped are gone before the first call.
            registry::wait_dropped(self.timeouts.connect);
        }
        Ok(Connected {
            link,
            tracking,
            notifications,
            namespace: self.namespace.into_boxed_str(),
            max_value_bytes: self.max_value_bytes,
        })
    }
}

/// Why [`connect`] failed.
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
///
/// let error = cache_core::redis::connect("redis://127.0.0.1:1/").unwrap_err();
/// assert!(error.source().is_some()); // the `redis` crate's error
/// ```
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    source: redis::RedisError,
}

#[derive(Debug)]
enum ErrorKind {
    InvalidUrl,
    Connect { address: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL is not repeated: it may hold a password.
        match &self.kind {
            ErrorKind::InvalidUrl => write!(f, "invalid Redis URL: {}", self.source),
            ErrorKind::Connect { address } => {
                write!(f, "cannot connect to Redis at {address}: {}", self.source)
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// What a `redis = true` function did, from its generated `<name>_redis_stats()`.
///
/// `in_process_hits` + `redis_hits` + `computations` is every call, give or take
/// callers that waited for another's computation (single flight) and `_uncached` /
/// `_refresh` calls.
///
/// # Examples
///
/// ```
/// use cache_core::ttl_cached;
///
/// #[ttl_cached(secs = 60, redis = true)]
/// fn square(n: u64) -> u64 {
///     n * n
/// }
///
/// // Not connected, and no REDIS_URL: local only, as a plain #[ttl_cached].
/// # std::env::remove_var("REDIS_URL");
/// square(3);
/// square(3);
/// let stats = square_redis_stats();
/// assert_eq!((stats.in_process_hits, stats.redis_hits, stats.computations), (1, 0, 1));
/// assert!(!stats.redis_in_use);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStats {
    /// Calls served by the in-process map, with no I/O.
    pub in_process_hits: u64,
    /// Calls served by a value read from Redis (another process, or an earlier run
    /// of this one, computed it).
    pub redis_hits: u64,
    /// Reads from Redis that found no usable value (discarded values included).
    pub redis_misses: u64,
    /// Runs of the function's body on a miss.
    pub computations: u64,
    /// Redis commands that failed or timed out (the caller computed or served
    /// locally; none of these reached it).
    pub redis_errors: u64,
    /// Values read from Redis that did not decode (garbage, another build's format):
    /// deleted and recomputed.
    pub discarded_values: u64,
    /// Computed values kept local because they were over the size limit.
    pub oversized_values: u64,
    /// Whether the process is connected to Redis now (circuit closed).
    pub redis_in_use: bool,
    /// Whether changes made in Redis by other processes reach this one now (see
    /// "Coherence across processes" in the module's documentation): while they do not,
    /// in-process copies are dropped when it starts again.
    pub coherent: bool,
}

/// The process's connection: the link, the notification thread, their shared
/// tracking state, and the settings every function reads. (The link is dropped
/// first; the notification thread, which can wake it, stops next.)
pub(crate) struct Connected {
    link: Link,
    tracking: Arc<Tracking>,
    #[allow(dead_code)] // held for its `Drop`, which stops the thread
    notifications: Notifications,
    namespace: Box<str>,
    max_value_bytes: usize,
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.tracking.retire();
    }
}

/// The connection, once resolved (by `connect`, or from `REDIS_URL` on first use).
static CONNECTED: RwLock<Option<Arc<Connected>>> = RwLock::new(None);
/// Whether `CONNECTED` was resolved: set by `connect` and by the first use.
static RESOLVED: AtomicBool = AtomicBool::new(false);

/// The process's connection, if any; the first call without `connect` reads
/// `REDIS_URL`.
fn connected() -> Option<Arc<Connected>> {
    if !RESOLVED.load(Ordering::Acquire) {
        resolve_from_environment();
    }
    CONNECTED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

fn resolve_from_environment() {
    let mut slot = CONNECTED.write().unwrap_or_else(PoisonError::into_inner);
    if RESOLVED.load(Ordering::Acquire) {
        return;
    }
    if let Ok(url) = std::env::var(URL_VARIABLE) {
        // A bad URL or an unreachable server: local only, as documented.
        *slot = Config::new(&url).open().ok().map(Arc::new);
    }
    RESOLVED.store(true, Ordering::Release);
}
