//! The link to one Redis server: a connection owned by a thread of its own, a queue
//! of requests, and the circuit breaker.
//!
//! Callers never touch the socket. They queue a request (a command, the deadline by
//! which its caller stops waiting, and a [`Slot`] for the answer) and wait on the slot.
//! The thread takes every request queued, sends them as one pipeline (one write, one
//! read: many callers, one round trip) and answers each slot. It reads with a socket
//! timeout that ends at the earliest deadline of the batch, so every request it was
//! given is answered by its deadline, and an awaiting task needs no timer.
//!
//! The circuit breaker: any failure (a timeout, a dropped connection, an error
//! reply such as OOM or READONLY) drops the connection, marks the link down and fails
//! what is queued. While down, callers do not queue at all (one atomic load), and the
//! thread reconnects after a back-off that doubles, up to [`MAX_BACK_OFF`].
//!
//! Tracking (see `tracking.rs`): each connection is made to track into the
//! notification connection as soon as it is open, and again before the next batch
//! whenever the notification connection changed; a lost connection stops tracking.
//!
//! Invalidations that nobody waits for (`_invalidate`, `_clear`, `_refresh`) carry a
//! catch-up command: if they cannot be sent or fail, it is kept and sent first when
//! the link is up again, before any other command (an `INCR` of the function's
//! generation: what was meant to go cannot be served afterwards, here or elsewhere).
//!
//! This module must never block a caller past its deadline, never panic on what the
//! server sends, and never run a caller's code on its thread.

use super::level::SCRIPTS;
use super::reply::{Answer, Failure, Slot};
use super::tracking::Tracking;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The first back-off after a failure: long enough that a dead server costs a call
/// one atomic load, short enough that a restarted one is used again at once.
const MIN_BACK_OFF: Duration = Duration::from_millis(250);
/// The longest back-off: a server back up is used again within this.
pub(super) const MAX_BACK_OFF: Duration = Duration::from_secs(4);
/// A connection with no traffic for this long is pinged: while the server has dropped
/// it, its tracking is gone too, and copies are not trusted until a new one tracks.
/// This bounds how long that goes unnoticed on an idle link.
const PING_WHEN_QUIET: Duration = Duration::from_millis(250);
/// The most requests sent as one pipeline.
const MAX_BATCH: usize = 256;
/// The shortest socket timeout set for a batch (a zero timeout means "none").
const MIN_READ_TIMEOUT: Duration = Duration::from_millis(1);

/// The timeouts a link works with.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timeouts {
    pub(super) connect: Duration,
    pub(super) command: Duration,
}

/// One queued command.
struct Request {
    command: redis::Cmd,
    /// When its caller stops waiting.
    deadline: Instant,
    /// `None`: nobody waits for the answer (fire and forget).
    slot: Option<Arc<Slot>>,
    /// Sent first once the link is up again, if this one fails.
    catch_up: Option<redis::Cmd>,
}

impl Request {
    fn fail(&mut self, failure: Failure, pending: &Pending) {
        if let Some(slot) = &self.slot {
            slot.fill(Err(failure));
        }
        if let Some(catch_up) = self.catch_up.take() {
            pending.keep(catch_up);
        }
    }
}

/// Catch-up commands of failed invalidations, each kept once.
#[derive(Default)]
pub(super) struct Pending(Mutex<Vec<redis::Cmd>>);

impl Pending {
    fn keep(&self, command: redis::Cmd) {
        let mut pending = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let packed = command.get_packed_command();
        if !pending
            .iter()
            .any(|kept| kept.get_packed_command() == packed)
        {
            pending.push(command);
        }
    }

    fn take(&self) -> Vec<redis::Cmd> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A handle to the connection thread. Dropping the last one ends the thread once it
/// has answered what was queued.
pub(super) struct Link {
    queue: Sender<Request>,
    up: Arc<AtomicBool>,
    timeouts: Timeouts,
    pending: Arc<Pending>,
}

impl Link {
    /// Opens a connection now (an `Err` for a bad password or an unreachable server),
    /// then hands it to a new connection thread.
    pub(super) fn open(
        client: redis::Client,
        timeouts: Timeouts,
        tracking: Arc<Tracking>,
    ) -> redis::RedisResult<Link> {
        let connection = connect(&client, timeouts)?;
        let (queue, requests) = mpsc::channel();
        let up = Arc::new(AtomicBool::new(true));
        let pending = Arc::new(Pending::default());
        let thread = Thread {
            client,
            requests,
            up: Arc::clone(&up),
            timeouts,
            tracking,
            pending: Arc::clone(&pending),
            tracked: 0,
        };
        thread::Builder::new()
            .name("ttl-cached-redis".to_owned())
            .spawn(move || thread.run(connection))
            .map_err(redis::RedisError::from)?;
        Ok(Link {
            queue,
            up,
            timeouts,
            pending,
        })
    }

