//! Deadlines: the one `u64` each entry stores, and their arithmetic.
//!
//! Every entry stores its deadline in nanoseconds on its map's clock ([`Nanos`]).
//! Entries that never expire get the deadline [`NEVER`], which no clock reaches
//! (2^62 ns is 146 years of uptime; a `MockClock` stops short of it). Every deadline
//! fits in [`DEADLINE_BITS`], which leaves an entry two bits of the same word
//! (`shard::Entry` counts reads there).
//!
//! This module must never read a clock: it only computes with times it is given.

use std::time::Duration;

/// Nanoseconds since the process-wide epoch (or since a `MockClock` was created).
pub(crate) type Nanos = u64;

/// Converts a duration to nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn duration_to_nanos(duration: Duration) -> Nanos {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The deadline of entries that never expire; deadlines at or above it never come due.
pub(crate) const NEVER: Nanos = (1 << 62) - 1;

/// The bits a deadline can occupy: every deadline is at most [`NEVER`].
pub(crate) const DEADLINE_BITS: u64 = (1 << 62) - 1;

const _: () = assert!(NEVER & !DEADLINE_BITS == 0);

/// The deadline of an entry written at `now` with `ttl` (`None`: never expires).
pub(crate) fn deadline_after(now: Nanos, ttl: Option<Duration>) -> Nanos {
    match ttl {
        Some(ttl) => {
            let deadline = now.saturating_add(duration_to_nanos(ttl));
            deadline.min(NEVER)
        }
        None => NEVER,
    }
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
    fn entries_without_ttl_never_come_due() {
        let never = deadline_after(5, None);
        assert!(!expires(never));
        assert!(is_live(never, NEVER - 1));
        assert_eq!(never & !DEADLINE_BITS, 0);
    }

    #[test]
    fn a_huge_ttl_means_never() {
        let deadline = deadline_after(10, Some(Duration::MAX));
        assert!(!expires(deadline));
        assert_eq!(deadline & !DEADLINE_BITS, 0, "fits beside an entry's reads");
    }
}
