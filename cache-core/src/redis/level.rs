//! The Redis level of one `#[ttl_cached(redis = true)]` function: its place in the
//! key space, its counters, its coherence state (see `registry.rs`), and its
//! commands: fetch (taking the fleet-wide lease on a miss), store (releasing it),
//! release, remove, clear.
//!
//! Every command is one round trip: a short Lua script reads the function's
//! generation and acts on the entry's key in the same step, so `_clear` is a single
//! `INCR` and no reader can pair an entry with the wrong generation. This module
//! treats what Redis sends as untrusted: a reply of an unexpected shape is a miss,
//! a value that does not decode is deleted, counted and a miss. It must never panic on
//! a reply, and never wait for Redis past the command timeout.

use super::codec::{self, GENERATION_SUFFIX};
use super::registry::Coherence;
use super::reply::{Answer, Failure};
use super::{Connected, RedisStats};
use crate::CacheStats;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

// The scripts name the generation key `KEYS[1] .. ':gen'`, as `GENERATION_SUFFIX` does.

/// Reads the entry and its remaining lifetime (sliding it first when `ARGV[2]` is a TTL
/// in milliseconds and less than half of it is left: a slide is a write, which every
/// other process hears of and drops its copy for, so it is not made at every read).
/// Answers `{generation, 0}` (no entry), `{generation, 1, value,
/// pttl}`, or `{generation, 2}`: something that is not a string was there, and was
/// deleted. With `ARGV[3]` a lease in milliseconds (not '0'), a miss also tries to take
/// the lease of these arguments for token `ARGV[4]`: `{generation, 3}` if taken,
/// `{generation, 4, pttl}` if another holds it for `pttl` more milliseconds.
const FETCH: &str = r"
local generation = redis.call('GET', KEYS[1] .. ':gen') or '0'
local key = KEYS[1] .. ':' .. generation .. ':' .. ARGV[1]
local value = redis.pcall('GET', key)
if type(value) == 'table' and value.err then
  redis.call('DEL', key)
  return {generation, 2}
end
if not value then
  if ARGV[3] == '0' then
    return {generation, 0}
  end
  local lease = KEYS[1] .. ':lease:' .. ARGV[1]
  if redis.call('SET', lease, ARGV[4], 'NX', 'PX', ARGV[3]) then
    return {generation, 3}
  end
  return {generation, 4, redis.call('PTTL', lease)}
end
if ARGV[2] ~= '0' and redis.call('PTTL', key) * 2 < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', key, ARGV[2])
end
return {generation, 1, value, redis.call('PTTL', key)}
";

