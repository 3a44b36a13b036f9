//! Where waiters learn how a flight ended: a [`Signal`], waited on by blocking
//! ([`Signal::wait`]) or by awaiting ([`Signal::settled`]).
//!
//! This module must never wake a waker while it holds its own mutex, and never runs
//! user code under it except `V::clone` when a waiter takes its copy.

use crate::sync::shim::{Condvar, Mutex, MutexGuard};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Waker};

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
