//! Single-flight: the record of a computation under way, and how others wait for it.
//!
//! When a lookup misses, its caller takes the shard's write lock and either finds a
//! [`Flight`] for its key (and waits on its [`Signal`], the first waiter creating it)
//! or registers one and leads: it runs the user's `init` with no lock held, then stores
//! the value and removes the flight under one write lock, so that no caller can find
//! neither. Flights are found by key (`Eq`), never by hash alone: two keys that hash
//! alike never wait for each other.
//!
//! A leader settles the signal with the stored value, or abandons it (panic, error,
//! nothing to store, cancelled future); waiters told to retry go round, and one of
//! them leads next.
//!
//! **Re-entry.** A caller that finds a flight led further up its own stack must not
//! wait for it (it would wait for itself forever). A flight records its [`Leader`]:
//! the leading thread for sync callers, or a task token for async ones; a task token
//! counts as "up the stack" while the leader's `init` future is being polled on this
//! thread ([`lead_polling`]). Such a caller computes its own value instead.
//!
//! Waiters either block their thread ([`Signal::wait`], for sync callers) or await
//! ([`Signal::settled`], for async callers: it parks the task's waker, never a thread).
//! A signal's mutex is held only to read or write the outcome, never while user code
//! runs, except `V::clone` when a waiter takes its copy (a panicking clone is tolerated:
//! the lock ignores poisoning). Wakers are woken after every lock is released.
//!
//! This module must never decide who computes from a key's hash alone.

use crate::sync::shim::{self, Condvar, Mutex, MutexGuard};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Waker};

/// A computation under way for one key, kept in its shard until it settles.
pub(crate) struct Flight<K, V> {
    pub(crate) hash: u64,
    /// The key is parked here while `init` runs, then moves into the table.
    pub(crate) key: K,
    /// Tells the leader's flight from others in the shard.
    pub(crate) id: u64,
    /// Created by the first waiter: most misses have none, and then cost no
    /// allocation and no wake-up.
    pub(crate) signal: Option<Arc<Signal<V>>>,
    /// Who runs `init`, so that a re-entrant call for the same key is detected.
    pub(crate) leader: Leader,
}

/// Who leads a flight: a number that is never 0. Odd for a thread
/// ([`shim::current_thread`]), even for an async task ([`Leader::new_task`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Leader(u64);

impl Leader {
    /// The calling thread, for a sync `init`.
    pub(crate) fn this_thread() -> Self {
        Leader(shim::current_thread())
    }

    /// A fresh token for an async `init`: tasks share threads, so a task is known by
    /// the token its `init` future carries while it is polled ([`lead_polling`]).
    pub(crate) fn new_task() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Even and non-zero, so never a thread's number (those are odd). 2^63 tokens
        // before wrapping: never in practice.
        Leader(NEXT.fetch_add(1, Relaxed) << 1)
    }

    /// Whether this leader is running further up the calling thread's stack: the
    /// thread itself, or a task whose `init` is being polled on it. Waiting for such a
    /// flight would wait forever.
    pub(crate) fn is_up_the_stack(self) -> bool {
        self.0 == shim::current_thread()
            || POLLING
                .try_with(|polling| polling.borrow().contains(&self.0))
                .unwrap_or(false)
    }
}