/// Writes the entry for `ARGV[3]` milliseconds, in the current generation.
const STORE: &str = r"
local generation = redis.call('GET', KEYS[1] .. ':gen') or '0'
redis.call('SET', KEYS[1] .. ':' .. generation .. ':' .. ARGV[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// Releases the lease of `ARGV[1]` if token `ARGV[2]` still holds it (compare and delete:
/// a lease that expired and was taken by another is not theirs to lose).
const RELEASE: &str = r"
local lease = KEYS[1] .. ':lease:' .. ARGV[1]
if redis.call('GET', lease) == ARGV[2] then
  return redis.call('DEL', lease)
end
return 0
";

/// Deletes the entry of the current generation.
const REMOVE: &str = r"
local generation = redis.call('GET', KEYS[1] .. ':gen') or '0'
return redis.call('DEL', KEYS[1] .. ':' .. generation .. ':' .. ARGV[1])
";

/// The scripts, which every connection loads (`SCRIPT LOAD`) before its first
/// command, so that a command sends a script's SHA1 (`EVALSHA`), not its text. (A
/// server that lost them, after `SCRIPT FLUSH` or a failover, answers `NOSCRIPT`: a
/// failure like any other, after which the link reconnects and loads them again.)
pub(super) const SCRIPTS: [&str; 4] = [FETCH, STORE, REMOVE, RELEASE];

/// The SHA1 of each script, as `EVALSHA` takes it.
static HASHES: LazyLock<[String; 4]> =
    LazyLock::new(|| SCRIPTS.map(|source| redis::Script::new(source).get_hash().to_owned()));

/// `EVALSHA <script> 1 <prefix>`: the start of every command on an entry.
fn evalsha(script: &str, prefix: String) -> redis::Cmd {
    let index = SCRIPTS
        .iter()
        .position(|source| *source == script)
        .unwrap_or_default();
    let mut command = redis::cmd("EVALSHA");
    command.arg(&HASHES[index]).arg(1).arg(prefix);
    command
}

/// The Redis level of one cached function, in a `static` of its expansion.
pub struct RedisLevel {
    crate_name: &'static str,
    module: &'static str,
    function: &'static str,
    version: u64,
    /// `refresh = true`: a read from Redis slides the entry's TTL there too.
    sliding: bool,
    /// How long a fleet-wide flight's lease lasts (`lease_secs`).
    lease: Duration,
    /// Epochs, in-process copies, waiters: what invalidations reach.
    pub(super) coherence: Coherence,
    /// `{crate}:{module}:{function}:{version}`, made on first use (an associated
    /// function's name includes its type's, known only at run time).
    identity: OnceLock<Box<str>>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    redis_hits: AtomicU64,
    redis_misses: AtomicU64,
    computations: AtomicU64,
    redis_errors: AtomicU64,
    discarded_values: AtomicU64,
    oversized_values: AtomicU64,
}

/// What a fetch found, and the generation it read (to store a value computed next
/// with a plain `SET`, whose notification the process does not send itself: see
/// [`RedisLevel::store_command`]).
pub(super) struct Fetch<V> {
    pub(super) generation: Option<Box<[u8]>>,
    pub(super) fetched: Fetched<V>,
}

/// What a fetch found.
pub(super) enum Fetched<V> {
    /// A value, and how long it still lives in Redis.
    Hit(V, Duration),
    /// Nothing usable: no entry, a discarded one, or no answer.
    Miss,
    /// No entry, and this caller took the lease: it computes for the fleet.
    Leased,
    /// No entry, and another process holds the lease for this much longer.
    Held(Duration),
}

impl RedisLevel {
    /// The level of function `function` of `module` in crate `crate_name`; a
    /// fleet-wide flight's lease lasts `lease_secs`.
    pub const fn new(
        crate_name: &'static str,
        module: &'static str,
        function: &'static str,
        version: u64,
        sliding: bool,
        lease_secs: u64,
    ) -> Self {
        RedisLevel {
            crate_name,
            module,
            function,
            version,
            sliding,
            lease: Duration::from_secs(lease_secs),
            coherence: Coherence::new(),
            identity: OnceLock::new(),
            counters: Counters {
                redis_hits: AtomicU64::new(0),
                redis_misses: AtomicU64::new(0),
                computations: AtomicU64::new(0),
                redis_errors: AtomicU64::new(0),
                discarded_values: AtomicU64::new(0),
                oversized_values: AtomicU64::new(0),
            },
        }
    }

    /// This level, for an associated function of type `owner` (whose name becomes
    /// part of the key, so that two types' `load` never share entries).
    pub fn owned_by(&'static self, owner: fn() -> &'static str) -> &'static Self {
        self.identity
            .get_or_init(|| self.make_identity(Some(owner())));
        self
    }

    pub(super) fn identity(&self) -> &str {
        self.identity.get_or_init(|| self.make_identity(None))
    }

    fn make_identity(&self, owner: Option<&str>) -> Box<str> {
        let function = match owner {
            Some(owner) => format!("{owner}::{}", self.function),
            None => self.function.to_owned(),
        };
        format!(
            "{}:{}:{function}:{}",
            self.crate_name, self.module, self.version
        )
        .into_boxed_str()
    }

    /// `{namespace}:{crate}:{module}:{function}:{version}`: `KEYS[1]` of the scripts.
    fn prefix(&self, connected: &Connected) -> String {
        format!("{}:{}", connected.namespace, self.identity())
    }

    /// The counters, with the in-process level's hits.
    pub fn stats(&self, in_process: CacheStats) -> RedisStats {
        let load = |counter: &AtomicU64| counter.load(Relaxed);
        RedisStats {
            in_process_hits: in_process.hits,
            redis_hits: load(&self.counters.redis_hits),
            redis_misses: load(&self.counters.redis_misses),
            computations: load(&self.counters.computations),
            redis_errors: load(&self.counters.redis_errors),
            discarded_values: load(&self.counters.discarded_values),
            oversized_values: load(&self.counters.oversized_values),
            redis_in_use: super::connected().is_some_and(|connected| connected.link.is_up()),
            coherent: super::connected().is_some_and(|connected| connected.tracking.is_live()),
        }
    }

    pub(super) fn count_computation(&self) {
        self.counters.computations.fetch_add(1, Relaxed);
    }

    /// The arguments as they appear in the key; `None` (local only) if they do not
    /// encode.
    pub(super) fn arguments<K: Serialize + ?Sized>(&self, key: &K) -> Option<Vec<u8>> {
        codec::encode_key(key)
    }

    // ----------------------------------------------------------------------------
    // Commands: each is built, sent (and waited for, or awaited), then read.
    // ----------------------------------------------------------------------------

    /// The fetch; with a `lease` token, a miss takes the fleet-wide lease for it.
    pub(super) fn fetch_command(
        &self,
        connected: &Connected,
        arguments: &[u8],
        ttl: Duration,
        lease: Option<&str>,
    ) -> redis::Cmd {
        let slide = if self.sliding { millis(ttl) } else { 0 };
        let mut command = evalsha(FETCH, self.prefix(connected));
        command.arg(arguments).arg(slide);
        match lease {
            Some(token) => command.arg(millis(self.lease).max(1)).arg(token),
            None => command.arg(0),
        };
        command
    }

    /// The release of the lease `token` holds, if it still does.
    pub(super) fn release_command(
        &self,
        connected: &Connected,
        arguments: &[u8],
        token: &str,
    ) -> redis::Cmd {
        let mut command = evalsha(RELEASE, self.prefix(connected));
        command.arg(arguments).arg(token);
        command
    }

    /// Reads a fetch's answer; deletes and counts a value that does not decode.
    pub(super) fn read_fetch<V: DeserializeOwned>(
        &self,
        connected: &Connected,
        arguments: &[u8],
        ttl: Duration,
        answer: Answer,
    ) -> Fetch<V> {
        let mut generation = None;
        let fetched = self.read_fetched(connected, arguments, ttl, answer, &mut generation);
        Fetch {
            generation,
            fetched,
        }
    }

    fn read_fetched<V: DeserializeOwned>(
        &self,
        connected: &Connected,
        arguments: &[u8],
        ttl: Duration,
        answer: Answer,
        read: &mut Option<Box<[u8]>>,
    ) -> Fetched<V> {
        let reply = match answer {
            Ok(redis::Value::Array(reply)) => reply,
            Ok(_) => return self.miss_by_error(),
            Err(Failure::Unavailable) => return Fetched::Miss,
            Err(Failure::Failed) => return self.miss_by_error(),
        };
        let generation = match reply.first() {
            // Digits, as `INCR` writes them: anything else is not a generation.
            Some(redis::Value::BulkString(generation))
                if !generation.is_empty() && generation.iter().all(u8::is_ascii_digit) =>
            {
                generation.as_slice()
            }
            _ => return self.miss_by_error(),
        };
        *read = Some(generation.into());
        match reply.get(1) {
            Some(redis::Value::Int(0)) => {
                self.counters.redis_misses.fetch_add(1, Relaxed);
                Fetched::Miss
            }
            Some(redis::Value::Int(2)) => self.discarded(),
            Some(redis::Value::Int(3)) => {
                self.counters.redis_misses.fetch_add(1, Relaxed);
                Fetched::Leased
            }
            Some(redis::Value::Int(4)) => match reply.get(2) {
                // Held; a lease without expiry (set by hand) is waited for at most
                // our own lease.
                Some(redis::Value::Int(pttl)) => {
                    let held = u64::try_from(*pttl).map_or(self.lease, Duration::from_millis);
                    Fetched::Held(held.min(self.lease))
                }
                _ => self.miss_by_error(),
            },
            Some(redis::Value::Int(1)) => {
                let (Some(redis::Value::BulkString(bytes)), Some(redis::Value::Int(pttl))) =
                    (reply.get(2), reply.get(3))
                else {
                    return self.miss_by_error();
                };
                let Some(value) = codec::decode_value::<V>(bytes) else {
                    // Garbage, or written by another build: never used, and deleted so
                    // that the value computed next replaces it everywhere.
                    let mut key = self.prefix(connected).into_bytes();
                    key.push(b':');
                    key.extend_from_slice(generation);
                    key.push(b':');
                    key.extend_from_slice(arguments);
                    connected
                        .link
                        .send_detached(redis::cmd("DEL").arg(key).clone(), None);
                    return self.discarded();
                };
                let remaining = match *pttl {
                    // Gone between the read and the PTTL: nothing to trust.
                    ..=-2 | 0 => {
                        self.counters.redis_misses.fetch_add(1, Relaxed);
                        return Fetched::Miss;
                    }
                    // No expiry in Redis (written by hand): no longer than our own TTL.
                    -1 => ttl,
                    pttl => Duration::from_millis(pttl.unsigned_abs()),
                };
                self.counters.redis_hits.fetch_add(1, Relaxed);
                Fetched::Hit(value, remaining)
            }
            _ => self.miss_by_error(),
        }
    }

    fn miss_by_error<V>(&self) -> Fetched<V> {
        self.count_error();
        Fetched::Miss
    }

    fn discarded<V>(&self) -> Fetched<V> {
        self.counters.discarded_values.fetch_add(1, Relaxed);
        self.counters.redis_misses.fetch_add(1, Relaxed);
        Fetched::Miss
    }

    pub(super) fn count_error(&self) {
        self.counters.redis_errors.fetch_add(1, Relaxed);
    }

    /// The store of `value` for `ttl`; `None` if the value stays local (it does not
    /// encode, or is over the size limit: counted). With the `generation` a fetch
    /// read, a plain `SET`: tracking's NOLOOP spares this process the news of its own
    /// write (a script's writes are not its connection's, for NOLOOP, and would drop
    /// the copy just stored). If `_clear` came in between, the value goes to the old
    /// generation, which nobody reads. Without, the STORE script.
    pub(super) fn store_command<V: Serialize>(
        &self,
        connected: &Connected,
        arguments: &[u8],
        value: &V,
        ttl: Duration,
        generation: Option<&[u8]>,
    ) -> Option<redis::Cmd> {
        let Some(bytes) = codec::encode_value(value) else {
            self.counters.oversized_values.fetch_add(1, Relaxed);
            return None;
        };
        if bytes.len() > connected.max_value_bytes {
            self.counters.oversized_values.fetch_add(1, Relaxed);
            return None;
        }
        if let Some(generation) = generation {
            let mut key = self.prefix(connected).into_bytes();
            key.push(b':');
            key.extend_from_slice(generation);
            key.push(b':');
            key.extend_from_slice(arguments);
            let mut command = redis::cmd("SET");
            command
                .arg(key)
                .arg(bytes)
                .arg("PX")
                .arg(millis(ttl).max(1));
            return Some(command);
        }
        let mut command = evalsha(STORE, self.prefix(connected));
        command.arg(arguments).arg(bytes).arg(millis(ttl).max(1));
        Some(command)
    }

    /// Reads a store's (or a removal's) answer: only failures matter.
    pub(super) fn read_write(&self, answer: Answer) {
        if let Err(Failure::Failed) = answer {
            self.count_error();
        }
    }

    pub(super) fn remove_command(&self, connected: &Connected, arguments: &[u8]) -> redis::Cmd {
        let mut command = evalsha(REMOVE, self.prefix(connected));
        command.arg(arguments);
        command
    }

    pub(super) fn clear_command(&self, connected: &Connected) -> redis::Cmd {
        let mut command = redis::cmd("INCR");
        command.arg(format!("{}{GENERATION_SUFFIX}", self.prefix(connected)));
        command
    }
}

/// A TTL in whole milliseconds, as `PX` takes it.
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
}