    /// Whether the link is connected now (the circuit is closed).
    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Queues `command`; its answer is in the returned slot, the caller stops waiting
    /// at the returned deadline. `Unavailable` at once while the link is down.
    pub(super) fn send(&self, command: redis::Cmd) -> Result<(Arc<Slot>, Instant), Failure> {
        if !self.is_up() {
            return Err(Failure::Unavailable);
        }
        let slot = Arc::new(Slot::default());
        let deadline = Instant::now() + self.timeouts.command;
        let request = Request {
            command,
            deadline,
            slot: Some(Arc::clone(&slot)),
            catch_up: None,
        };
        self.queue.send(request).map_err(|_| Failure::Unavailable)?;
        Ok((slot, deadline))
    }

    /// Something that wakes the link's thread (a `PING` nobody waits for), so that it
    /// looks at the tracking state again even when no caller sends anything.
    pub(super) fn waker(&self) -> Box<dyn Fn() + Send> {
        let queue = self.queue.clone();
        let up = Arc::clone(&self.up);
        let command_timeout = self.timeouts.command;
        Box::new(move || {
            if up.load(Ordering::Relaxed) {
                let _ = queue.send(Request {
                    command: redis::cmd("PING"),
                    deadline: Instant::now() + command_timeout,
                    slot: None,
                    catch_up: None,
                });
            }
        })
    }

    /// Sends `command` and blocks for its answer, at most the command timeout.
    pub(super) fn request(&self, command: redis::Cmd) -> Answer {
        let (slot, deadline) = self.send(command)?;
        slot.wait_until(deadline)
    }

    /// Sends `command` and awaits its answer (given by the command timeout).
    pub(super) async fn request_async(&self, command: redis::Cmd) -> Answer {
        let (slot, _) = self.send(command)?;
        slot.answer().await
    }

    /// The command timeout.
    pub(super) fn command_timeout(&self) -> Duration {
        self.timeouts.command
    }

