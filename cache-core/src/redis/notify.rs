//! The notification thread: a connection of its own, subscribed to
//! `__redis__:invalidate`, into which the link's connection redirects its tracking
//! (see `tracking.rs`). Each message names keys changed in Redis by other clients (or
//! is empty: the database was flushed); the copies they stood for are dropped (see
//! `registry.rs`).
//!
//! The connection is pinged when quiet: a ping that is not answered within the
//! command timeout, or any error, counts as the connection lost, and the copies of
//! every function are distrusted until a new one is up and tracked into. It then
//! reconnects after a back-off, as the link does.
//!
//! Every [`TICK`] it also wakes the async waiters of fleet-wide flights, whose
//! deadlines need a clock that no runtime provides here.
//!
//! This module must never panic on what the server sends: a message of an unexpected
//! shape distrusts everything, as a flush does.

use super::link::{Timeouts, MAX_BACK_OFF};
use super::registry;
use super::tracking::Tracking;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The channel invalidations are published on, for RESP2 connections.
const CHANNEL: &str = "__redis__:invalidate";
/// How long a read waits before the thread looks at its clock: the resolution of
/// async waiters' deadlines, and how soon the thread notices it should stop.
pub(super) const TICK: Duration = Duration::from_millis(50);
/// A connection quiet for this long is pinged: a server that vanished without closing
/// the socket is noticed within this plus the command timeout.
const PING_WHEN_QUIET: Duration = Duration::from_secs(1);
/// The first back-off after the connection failed: short, since while it is down no
/// copy is trusted (and after `CLIENT KILL` the server is there at once).
const MIN_BACK_OFF: Duration = Duration::from_millis(10);

/// The notification thread of one connection; it stops when this is dropped.
pub(super) struct Notifications {
    stop: Arc<AtomicBool>,
}

impl Drop for Notifications {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Notifications {
    /// Starts the thread, which connects at once (`connect` waits for the process to be
    /// tracked). `wake_link` has the link's thread look at the tracking state again.
    pub(super) fn start(
        client: redis::Client,
        timeouts: Timeouts,
        tracking: Arc<Tracking>,
        wake_link: Box<dyn Fn() + Send>,
    ) -> Notifications {
        let stop = Arc::new(AtomicBool::new(false));
        let listener = Listener {
            client,
            timeouts,
            tracking,
            wake_link,
            stop: Arc::clone(&stop),
        };
        let spawned = thread::Builder::new()
            .name("ttl-cached-redis-notify".to_owned())
            .spawn(move || listener.run());
        if spawned.is_err() {
            // No thread: the process runs untracked, copies live their TTL.
            stop.store(true, Ordering::Relaxed);
        }
        Notifications { stop }
    }
}

struct Listener {
    client: redis::Client,
    timeouts: Timeouts,
    tracking: Arc<Tracking>,
    wake_link: Box<dyn Fn() + Send>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A connection, with its client id.
    fn connect(&mut self) -> Option<(redis::Connection, u64)> {
        let mut connection = self
            .client
            .get_connection_with_timeout(self.timeouts.connect)
            .ok()?;
        connection
            .set_read_timeout(Some(self.timeouts.connect))
            .ok()?;
        connection
            .set_write_timeout(Some(self.timeouts.connect))
            .ok()?;
        let id: u64 = redis::cmd("CLIENT").arg("ID").query(&mut connection).ok()?;
        Some((connection, id))
    }

    fn run(mut self) {
        let mut connection = self.connect();
        let mut back_off = MIN_BACK_OFF;
        while !self.stopped() {
            match connection.take() {
                Some((mut open, id)) => {
                    back_off = MIN_BACK_OFF;
                    self.listen(&mut open, id);
                    self.tracking.notify_down();
                }
                None => {
                    let until = Instant::now() + back_off;
                    while Instant::now() < until && !self.stopped() {
                        registry::tick();
                        thread::sleep(TICK.min(back_off));
                    }
                    connection = self.connect();
                    if connection.is_none() {
                        back_off = (back_off * 2).min(MAX_BACK_OFF);
                    }
                }
            }
        }
        self.tracking.notify_down();
    }

    /// Subscribes, has the link track into this connection (client `id`), then
    /// handles messages until the connection fails or the thread is stopped.
    fn listen(&self, connection: &mut redis::Connection, id: u64) {
        if !subscribe(connection) {
            return;
        }
        let mut pubsub = connection.as_pubsub();
        self.tracking.notify_up(id);
        (self.wake_link)();
        let mut heard = Instant::now();
        let mut ticked = Instant::now();
        while !self.stopped() {
            if pubsub.set_read_timeout(Some(TICK)).is_err() {
                return;
            }
            let message = pubsub.get_message();
            // By the clock, not by quiet reads: a busy channel has none.
            if ticked.elapsed() >= TICK {
                registry::tick();
                ticked = Instant::now();
            }
            match message {
                Ok(message) => {
                    heard = Instant::now();
                    self.handle(&message);
                }
                Err(error) if error.is_timeout() => {
                    if heard.elapsed() >= PING_WHEN_QUIET {
                        let command = self.timeouts.command.max(Duration::from_millis(1));
                        let answered = pubsub.set_read_timeout(Some(command)).is_ok()
                            && pubsub.ping::<redis::Value>().is_ok();
                        if !answered {
                            return;
                        }
                        heard = Instant::now();
                    }
                }
                Err(_) => return,
            }
        }
    }

    fn handle(&self, message: &redis::Msg) {
        if message.get_channel_name() != CHANNEL {
            return;
        }
        match message.get_payload::<Option<Vec<Vec<u8>>>>() {
            Ok(Some(keys)) => {
                for key in keys {
                    registry::invalidated(self.tracking.prefix(), &key);
                }
            }
            // `FLUSHDB`/`FLUSHALL` (a null message), or a payload of another shape.
            Ok(None) | Err(_) => registry::distrust_all().finish(false),
        }
    }
}

/// Subscribes to the channel; whether the server confirmed it. (The `redis` crate's
/// `PubSub::subscribe` takes an error reply, such as an ACL's `NOPERM`, for success:
/// the process would then believe itself told of changes it never hears of.)
fn subscribe(connection: &mut redis::Connection) -> bool {
    let command = redis::cmd("SUBSCRIBE").arg(CHANNEL).get_packed_command();
    if connection.send_packed_command(&command).is_err() {
        return false;
    }
    match connection.recv_response() {
        Ok(redis::Value::Array(reply)) => {
            matches!(reply.first(), Some(redis::Value::BulkString(kind)) if kind == b"subscribe")
        }
        _ => false,
    }
}
