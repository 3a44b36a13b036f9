//! How lookups waited for writers, counted process-wide with the `lock-stats` feature
//! (see [`crate::diagnostics::lock_stats`]); without it, nothing is counted and this
//! compiles away.
//! Only waits are counted, never the fast path.
//!
//! This module must never count on the lookup fast path.

#[cfg(feature = "lock-stats")]
pub(crate) use counted::*;
#[cfg(not(feature = "lock-stats"))]
pub(crate) use uncounted::*;

#[cfg(not(feature = "lock-stats"))]
mod uncounted {
    #[inline]
    pub(crate) fn lookup_waited(_writers_met: u32) {}
    #[inline]
    pub(crate) fn slept() {}
}

#[cfg(feature = "lock-stats")]
mod counted {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    /// The counters at one moment (`diagnostics::LockStats` is built from them).
    pub(crate) struct Snapshot {
        pub(crate) lookups_that_waited: u64,
        pub(crate) lookups_that_met_several_writers: u64,
        pub(crate) sleeps: u64,
    }

    static LOOKUPS_THAT_WAITED: AtomicU64 = AtomicU64::new(0);
    static LOOKUPS_THAT_MET_SEVERAL_WRITERS: AtomicU64 = AtomicU64::new(0);
    static SLEEPS: AtomicU64 = AtomicU64::new(0);

    pub(crate) fn lookup_waited(writers_met: u32) {
        LOOKUPS_THAT_WAITED.fetch_add(1, Relaxed);
        if writers_met > 1 {
            LOOKUPS_THAT_MET_SEVERAL_WRITERS.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn slept() {
        SLEEPS.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot() -> Snapshot {
        Snapshot {
            lookups_that_waited: LOOKUPS_THAT_WAITED.load(Relaxed),
            lookups_that_met_several_writers: LOOKUPS_THAT_MET_SEVERAL_WRITERS.load(Relaxed),
            sleeps: SLEEPS.load(Relaxed),
        }
    }
}
