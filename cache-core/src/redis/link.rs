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
//! This module must never block a caller past its deadline, never panic on what the
//! server sends, and never run a caller's code on its thread.

use super::level::SCRIPTS;
use super::reply::{Failure, Slot};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The first back-off after a failure: long enough that a dead server costs a call
/// one atomic load, short enough that a restarted one is used again at once.
const MIN_BACK_OFF: Duration = Duration::from_millis(250);
/// The longest back-off: a server back up is used again within this.
pub(super) const MAX_BACK_OFF: Duration = Duration::from_secs(4);
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
}

impl Request {
    fn fail(&self, failure: Failure) {
        if let Some(slot) = &self.slot {
            slot.fill(Err(failure));
        }
    }
}

/// A handle to the connection thread. Dropping the last one ends the thread once it
/// has answered what was queued.
pub(super) struct Link {
    queue: Sender<Request>,
    up: Arc<AtomicBool>,
    timeouts: Timeouts,
}

impl Link {
    /// Opens a connection now (an `Err` for a bad password or an unreachable server),
    /// then hands it to a new connection thread.
    pub(super) fn open(client: redis::Client, timeouts: Timeouts) -> redis::RedisResult<Link> {
        let connection = connect(&client, timeouts)?;
        let (queue, requests) = mpsc::channel();
        let up = Arc::new(AtomicBool::new(true));
        let thread_up = Arc::clone(&up);
        thread::Builder::new()
            .name("ttl-cached-redis".to_owned())
            .spawn(move || run(client, connection, requests, &thread_up, timeouts))
            .map_err(redis::RedisError::from)?;
        Ok(Link {
            queue,
            up,
            timeouts,
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
        };
        self.queue.send(request).map_err(|_| Failure::Unavailable)?;
        Ok((slot, deadline))
    }

    /// Queues `command` with nobody waiting for its answer; `false` if the link is
    /// down. Commands run in the order queued, so a later request of this process sees
    /// its effect.
    pub(super) fn send_detached(&self, command: redis::Cmd) -> bool {
        if !self.is_up() {
            return false;
        }
        let request = Request {
            command,
            deadline: Instant::now() + self.timeouts.command,
            slot: None,
        };
        self.queue.send(request).is_ok()
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

/// The connection thread: batches while up, backs off and reconnects while down.
/// Returns when every `Link` is dropped.
fn run(
    client: redis::Client,
    connection: redis::Connection,
    requests: Receiver<Request>,
    up: &AtomicBool,
    timeouts: Timeouts,
) {
    let mut connection = Some(connection);
    let mut back_off = MIN_BACK_OFF;
    loop {
        match &mut connection {
            Some(open) => {
                let Ok(first) = requests.recv() else { return };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match requests.try_recv() {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
                if !execute(open, batch) {
                    up.store(false, Ordering::Relaxed);
                    connection = None;
                    fail_queued(&requests);
                }
            }
            None => {
                if !wait_failing_requests(&requests, back_off) {
                    return;
                }
                match connect(&client, timeouts) {
                    Ok(open) => {
                        connection = Some(open);
                        back_off = MIN_BACK_OFF;
                        up.store(true, Ordering::Relaxed);
                    }
                    Err(_) => back_off = (back_off * 2).min(MAX_BACK_OFF),
                }
            }
        }
    }
}

/// Sends `batch` as one pipeline and answers each request; `false` if the connection
/// failed (every request of the batch is then answered `Failed`) or the server
/// answered an error (that request is answered `Failed`, the others theirs).
fn execute(connection: &mut redis::Connection, batch: Vec<Request>) -> bool {
    let now = Instant::now();
    let (mut live, late): (Vec<Request>, Vec<Request>) = batch
        .into_iter()
        .partition(|request| request.deadline > now);
    for request in &late {
        request.fail(Failure::Failed);
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
                live.iter()
                    .for_each(|request| request.fail(Failure::Failed));
                return false;
            }
        };
    let mut healthy = answers.len() == live.len();
    let mut answers = answers.into_iter();
    for request in &live {
        match answers.next() {
            Some(Ok(value)) => {
                if let Some(slot) = &request.slot {
                    slot.fill(Ok(value));
                }
            }
            Some(Err(_)) | None => {
                healthy = false;
                request.fail(Failure::Failed);
            }
        }
    }
    healthy
}

/// Answers `Failed` to everything queued now.
fn fail_queued(requests: &Receiver<Request>) {
    while let Ok(request) = requests.try_recv() {
        request.fail(Failure::Failed);
    }
}

/// Waits `back_off`, answering `Unavailable` to whatever is queued meanwhile (a
/// caller that saw the link up just before it went down). `false` once every `Link`
/// is dropped.
fn wait_failing_requests(requests: &Receiver<Request>, back_off: Duration) -> bool {
    let until = Instant::now() + back_off;
    loop {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        match requests.recv_timeout(until - now) {
            Ok(request) => request.fail(Failure::Unavailable),
            Err(RecvTimeoutError::Timeout) => return true,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}
