//! What a child process made by `fork()` needs from the crate. It inherits the
//! parent's memory but none of its threads: no ticker, no sweeper, and any lock one of
//! those threads held at the instant of the fork stays held forever.
//!
//! - A `pthread_atfork` child handler marks the child (the fork [`generation`]):
//!   lookups there stop trusting the coarse clock, which nobody moves, and the sweeper
//!   starts again in the child on its next insert (see `sweeper::schedule`).
//! - The crate's own threads hold the **fork gate** ([`hold_off_forks`]) whenever they
//!   hold a lock a child would need: the sweeper around each batch under a shard lock,
//!   and anyone who touches the sweeper's registry. The `pthread_atfork` prepare handler
//!   takes the gate before the fork and the parent and child handlers give it back, so
//!   a fork waits for the batch in progress (a few entries) instead of leaving the
//!   child a shard that stays locked. Locks held by the user's own threads at the
//!   fork are the user's, as with any `Mutex`.
//!
//! This module must never do more in the child handler than atomic stores and giving
//! back the gate (an unlock: atomic operations and at most a futex wake): a fork
//! handler runs in a child where only async-signal-safe calls are allowed. It must
//! never be taken while a shard lock is held by the same thread (it comes first).

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// How many times this process is a fork's child of a process that used a map:
/// 0 in the original process.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current fork generation (see [`GENERATION`]).
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// The fork gate: held by the crate's threads while they hold locks a forked child
/// would need, and by a thread that forks, from the prepare handler to the parent or
/// child handler.
static GATE: Mutex<()> = Mutex::new(());

thread_local! {
    /// How many [`NoFork`] guards this thread holds: the gate is re-entrant per thread,
    /// because user code run under it (a key's `Eq` during a sweep batch) may use
    /// another map, whose insert may register it with the sweeper.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The gate's guard while this thread holds any [`NoFork`].
    static HELD: RefCell<Option<MutexGuard<'static, ()>>> = const { RefCell::new(None) };
    /// The guard the prepare handler took, until the parent or child handler.
    static FORKING: RefCell<Option<NoFork>> = const { RefCell::new(None) };
}

/// Proof that this thread holds the fork gate: no `fork()` happens until it is dropped.
/// (Except on a thread whose thread-locals are already gone, see [`hold_off_forks`].)
pub(crate) struct NoFork {
    /// Whether this guard counted in `DEPTH` (see [`hold_off_forks`]).
    counted: bool,
    /// Not `Send`: the gate is held per thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Holds off `fork()` until the guard is dropped. Cheap when the gate is free (one
/// uncontended lock), and re-entrant on one thread. On a thread being torn down,
/// whose thread-local for the gate's guard is already destroyed (a map used from
/// another thread-local's destructor), it holds nothing rather than panic.
pub(crate) fn hold_off_forks() -> NoFork {
    let depth = DEPTH.with(Cell::get);
    if depth == 0 {
        let stored = HELD.try_with(|held| {
            *held.borrow_mut() = Some(GATE.lock().unwrap_or_else(PoisonError::into_inner));
        });
        if stored.is_err() {
            return NoFork {
                counted: false,
                _not_send: std::marker::PhantomData,
            };
        }
    }
    DEPTH.with(|d| d.set(depth + 1));
    NoFork {
        counted: true,
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for NoFork {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let depth = DEPTH.with(Cell::get) - 1;
        DEPTH.with(|d| d.set(depth));
        if depth == 0 {
            // Taken out before it is dropped, so no `RefCell` borrow is held while the
            // mutex is unlocked.
            let guard = HELD
                .try_with(|held| held.borrow_mut().take())
                .ok()
                .flatten();
            drop(guard);
        }
    }
}

#[cfg(all(unix, not(miri)))]
extern "C" fn before_fork() {
    // `try_with` throughout the handlers: a panic must never unwind out of them.
    let gate = hold_off_forks();
    let _ = FORKING.try_with(|forking| *forking.borrow_mut() = Some(gate));
}

#[cfg(all(unix, not(miri)))]
extern "C" fn in_the_parent() {
    let gate = FORKING.try_with(|forking| forking.borrow_mut().take());
    drop(gate);
}

#[cfg(all(unix, not(miri)))]
extern "C" fn in_the_child() {
    // Atomic stores, then the gate's unlock: async-signal-safe, as a fork handler
    // must be (the thread-locals were initialised by the prepare handler, so nothing
    // here allocates).
    GENERATION.fetch_add(1, Ordering::SeqCst);
    crate::time::coarse::distrust();
    let gate = FORKING.try_with(|forking| forking.borrow_mut().take());
    drop(gate);
}

/// Registers the handlers, once per process: before the sweeper (and so the ticker)
/// first starts.
pub(crate) fn register() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    #[cfg(all(unix, not(miri)))]
    REGISTERED.call_once(|| {
        extern "C" {
            fn pthread_atfork(
                prepare: Option<extern "C" fn()>,
                parent: Option<extern "C" fn()>,
                child: Option<extern "C" fn()>,
            ) -> std::ffi::c_int;
        }
        // SAFETY: `pthread_atfork` is POSIX, with this C signature; the handlers are
        // plain `extern "C" fn`s that live for the whole program, never unwind (they
        // lock and unlock a mutex whose poisoning they ignore, and touch thread-locals
        // that are `const`-initialised), and the child's does only what a child may.
        // If registration fails (ENOMEM) a forked child simply keeps the old
        // behaviour; nothing unsafe follows.
        #[allow(unsafe_code)]
        unsafe {
            pthread_atfork(Some(before_fork), Some(in_the_parent), Some(in_the_child));
        }
    });
    #[cfg(not(all(unix, not(miri))))]
    REGISTERED.call_once(|| {});
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_is_reentrant_on_one_thread_and_exclusive_across_threads() {
        let outer = hold_off_forks();
        let inner = hold_off_forks();
        drop(inner);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| GATE.try_lock().is_ok());
            assert!(!other.join().unwrap(), "held by this thread");
        });
        drop(outer);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| GATE.try_lock().is_ok());
            assert!(other.join().unwrap(), "given back");
        });
    }
}