    /// Queues `command` with nobody waiting for its answer. Commands run in the
    /// order queued, so a later request of this process sees its effect. If it cannot
    /// be sent or fails, `catch_up` (if any) is sent first once the link is up again.
    pub(super) fn send_detached(&self, command: redis::Cmd, catch_up: Option<redis::Cmd>) {
        if !self.is_up() {
            if let Some(catch_up) = catch_up {
                self.pending.keep(catch_up);
            }
            return;
        }
        let request = Request {
            command,
            deadline: Instant::now() + self.timeouts.command,
            slot: None,
            catch_up,
        };
        if let Err(mpsc::SendError(mut request)) = self.queue.send(request) {
            request.fail(Failure::Unavailable, &self.pending);
        }
    }
}

/// A connection checked with a `PING`, with the scripts loaded and its socket
/// timeouts set.
fn connect(client: &redis::Client, timeouts: Timeouts) -> redis::RedisResult<redis::Connection> {
    let mut connection = client.get_connection_with_timeout(timeouts.connect)?;
    connection.set_read_timeout(Some(timeouts.connect))?;
    connection.set_write_timeout(Some(timeouts.connect))?;
    redis::cmd("PING").query::<()>(&mut connection)?;
    for script in SCRIPTS {
        redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(script)
            .query::<String>(&mut connection)?;
    }
    // Set once, not per batch (a system call each, in a thread that is the bottleneck
    // of many callers): a caller never waits past its own deadline whatever the
    // socket does, so the socket only bounds how long a hung server holds the link.
    connection.set_read_timeout(Some(timeouts.command.max(MIN_READ_TIMEOUT)))?;
    connection.set_write_timeout(Some(timeouts.command.max(MIN_READ_TIMEOUT)))?;
    Ok(connection)
}

/// The connection thread's state.
struct Thread {
    client: redis::Client,
    requests: Receiver<Request>,
    up: Arc<AtomicBool>,
    timeouts: Timeouts,
    tracking: Arc<Tracking>,
    pending: Arc<Pending>,
    /// The serial of the notification connection this connection tracks into, 0 if
    /// none.
    tracked: u64,
}

impl Thread {
    /// Batches while up, backs off and reconnects while down. Returns when every
    /// `Link` is dropped.
    fn run(mut self, connection: redis::Connection) {
        let mut connection = Some(connection);
        if let Some(open) = &mut connection {
            if self.track(open).is_err() {
                connection = None;
                self.lost();
            }
        }
        let mut back_off = MIN_BACK_OFF;
        loop {
            match &mut connection {
                Some(open) => {
                    let first = match self.requests.recv_timeout(PING_WHEN_QUIET) {
                        Ok(first) => first,
                        Err(RecvTimeoutError::Timeout) => {
                            // Quiet: a connection the server dropped (which stops its
                            // tracking) is noticed now, not at the next command.
                            if redis::cmd("PING").query::<()>(open).is_err() {
                                connection = None;
                                self.lost();
                            }
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match self.requests.try_recv() {
                            Ok(request) => batch.push(request),
                            Err(_) => break,
                        }
                    }
                    let healthy = match self.track(open) {
                        Ok(()) => execute(open, batch, &self.pending),
                        Err(_) => {
                            // Every request given is answered: async callers have no
                            // timer of their own.
                            for mut request in batch {
                                request.fail(Failure::Failed, &self.pending);
                            }
                            false
                        }
                    };
                    if !healthy {
                        connection = None;
                        self.lost();
                    }
                }
                None => {
                    if !wait_failing_requests(&self.requests, back_off, &self.pending) {
                        return;
                    }
                    match self.reconnect() {
                        Some(open) => {
                            connection = Some(open);
                            back_off = MIN_BACK_OFF;
                            self.up.store(true, Ordering::Relaxed);
                        }
                        None => back_off = (back_off * 2).min(MAX_BACK_OFF),
                    }
                }
            }
        }
    }

    /// A new connection, tracking, with the catch-up commands sent.
    fn reconnect(&mut self) -> Option<redis::Connection> {
        let mut open = connect(&self.client, self.timeouts).ok()?;
        self.tracked = 0;
        if self.track(&mut open).is_err() {
            self.lost();
            return None;
        }
        let catch_up = self.pending.take();
        let mut pipeline = redis::pipe();
        catch_up.iter().for_each(|command| {
            pipeline.add_command(command.clone());
        });
        if !catch_up.is_empty() && pipeline.query::<()>(&mut open).is_err() {
            catch_up
                .into_iter()
                .for_each(|command| self.pending.keep(command));
            self.lost();
            return None;
        }
        Some(open)
    }

    /// Makes the connection track into the notification connection up now, if it
    /// changed since. `Err` if the connection failed.
    fn track(&mut self, connection: &mut redis::Connection) -> redis::RedisResult<()> {
        if self.tracking.wanted_serial() == self.tracked {
            return Ok(());
        }
        let Some((serial, id)) = self.tracking.wanted() else {
            return Ok(());
        };
        let [off, on] = self.tracking.commands(id);
        let answers: Vec<redis::RedisResult<redis::Value>> = redis::pipe()
            .add_command(off)
            .add_command(on)
            .ignore_errors()
            .query(connection)?;
        self.tracked = serial;
        if answers.iter().all(Result::is_ok) {
            self.tracking.link_tracks(serial);
        }
        // Otherwise the server refuses tracking (too old, or not Redis): copies stay
        // untracked, and live no longer than their TTL, as without this feature.
        Ok(())
    }

    /// The connection is gone: callers stop queueing, tracking stops.
    fn lost(&mut self) {
        self.up.store(false, Ordering::Relaxed);
        self.tracked = 0;
        self.tracking.link_tracks(0);
        fail_queued(&self.requests, &self.pending);
    }
}

/// Sends `batch` as one pipeline and answers each request; `false` if the connection
/// failed (every request of the batch is then answered `Failed`) or the server
/// answered an error (that request is answered `Failed`, the others theirs).
fn execute(connection: &mut redis::Connection, batch: Vec<Request>, pending: &Pending) -> bool {
    let now = Instant::now();
    let (mut live, late): (Vec<Request>, Vec<Request>) = batch
        .into_iter()
        .partition(|request| request.deadline > now);
    for mut request in late {
        request.fail(Failure::Failed, pending);
    }
    if live.is_empty() {
        return true;
    }
    let mut pipeline = redis::pipe();
    for request in &mut live {
        // Moved, not cloned: the request keeps only its slot and deadline.
        pipeline.add_command(std::mem::replace(&mut request.command, redis::Cmd::new()));
    }
    let answers: Vec<redis::RedisResult<redis::Value>> =
        match pipeline.ignore_errors().query(connection) {
            Ok(answers) => answers,
            Err(_) => {
                live.iter_mut()
                    .for_each(|request| request.fail(Failure::Failed, pending));
                return false;
            }
        };
    let mut healthy = answers.len() == live.len();
    let mut answers = answers.into_iter();
    for request in &mut live {
        match answers.next() {
            Some(Ok(value)) => {
                if let Some(slot) = &request.slot {
                    slot.fill(Ok(value));
                }
            }
            Some(Err(_)) | None => {
                healthy = false;
                request.fail(Failure::Failed, pending);
            }
        }
    }
    healthy
}

/// Answers `Failed` to everything queued now.
fn fail_queued(requests: &Receiver<Request>, pending: &Pending) {
    while let Ok(mut request) = requests.try_recv() {
        request.fail(Failure::Failed, pending);
    }
}

/// Waits `back_off`, answering `Unavailable` to whatever is queued meanwhile (a
/// caller that saw the link up just before it went down). `false` once every `Link`
/// is dropped.
fn wait_failing_requests(
    requests: &Receiver<Request>,
    back_off: Duration,
    pending: &Pending,
) -> bool {
    let until = Instant::now() + back_off;
    loop {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        match requests.recv_timeout(until - now) {
            Ok(mut request) => request.fail(Failure::Unavailable, pending),
            Err(RecvTimeoutError::Timeout) => return true,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}
