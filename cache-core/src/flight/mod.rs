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

mod protocol;
mod signal;

pub(crate) use protocol::{compute_after_miss, compute_after_miss_async, FlightHost};
pub(crate) use signal::Signal;

use crate::sync::{shim, thread_identity};
use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// What a leader's computation leaves to store: the value, and at most how long it
/// may live (`None`: the map's TTL). A value read from a second level (Redis) must
/// not outlive its entry there; a value may say how long it stays fresh
/// (`#[ttl_cached(ttl_from = ...)]`, which generated code passes as `at_most`).
/// A value read from Redis is also not stored once that entry was invalidated
/// while it was on its way (`unless_moved`). Public only through `__private`, for generated code.
#[derive(Clone, Debug)]
pub struct Landing<V> {
    pub(crate) value: V,
    pub(crate) at_most: Option<Duration>,
    /// Checked under the shard's write lock, just before storing: if the epoch moved
    /// since the value was read, the value is handed to the waiters but not stored.
    pub(crate) unless_moved: Option<Epoch>,
}

impl<V> Landing<V> {
    /// A value that lives the map's TTL.
    pub fn new(value: V) -> Self {
        Landing {
            value,
            at_most: None,
            unless_moved: None,
        }
    }

    /// A value that lives the map's TTL, or `at_most` if that is shorter.
    pub fn at_most(value: V, at_most: Duration) -> Self {
        Landing {
            value,
            at_most: Some(at_most),
            unless_moved: None,
        }
    }

    /// The TTL to store it with, given the map's (`None`: no expiry).
    pub(crate) fn ttl(&self, map_ttl: Option<Duration>) -> Option<Duration> {
        match (map_ttl, self.at_most) {
            (Some(ttl), Some(at_most)) => Some(ttl.min(at_most)),
            (ttl, at_most) => at_most.or(ttl),
        }
    }
}

/// A counter that invalidations move, and the reading of it taken before a value was
/// fetched: a value fetched under an epoch that has moved since may be stale, and is
/// not stored. (An invalidation that arrives before the value it invalidates would
/// otherwise be lost: nothing was stored yet for it to remove.)
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))] // made by the Redis level only
pub(crate) struct Epoch {
    pub(crate) counter: &'static AtomicU64,
    pub(crate) seen: u64,
}

impl Epoch {
    /// Whether an invalidation came since `seen` was read. `SeqCst`, paired with the
    /// invalidator's increment-then-remove: either this sees the increment, or the
    /// removal comes after the store (it needs the shard lock this is read under).
    pub(crate) fn moved(&self) -> bool {
        self.counter.load(std::sync::atomic::Ordering::SeqCst) != self.seen
    }
}

/// A computation under way for one key, kept in its shard until it settles.
pub(crate) struct Flight<K, V> {
    hash: u64,
    /// The key is parked here while `init` runs, then moves into the table.
    pub(crate) key: K,
    /// Tells the leader's flight from others in the shard.
    id: u64,
    /// Created by the first waiter: most misses have none, and then cost no
    /// allocation and no wake-up.
    pub(crate) signal: Option<Arc<Signal<V>>>,
    /// Who runs `init`, so that a re-entrant call for the same key is detected.
    leader: Leader,
}

/// What a caller that missed does next.
pub(crate) enum Step<K, V> {
    /// Someone stored the value meanwhile.
    Stored(V),
    /// This key is being computed further up the caller's own stack.
    Reentered,
    /// Another caller is computing it: wait, and keep the key to retry with.
    Wait(K, Arc<Signal<V>>),
    /// This caller computes it, as flight `id`.
    Lead(u64),
}

/// The computations under way in one shard, kept under the shard's write lock.
pub(crate) struct Flights<K, V> {
    list: Vec<Flight<K, V>>,
    /// The id of the next flight registered here.
    next_id: u64,
}

impl<K: Eq, V: Clone> Flights<K, V> {
    /// After the table showed no live value for `key`: wait for the flight under way
    /// for it, compute directly if that flight is led further up this stack, or
    /// register a flight that `me` leads (which takes the key). By key, never by
    /// hash alone.
    pub(crate) fn join_or_register(&mut self, hash: u64, key: K, me: Leader) -> Step<K, V> {
        let under_way = self
            .list
            .iter_mut()
            .find(|flight| flight.hash == hash && flight.key == key);
        if let Some(flight) = under_way {
            if flight.leader.is_up_the_stack() {
                return Step::Reentered;
            }
            let signal = flight.signal.get_or_insert_with(|| Arc::new(Signal::new()));
            return Step::Wait(key, Arc::clone(signal));
        }
        let id = self.next_id;
        self.next_id = id.wrapping_add(1);
        self.list.push(Flight {
            hash,
            key,
            id,
            signal: None,
            leader: me,
        });
        Step::Lead(id)
    }

    /// Takes flight `id` out, to land it; `None` if it is not here.
    pub(crate) fn take(&mut self, id: u64) -> Option<Flight<K, V>> {
        let position = self.list.iter().position(|flight| flight.id == id)?;
        Some(self.list.swap_remove(position))
    }
}

impl<K, V> Flights<K, V> {
    pub(crate) fn new() -> Self {
        Flights {
            list: Vec::new(),
            next_id: 0,
        }
    }

    /// Whether no computation is under way here.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Gives back the list's memory once no flight is under way and it has grown past
    /// `min_capacity` (a burst of concurrent misses).
    pub(crate) fn shrink_if_idle(&mut self, min_capacity: usize) {
        if self.list.is_empty() && self.list.capacity() > min_capacity {
            self.list = Vec::new();
        }
    }
}

/// Who leads a flight: a number that is never 0. Odd for a thread
/// ([`thread_identity::current_thread`]), even for an async task ([`Leader::new_task`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Leader(u64);

impl Leader {
    /// The calling thread, for a sync `init`.
    pub(crate) fn this_thread() -> Self {
        Leader(thread_identity::current_thread())
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
        self.0 == thread_identity::current_thread()
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
