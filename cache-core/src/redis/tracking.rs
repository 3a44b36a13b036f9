//! Whether this process is told of every change in Redis now: the state that the link
//! (whose connection is tracked) and the notification thread (whose connection
//! receives the invalidations) share.
//!
//! The link's connection runs `CLIENT TRACKING ON REDIRECT <id> BCAST PREFIX
//! <namespace>: NOLOOP`: every change by another client to a key of the namespace is
//! sent to the notification connection `<id>`, changes made through the link itself
//! are not (this process already applied them to its own copies). Tracking is live
//! while both connections are up and the link's redirects to the notification
//! connection that is up now; every time it stops or starts being live, the copies
//! of every function are distrusted (see `registry.rs`): what was stored while nobody
//! listened may be stale.
//!
//! This module must never block: its lock is held for a few loads and stores.

use super::registry;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What the link and the notification thread share.
pub(super) struct Tracking {
    /// `{namespace}:`: the prefix tracked.
    prefix: Box<str>,
    state: Mutex<State>,
    /// Held through a whole update: one at a time (see [`Tracking::update`]).
    updating: Mutex<()>,
    /// Notified at every change of `state`, for [`Tracking::wait_live`].
    changed: Condvar,
    /// Set when the connection is replaced by another (`connect` again): its threads'
    /// last events then distrust nothing, the new connection does.
    retired: AtomicBool,
    /// The serial of the notification connection up now (see [`State`]): read by the
    /// link's thread before each batch, to re-track when it changed.
    wanted: AtomicU64,
}

/// Notification connections are numbered by a serial of this process, not known by
/// their client id alone: a restarted server hands out ids from 1 again.
#[derive(Clone, Default)]
struct State {
    /// The notification connection's client id, 0 while it is down.
    notify_id: u64,
    /// The serial of the latest notification connection.
    notify_serial: u64,
    /// The serial of the notification connection the link's connection redirects
    /// to, 0 while it tracks nothing.
    link_serial: u64,
}

impl State {
    fn live(&self) -> bool {
        self.notify_id != 0 && self.link_serial == self.notify_serial
    }
}

impl Tracking {
    pub(super) fn new(namespace: &str) -> Self {
        Tracking {
            prefix: format!("{namespace}:").into_boxed_str(),
            state: Mutex::new(State::default()),
            updating: Mutex::new(()),
            changed: Condvar::new(),
            retired: AtomicBool::new(false),
            wanted: AtomicU64::new(0),
        }
    }

    /// The prefix tracked, `{namespace}:`.
    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The serial of the latest notification connection: cheap, for the link's check
    /// before each batch.
    pub(super) fn wanted_serial(&self) -> u64 {
        self.wanted.load(Ordering::Acquire)
    }

    /// The latest notification connection, `(serial, client id)`, if it is up.
    pub(super) fn wanted(&self) -> Option<(u64, u64)> {
        let state = self.lock();
        (state.notify_id != 0).then_some((state.notify_serial, state.notify_id))
    }

    /// Waits at most `timeout` for tracking to be live; whether it is.
    pub(super) fn wait_live(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut state = self.lock();
        while !state.live() {
            let now = Instant::now();
            if now >= until {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Whether every change is reported now.
    pub(super) fn is_live(&self) -> bool {
        self.lock().live()
    }

    /// The commands that make a connection track into notification connection `id`:
    /// off first (tracking's options cannot change while it is on).
    pub(super) fn commands(&self, id: u64) -> [redis::Cmd; 2] {
        let mut off = redis::cmd("CLIENT");
        off.arg("TRACKING").arg("OFF");
        let mut on = redis::cmd("CLIENT");
        on.arg("TRACKING")
            .arg("ON")
            .arg("REDIRECT")
            .arg(id)
            .arg("BCAST")
            .arg("PREFIX")
            .arg(&*self.prefix)
            .arg("NOLOOP");
        [off, on]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Only plain stores under this lock: a poisoned one is consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change`, then distrusts every copy if tracking stopped or started
    /// being live (`elsewhere`: the copies are dropped off the calling thread).
    ///
    /// The distrust happens before the new state is seen: whoever sees tracking live
    /// (`wait_live`) also sees the drop it started (`registry::wait_dropped`).
    fn update(&self, change: impl FnOnce(&mut State), elsewhere: bool) {
        let distrusted = {
            let _updating = self.updating.lock().unwrap_or_else(PoisonError::into_inner);
            let (was, mut next) = {
                let state = self.lock();
                (state.live(), state.clone())
            };
            change(&mut next);
            let distrusted = (was != next.live() && !self.retired.load(Ordering::Acquire))
                .then(registry::distrust_all);
            *self.lock() = next;
            distrusted
        };
        self.changed.notify_all();
        // Waiters woken and values dropped with no lock held.
        if let Some(distrusted) = distrusted {
            distrusted.finish(elsewhere);
        }
    }

    /// The connection this tracks is replaced: its events no longer matter.
    pub(super) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    /// A new notification connection is up, as client `id`.
    pub(super) fn notify_up(&self, id: u64) {
        let mut serial = 0;
        self.update(
            |state| {
                state.notify_serial += 1;
                state.notify_id = id;
                serial = state.notify_serial;
            },
            false,
        );
        self.wanted.store(serial, Ordering::Release);
    }

    /// The notification connection is lost.
    pub(super) fn notify_down(&self) {
        self.update(|state| state.notify_id = 0, false);
    }

    /// The link's connection now redirects to notification connection `serial` (0:
    /// it tracks nothing, or it is lost). Called on the link's thread.
    pub(super) fn link_tracks(&self, serial: u64) {
        self.update(|state| state.link_serial = serial, true);
    }
}
