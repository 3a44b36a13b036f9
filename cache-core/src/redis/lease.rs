//! One computation per key across the fleet: the Redis read of a miss, which on an
//! empty entry takes the key's lease (`SET <lease-key> <token> NX PX <lease>`, in the
//! same script), or finds another process holding it and waits for its result.
//!
//! A waiter sleeps until its key's epoch moves, which the notification thread does
//! when the entry or the lease changes in Redis (the leader stored its value, or
//! released or lost its lease), then reads again. It never waits past the lease's
//! remaining lifetime (a leader that died or hangs loses it, and the next read takes
//! it over), nor longer than the command timeout between two reads (a slow fallback
//! re-check), and stops waiting as soon as the link is down. A leader releases its
//! lease when it stores its value (the store script) or gives up (compare and delete:
//! [`Lease`]'s `Drop`).
//!
//! This is an efficiency guarantee, not a lock for correctness: a leader slower than
//! its lease, or a Redis outage, lets two processes compute the same key. A lease is
//! only taken while tracking is live: without notifications, nobody waits.
//!
//! This module must never hold a lock while it waits for Redis, and never wait without
//! a deadline.

use super::level::{Fetched, RedisLevel};
use super::registry::Coherence;
use super::Connected;
use crate::flight::Epoch;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The shortest pause between two reads of a waiter (with a command timeout shorter
/// than this).
const MIN_RECHECK: Duration = Duration::from_millis(10);

/// What the Redis read of a miss decided.
pub(super) enum Found<V> {
    /// A value, how long it still lives in Redis, and the epoch it was read under.
    Value(V, Duration, Epoch),
    /// Compute it: no entry, or no answer.
    Compute(Computing),
}

/// What a computation after a read takes along.
pub(super) struct Computing {
    /// Read before the last read of Redis: the computed value is not stored
    /// in-process if it moved meanwhile.
    pub(super) epoch: Epoch,
    /// The lease, if this process took it (dropped, it is released).
    pub(super) lease: Option<Lease>,
    /// The generation the last read found, to store the value with a plain `SET`.
    pub(super) generation: Option<Box<[u8]>>,
}

/// What the reads need.
pub(super) struct Read<'a> {
    pub(super) level: &'static RedisLevel,
    pub(super) connected: &'a Arc<Connected>,
    pub(super) arguments: &'a [u8],
    pub(super) ttl: Duration,
    /// Whether a miss takes the lease (single flight on, and tracking live).
    pub(super) fleet: bool,
}

impl Read<'_> {
    fn coherence(&self) -> &'static Coherence {
        &self.level.coherence
    }

    /// The epoch a value read now is stored under. While the link is up but changes
    /// go unreported (the notification connection is down, or the server or the ACL
    /// refuses it), one that has moved already: such a value is served, not stored,
    /// since nothing would drop it when it changes. (With the link down, the outage
    /// rules store it; going live again drops it.)
    fn epoch(&self) -> Epoch {
        if self.connected.tracking.is_live() {
            self.coherence().epoch(self.arguments)
        } else {
            self.coherence().moved_epoch(self.arguments)
        }
    }

    fn command(&self, token: Option<&str>) -> redis::Cmd {
        self.level
            .fetch_command(self.connected, self.arguments, self.ttl, token)
    }

    fn token(&self) -> Option<String> {
        (self.fleet && self.connected.tracking.is_live()).then(new_token)
    }

    /// What one answer decides, or how long to wait before reading again.
    fn decide<V: DeserializeOwned>(
        &self,
        epoch: Epoch,
        token: &mut Option<String>,
        answer: super::reply::Answer,
    ) -> Result<Found<V>, Instant> {
        let fetch = self
            .level
            .read_fetch(self.connected, self.arguments, self.ttl, answer);
        let generation = fetch.generation;
        let computing = |lease| {
            Ok(Found::Compute(Computing {
                epoch,
                lease,
                generation,
            }))
        };
        match fetch.fetched {
            Fetched::Hit(value, remaining) => Ok(Found::Value(value, remaining, epoch)),
            Fetched::Miss => computing(None),
            Fetched::Leased => computing(token.take().map(|token| {
                Lease::held(
                    self.level,
                    Arc::clone(self.connected),
                    self.arguments,
                    token,
                )
            })),
            // Held by this process: only a call for the same key from inside the body
            // that holds it gets here (single flight lets one caller per key through).
            // Waiting would wait for itself; it computes, as it does in-process.
            Fetched::Held(_) if Lease::held_here(self.level, self.arguments) => computing(None),
            Fetched::Held(remaining) => {
                let recheck = self.connected.link.command_timeout().max(MIN_RECHECK);
                // Just past the lease's end: the next read finds it expired.
                Err(Instant::now() + recheck.min(remaining + Duration::from_millis(1)))
            }
        }
    }

    /// Whether a waiter should stop waiting and compute: no link, or no notifications.
    fn stop_waiting(&self) -> bool {
        !self.connected.link.is_up() || !self.connected.tracking.is_live()
    }

    /// Compute, without a lease: waiting was given up.
    fn given_up<V>(&self) -> Found<V> {
        Found::Compute(Computing {
            epoch: self.epoch(),
            lease: None,
            generation: None,
        })
    }
}

