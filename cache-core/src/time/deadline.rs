//! Deadlines: the one `u64` each entry stores, and their arithmetic.
//!
//! Every entry stores its deadline in nanoseconds on its map's clock ([`Nanos`]).
//! Entries that never expire get a deadline in the far future, `NEVER + time of
//! insertion`, which keeps them ordered oldest-first for capacity eviction and can
//! never be reached by a clock (2^62 ns is 146 years of uptime; a `MockClock` stops
//! short of it).
//!
//! This module must never read a clock: it only computes with times it is given.

use std::time::Duration;

/// Nanoseconds since the process-wide epoch (or since a `MockClock` was created).
pub(crate) type Nanos = u64;

/// Converts a duration to nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn duration_to_nanos(duration: Duration) -> Nanos {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Deadlines at or above this never come due.
pub(crate) const NEVER: Nanos = 1 << 62;

/// The deadline of an entry written at `now` with `ttl` (`None`: never expires).
pub(crate) fn deadline_after(now: Nanos, ttl: Option<Duration>) -> Nanos {
    match ttl {
        Some(ttl) => {
            let deadline = now.saturating_add(duration_to_nanos(ttl));
            if deadline >= NEVER {
                never_after(now)
            } else {
                deadline
            }
        }
        None => never_after(now),
    }
}

fn never_after(now: Nanos) -> Nanos {
    NEVER.saturating_add(now.min(NEVER - 1))
}

/// Whether an entry with this deadline is live at `now`: live while `now < deadline`.
#[inline]
pub(crate) fn is_live(deadline: Nanos, now: Nanos) -> bool {
    now < deadline
}

/// Whether a deadline can ever come due.
pub(crate) fn expires(deadline: Nanos) -> bool {
    deadline < NEVER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_live_strictly_before_its_deadline() {
        let deadline = deadline_after(100, Some(Duration::from_nanos(50)));
        assert!(is_live(deadline, 149));
        assert!(!is_live(deadline, 150));
    }

    #[test]
    fn entries_without_ttl_never_come_due_but_keep_insertion_order() {
        let older = deadline_after(5, None);
        let newer = deadline_after(6, None);
        assert!(!expires(older));
        assert!(older < newer);
        assert!(is_live(older, NEVER - 1));
    }

    #[test]
    fn a_huge_ttl_means_never() {
        assert!(!expires(deadline_after(10, Some(Duration::MAX))));
    }
}
