//! A reply slot: where the connection thread leaves the answer to one request, and
//! where its caller waits for it, blocking with a deadline (sync callers) or awaiting
//! (async callers, whose task's waker is parked here).
//!
//! A slot is filled once; later fills are ignored. Its lock is held only to read or
//! write the answer, never while a waker runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Why a request got no answer from Redis.
#[derive(Clone, Debug)]
pub(super) enum Failure {
    /// Not sent: no connection now (circuit open, or never connected).
    Unavailable,
    /// Sent (or queued), but no answer came before the deadline, or the connection
    /// failed before it did.
    Failed,
}

/// An answer to one request.
pub(super) type Answer = Result<redis::Value, Failure>;

/// The answer to one request, once it comes.
#[derive(Default)]
pub(super) struct Slot {
    state: Mutex<SlotState>,
    filled: Condvar,
}

#[derive(Default)]
struct SlotState {
    answer: Option<Answer>,
    /// The waker of the task awaiting this slot, if one is.
    waker: Option<Waker>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Nothing that can panic runs under this lock: a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leaves the answer, unless one is already here, and wakes whoever waits.
    pub(super) fn fill(&self, answer: Answer) {
        let waker = {
            let mut state = self.lock();
            if state.answer.is_some() {
                return;
            }
            state.answer = Some(answer);
            state.waker.take()
        };
        self.filled.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Blocks until the answer comes or `deadline` passes (then `Failed`).
    pub(super) fn wait_until(&self, deadline: Instant) -> Answer {
        let mut state = self.lock();
        loop {
            if let Some(answer) = state.answer.take() {
                return answer;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Failure::Failed);
            }
            state = self
                .filled
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The answer, awaited. The connection thread answers every request it was given
    /// by the request's deadline (see `link.rs`), so this needs no timer of its own.
    pub(super) fn answer(self: Arc<Self>) -> impl Future<Output = Answer> + Send {
        Awaited { slot: self }
    }
}

struct Awaited {
    slot: Arc<Slot>,
}

impl Future for Awaited {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let mut state = self.slot.lock();
        match state.answer.take() {
            Some(answer) => Poll::Ready(answer),
            None => {
                match &mut state.waker {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => state.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_wait_past_its_deadline_fails() {
        let slot = Slot::default();
        let started = Instant::now();
        let answer = slot.wait_until(started + Duration::from_millis(20));
        assert!(matches!(answer, Err(Failure::Failed)));
        assert!(started.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn the_first_fill_wins() {
        let slot = Slot::default();
        slot.fill(Ok(redis::Value::Int(1)));
        slot.fill(Ok(redis::Value::Int(2)));
        let answer = slot.wait_until(Instant::now());
        assert!(matches!(answer, Ok(redis::Value::Int(1))));
    }
}