/// The sync read: a value, or the go-ahead to compute.
pub(super) fn read<V: DeserializeOwned>(read: &Read<'_>) -> Found<V> {
    let mut token = read.token();
    loop {
        let wakes = read.coherence().wakes(read.arguments);
        let epoch = read.epoch();
        let answer = read.connected.link.request(read.command(token.as_deref()));
        match read.decide(epoch, &mut token, answer) {
            Ok(found) => return found,
            Err(until) => {
                read.coherence().wait_until(wakes, until);
                if read.stop_waiting() {
                    return read.given_up();
                }
            }
        }
    }
}

/// The async read: a value, or the go-ahead to compute.
pub(super) async fn read_async<V: DeserializeOwned>(read: &Read<'_>) -> Found<V> {
    let mut token = read.token();
    loop {
        let wakes = read.coherence().wakes(read.arguments);
        let epoch = read.epoch();
        let answer = read
            .connected
            .link
            .request_async(read.command(token.as_deref()))
            .await;
        match read.decide(epoch, &mut token, answer) {
            Ok(found) => return found,
            Err(until) => {
                Moved {
                    coherence: read.coherence(),
                    wakes,
                    until,
                }
                .await;
                if read.stop_waiting() {
                    return read.given_up();
                }
            }
        }
    }
}

/// Ready when `wakes` moved or `until` passed (seen at the notification thread's next
/// tick at the latest).
struct Moved {
    coherence: &'static Coherence,
    wakes: Epoch,
    until: Instant,
}

impl Future for Moved {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.wakes.moved() || Instant::now() >= self.until {
            return Poll::Ready(());
        }
        self.coherence.park(cx.waker());
        // Parked before this second look: an epoch moved since is seen here, or wakes it.
        if self.wakes.moved() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A lease this process holds, released (compare and delete, nobody waiting for the
/// answer) when dropped: after the value was stored, or when the computation gave up.
pub(super) struct Lease {
    level: &'static RedisLevel,
    /// The connection to release it through.
    connected: Option<Arc<Connected>>,
    arguments: Vec<u8>,
    token: String,
}

/// The leases this process holds, by function (the level's address) and arguments: a
/// handful at a time, one per key being computed here.
static HELD_HERE: Mutex<Vec<(usize, Vec<u8>)>> = Mutex::new(Vec::new());

impl Lease {
    fn held(
        level: &'static RedisLevel,
        connected: Arc<Connected>,
        arguments: &[u8],
        token: String,
    ) -> Lease {
        let place = (std::ptr::from_ref(level) as usize, arguments.to_vec());
        HELD_HERE
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(place);
        Lease {
            level,
            connected: Some(connected),
            arguments: arguments.to_vec(),
            token,
        }
    }

    /// Whether this process holds the lease of `arguments` of `level`.
    fn held_here(level: &'static RedisLevel, arguments: &[u8]) -> bool {
        let level = std::ptr::from_ref(level) as usize;
        HELD_HERE
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|(held, held_arguments)| *held == level && held_arguments == arguments)
    }

    /// No longer held here (it is being released).
    fn forget(&self) {
        let level = std::ptr::from_ref(self.level) as usize;
        let mut held = HELD_HERE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(position) = held
            .iter()
            .position(|(place, arguments)| *place == level && *arguments == self.arguments)
        {
            held.swap_remove(position);
        }
    }

    /// The release, to send with the store (in the same batch), instead of after it.
    pub(super) fn into_release(mut self) -> Option<redis::Cmd> {
        let connected = self.connected.take()?;
        self.forget();
        Some(
            self.level
                .release_command(&connected, &self.arguments, &self.token),
        )
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(connected) = self.connected.take() {
            self.forget();
            let release = self
                .level
                .release_command(&connected, &self.arguments, &self.token);
            connected.link.send_detached(release, None);
        }
    }
}

/// A token no other lease has: this process, a counter, and the time (a pid is reused).
fn new_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!(
        "{:x}.{:x}.{nanos:x}",
        std::process::id(),
        NEXT.fetch_add(1, Relaxed)
    )
}
