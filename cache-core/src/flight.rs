//! Single-flight: the record of a computation under way, and how others wait for it.
//!
//! When a lookup misses, its caller registers a [`Flight`] for the key in the key's
//! shard (under the shard's write lock), then runs the user's `init` with no lock
//! held. Callers that miss the same key meanwhile find the flight and wait on its
//! [`Signal`] instead of running `init` again. The leader settles the signal with the
//! stored value, or abandons it (panic, error, nothing to store), and a waiter that
//! sees an abandoned flight goes round again: one of them becomes the next leader.
//!
//! A signal's mutex is held only to read or write the outcome, never while user code
//! runs, except `V::clone` when a waiter takes its copy (a panicking clone is tolerated:
//! the lock ignores poisoning).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

/// A computation under way for one key, kept in its shard until it settles.
pub(crate) struct Flight<K, V> {
    pub(crate) hash: u64,
    /// The key is parked here while `init` runs, then moves into the table.
    pub(crate) key: K,
    pub(crate) signal: Arc<Signal<V>>,
    /// Lets a re-entrant call for the same key from inside `init` be detected.
    pub(crate) leader: ThreadId,
}

enum Outcome<V> {
    Running,
    Stored(V),
    Abandoned,
}

/// Where waiters learn how a flight ended.
pub(crate) struct Signal<V> {
    outcome: Mutex<Outcome<V>>,
    settled: Condvar,
}

impl<V: Clone> Signal<V> {
    pub(crate) fn new() -> Self {
        Signal {
            outcome: Mutex::new(Outcome::Running),
            settled: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Outcome<V>> {
        self.outcome.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the flight: `Some(value)` was stored, `None` means waiters must retry.
    pub(crate) fn settle(&self, stored: Option<V>) {
        *self.lock() = match stored {
            Some(value) => Outcome::Stored(value),
            None => Outcome::Abandoned,
        };
        self.settled.notify_all();
    }

    /// Blocks until the flight settles: the stored value, or `None` to retry.
    pub(crate) fn wait(&self) -> Option<V> {
        let mut outcome = self.lock();
        loop {
            match &*outcome {
                Outcome::Running => {
                    outcome = self
                        .settled
                        .wait(outcome)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Outcome::Stored(value) => return Some(value.clone()),
                Outcome::Abandoned => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn waiters_receive_the_stored_value() {
        let signal = Arc::new(Signal::new());
        let waiter = {
            let signal = Arc::clone(&signal);
            thread::spawn(move || signal.wait())
        };
        signal.settle(Some(5));
        assert_eq!(waiter.join().unwrap(), Some(5));
    }

    #[test]
    fn an_abandoned_flight_tells_waiters_to_retry() {
        let signal: Signal<u8> = Signal::new();
        signal.settle(None);
        assert_eq!(signal.wait(), None);
    }
}
