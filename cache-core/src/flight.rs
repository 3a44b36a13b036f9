//! Single-flight: the record of a computation under way, and how others wait for it.
//!
//! When a lookup misses, its caller registers as the leader of the key's computation,
//! then runs the user's `init` with no lock held. Most often it registers before it
//! lets go of the lookup's read lock, by claiming the shard's [`SoloFlight`]: one
//! atomic word, which one flight per shard can hold. Otherwise (the word is taken, or
//! the key's hash already has a flight) it registers a [`Flight`] in the shard's list
//! under the shard's write lock, one more lock round trip (measured: a memoized miss
//! cost about 7% more that way).
//!
//! Callers that miss the same key meanwhile find the flight and wait on its [`Signal`]
//! (the first of them creates it) instead of running `init` again. A listed flight's
//! leader settles the signal with the stored value, or abandons it (panic, error,
//! nothing to store); a solo flight's leader always tells its waiters to look again.
//! A waiter told to look again goes round: it finds the stored value, or one of the
//! waiters becomes the next leader.
//!
//! Waiters either block their thread ([`Signal::wait`], for sync callers) or await
//! ([`Signal::settled`], for async callers: it parks the task's waker, never a thread).
//! A signal's mutex is held only to read or write the outcome, never while user code
//! runs, except `V::clone` when a waiter takes its copy (a panicking clone is tolerated:
//! the lock ignores poisoning).

use crate::shim::{AtomicU64, Condvar, Mutex, MutexGuard};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
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
    /// The thread running a sync `init` ([`shim::current_thread`](crate::shim)), so
    /// that a re-entrant call for the same key from inside it is detected. [`TASK`] for
    /// async flights: tasks share threads.
    pub(crate) leader: u64,
}

/// The leader of an async flight: no thread, since tasks share threads.
pub(crate) const TASK: u64 = 0;

/// The flight a lookup can register while it still holds the shard's read lock, one
/// per shard: registering then costs one compare-and-swap instead of taking the write
/// lock.
///
/// Why it is safe to lead from under a read lock: the lookup has just seen, under that
/// lock, that the table holds no live value and the shard's list holds no flight for
/// the key; nobody can store one or register one without the write lock, which waits
/// for the read lock to go. So when the claim succeeds, nobody else computes the key,
/// and whoever misses it from then on finds the claim: on its own read lock (the word
/// is taken, so it goes to the write lock) and then under the write lock, where it
/// waits ([`ShardState::solo_signal`](crate::shard::ShardState)). The leader ends the
/// flight under the write lock too, storing the value in the same critical section.
///
/// Waiters know the flight by its key's hash only (the leader keeps its key), so they
/// are woken with "look again", never with the value: one of them may have a
/// different key of the same hash, and looking again is exact.
pub(crate) struct SoloFlight {
    /// The hash of the key being computed, with [`CLAIMED`] set; 0 when free.
    claim: AtomicU64,
    /// The leader's thread, or [`TASK`]. Written by the leader after its claim and read
    /// only under the write lock, which orders it after that write.
    leader: AtomicU64,
}

/// Set in every claim, so that no claim is 0. Bit 48 is one that key hashes leave
/// clear (see `key_hash.rs`), so claims of different hashes differ.
const CLAIMED: u64 = 1 << 48;

impl SoloFlight {
    pub(crate) fn new() -> Self {
        SoloFlight {
            claim: AtomicU64::new(0),
            leader: AtomicU64::new(TASK),
        }
    }

    /// Under the shard's read lock, after a miss: claims the flight for `hash`, for
    /// `leader`. False if another flight holds it.
    ///
    /// `Relaxed` throughout: every access that decides who computes or waits happens
    /// under the shard lock, which orders them (see the type's documentation); the
    /// atomics only let several readers race for the claim.
    #[inline]
    pub(crate) fn try_claim(&self, hash: u64, leader: u64) -> bool {
        let claimed = self
            .claim
            .compare_exchange(0, hash | CLAIMED, Relaxed, Relaxed)
            .is_ok();
        if claimed {
            self.leader.store(leader, Relaxed);
        }
        claimed
    }

    /// Under the write lock: the leader of the flight for `hash`, if one is under way.
    pub(crate) fn leader_of(&self, hash: u64) -> Option<u64> {
        (self.claim.load(Relaxed) == hash | CLAIMED).then(|| self.leader.load(Relaxed))
    }

    /// Under the write lock: ends the flight. The leader is cleared first, so a thread
    /// that led here before never reads its own number for a later leader.
    pub(crate) fn release(&self) {
        self.leader.store(TASK, Relaxed);
        self.claim.store(0, Relaxed);
    }
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