shim::thread_local! {
    /// The task tokens whose `init` futures are being polled on this thread,
    /// innermost last.
    static POLLING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Runs an async leader's `init` future, marking the leader as up the stack while
/// it is polled, so that a call for the same key from inside it computes instead of
/// waiting for itself.
pub(crate) async fn lead_polling<F: Future>(leader: Leader, init: F) -> F::Output {
    /// Pops the token even if the poll unwinds.
    struct Polling;
    impl Drop for Polling {
        fn drop(&mut self) {
            let _ = POLLING.try_with(|polling| polling.borrow_mut().pop());
        }
    }

    let mut init = std::pin::pin!(init);
    std::future::poll_fn(move |cx| {
        let pushed = POLLING
            .try_with(|polling| polling.borrow_mut().push(leader.0))
            .is_ok();
        let _pop = pushed.then_some(Polling);
        init.as_mut().poll(cx)
    })
    .await
}

enum Outcome<V> {
    Running,
    Stored(V),
    Abandoned,
}

struct SignalState<V> {
    outcome: Outcome<V>,
    /// Tasks awaiting the outcome; a task keeps its slot across polls.
    wakers: Vec<Waker>,
}

/// Where waiters learn how a flight ended.
pub(crate) struct Signal<V> {
    state: Mutex<SignalState<V>>,
    settled: Condvar,
}

impl<V: Clone> Signal<V> {
    pub(crate) fn new() -> Self {
        Signal {
            state: Mutex::new(SignalState {
                outcome: Outcome::Running,
                wakers: Vec::new(),
            }),
            settled: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SignalState<V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the flight: `Some(value)` was stored, `None` means waiters must retry.
    pub(crate) fn settle(&self, stored: Option<V>) {
        let wakers = {
            let mut state = self.lock();
            state.outcome = match stored {
                Some(value) => Outcome::Stored(value),
                None => Outcome::Abandoned,
            };
            std::mem::take(&mut state.wakers)
        };
        self.settled.notify_all();
        // Woken outside the lock: a waker may run code that polls this signal.
        for waker in wakers {
            waker.wake();
        }
    }

    /// Blocks until the flight settles: the stored value, or `None` to retry.
    pub(crate) fn wait(&self) -> Option<V> {
        let mut state = self.lock();
        loop {
            match &state.outcome {
                Outcome::Running => {
                    state = self
                        .settled
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Outcome::Stored(value) => return Some(value.clone()),
                Outcome::Abandoned => return None,
            }
        }
    }

    /// Awaits the flight without blocking a thread: the stored value, or `None` to retry.
    pub(crate) fn settled(self: Arc<Self>) -> Settled<V> {
        Settled {
            signal: self,
            slot: None,
        }
    }
}

/// The future of [`Signal::settled`].
pub(crate) struct Settled<V> {
    signal: Arc<Signal<V>>,
    /// This task's place in the signal's waker list, once it has one.
    slot: Option<usize>,
}

impl<V: Clone> Future for Settled<V> {
    type Output = Option<V>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<V>> {
        let this = &mut *self;
        let mut state = this.signal.lock();
        match &state.outcome {
            Outcome::Stored(value) => return Poll::Ready(Some(value.clone())),
            Outcome::Abandoned => return Poll::Ready(None),
            Outcome::Running => {}
        }
        match this.slot {
            Some(slot) if slot < state.wakers.len() => {
                if !state.wakers[slot].will_wake(cx.waker()) {
                    state.wakers[slot] = cx.waker().clone();
                }
            }
            _ => {
                this.slot = Some(state.wakers.len());
                state.wakers.push(cx.waker().clone());
            }
        }
        Poll::Pending
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
    fn an_awaiting_task_is_woken_with_the_value() {
        use std::task::Wake;

        struct CountWakes(std::sync::atomic::AtomicUsize);
        impl Wake for CountWakes {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }

        let signal = Arc::new(Signal::new());
        let wakes = Arc::new(CountWakes(Default::default()));
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let mut settled = Box::pin(Arc::clone(&signal).settled());
        assert_eq!(settled.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(settled.as_mut().poll(&mut cx), Poll::Pending);
        signal.settle(Some('v'));
        assert_eq!(wakes.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(settled.as_mut().poll(&mut cx), Poll::Ready(Some('v')));
    }

    #[test]
    fn an_abandoned_flight_tells_waiters_to_retry() {
        let signal: Signal<u8> = Signal::new();
        signal.settle(None);
        assert_eq!(signal.wait(), None);
    }
}
