//! A child process made by `fork()` inherits the parent's memory but none of its
//! threads: no ticker, no sweeper. Without care it would trust a coarse clock that
//! nobody moves, and serve entries past their deadline. A `pthread_atfork` handler
//! marks the child: lookups there stop trusting the coarse clock, and the sweeper
//! starts again in the child on its next insert (see `sweeper::schedule`).
//!
//! This module must never do more in the handler than atomic stores: a fork handler
//! runs in a child where only async-signal-safe calls are allowed.

use std::sync::atomic::{AtomicU64, Ordering};

/// How many times this process is a fork's child of a process that used a map:
/// 0 in the original process.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current fork generation (see [`GENERATION`]).
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

#[cfg(all(unix, not(miri)))]
extern "C" fn in_the_child() {
    // Only atomic stores: async-signal-safe, as a fork handler must be.
    GENERATION.fetch_add(1, Ordering::SeqCst);
    super::coarse::distrust();
}

/// Registers the handler, once per process (before the ticker first ticks).
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
        // SAFETY: `pthread_atfork` is POSIX, with this C signature; the handler
        // is a plain `extern "C" fn` that lives for the whole program and only
        // stores to atomics. If registration fails (ENOMEM) a forked child simply
        // keeps the old behaviour; nothing unsafe follows.
        #[allow(unsafe_code)]
        unsafe {
            pthread_atfork(None, None, Some(in_the_child));
        }
    });
    #[cfg(not(all(unix, not(miri))))]
    REGISTERED.call_once(|| {});
}
