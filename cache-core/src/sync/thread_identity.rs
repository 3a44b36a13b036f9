//! Who the calling thread is, in the two forms the crate needs: a small number
//! reused after a thread exits, which spreads the threads running at once over the
//! shard locks' stripes ([`stripe_number`]), and a number no other thread shares,
//! which names the leader of a sync flight ([`current_thread`]).
//!
//! This module must never hand two live threads the same [`current_thread`] number on
//! purpose; stripe numbers may repeat (a shared stripe is slower, never wrong).

use super::shim;
use std::cell::Cell;
use std::sync::{Mutex, PoisonError};

// Stripe numbers: live threads get distinct small numbers, reused after a thread
// exits, so that the threads running at any moment spread over different stripes.

/// Numbers handed out so far, and those given back by exited threads.
static NUMBERS: Mutex<(usize, Vec<usize>)> = Mutex::new((0, Vec::new()));

/// What a thread without a number reads.
const UNASSIGNED: usize = usize::MAX;

shim::thread_local! {
    /// A plain `Cell` with a `const` initialiser: reading it is one load, with no
    /// lazy-initialisation check, on every lookup.
    static NUMBER: Cell<usize> = const { Cell::new(UNASSIGNED) };
    /// Gives the number back when the thread exits.
    static OWNER: Owner = const { Owner(Cell::new(UNASSIGNED)) };
}

struct Owner(Cell<usize>);

impl Drop for Owner {
    fn drop(&mut self) {
        let number = self.0.get();
        if number != UNASSIGNED {
            let _ = NUMBER.try_with(|cell| cell.set(UNASSIGNED));
            let mut numbers = NUMBERS.lock().unwrap_or_else(PoisonError::into_inner);
            numbers.1.push(number);
        }
    }
}

/// The calling thread's number. A thread whose thread-locals are being destroyed (a
/// lookup from another thread-local's `Drop`) uses 0: slower, never wrong.
#[inline]
pub(crate) fn stripe_number() -> usize {
    match NUMBER.try_with(Cell::get) {
        Ok(UNASSIGNED) => assign(),
        Ok(number) => number,
        Err(_) => 0,
    }
}

#[cold]
fn assign() -> usize {
    let number = {
        let mut numbers = NUMBERS.lock().unwrap_or_else(PoisonError::into_inner);
        let (next, free) = &mut *numbers;
        free.pop().unwrap_or_else(|| {
            *next += 1;
            *next - 1
        })
    };
    // Only a thread whose `Owner` can give the number back keeps it.
    match OWNER.try_with(|owner| owner.0.set(number)) {
        Ok(()) => {
            let _ = NUMBER.try_with(|cell| cell.set(number));
        }
        Err(_) => NUMBERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .push(number),
    }
    number
}

/// The calling thread, as a number that is never 0 and that no other thread is
/// expected to share: a hash of its `ThreadId` (std never reuses those), kept in a
/// thread-local because `thread::current()` clones an `Arc` (two atomic operations)
/// and every miss asks. A number, not the `ThreadId`, so that it fits in an atomic.
///
/// Two threads share one only if their ids collide in 64 hashed bits; a flight would
/// then take a call from the other thread for a re-entrant one (see `flight/`): it
/// would compute its own value and not store it, neither a wrong value nor a hang.
pub(crate) fn current_thread() -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    shim::thread_local! {
        static NUMBER: Cell<u64> = const { Cell::new(0) };
    }
    fn uncached() -> u64 {
        #[cfg(not(shuttle))]
        let id = std::thread::current().id();
        #[cfg(shuttle)]
        let id = shuttle::thread::current().id();
        // Fixed keys: the same thread must get the same number on every call.
        BuildHasherDefault::<DefaultHasher>::default().hash_one(id) | 1
    }
    NUMBER
        .try_with(|cached| match cached.get() {
            0 => {
                let number = uncached();
                cached.set(number);
                number
            }
            number => number,
        })
        // Thread-locals already destroyed (a miss from another thread-local's `Drop`).
        .unwrap_or_else(|_| uncached())
}
