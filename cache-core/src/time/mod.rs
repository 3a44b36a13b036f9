//! Time as the maps see it: deadlines, the process-wide coarse clock and its ticker,
//! the cycle counter, and [`MockClock`]. Nothing outside this folder knows how a
//! clock is read: maps ask a [`Clock`].
//!
//! Reading [`std::time::Instant::now`] costs about 25 ns here, twice a whole `HashMap`
//! hit, so a lookup does not read it when it can prove the entry live without it. The
//! proof comes from a coarse clock: one atomic nanosecond count that never runs ahead
//! of real time, pushed forward by writes (which read the precise clock anyway, to
//! compute a deadline) once it lags by a millisecond, and by the ticker thread every
//! 100 ms while any map holds expiring entries.
//!
//! A lookup trusts that the coarse clock lags real time by less than [`TRUST_WINDOW`](coarse::TRUST_WINDOW).
//! So an entry whose deadline is more than that window past the coarse time is live,
//! for one atomic load; an entry closer to its deadline is checked against the precise
//! clock.
//!
//! The coarse clock is kept by a thread of its own, the **ticker**, which does nothing
//! else: it never runs user code, never takes a map's lock, never frees memory, so no
//! slow `Drop`, `Clone` or `Hash` anywhere can stop it (the sweeper, which does all of
//! that, only asks it to tick while some map holds expiring entries). Lookups trust the
//! coarse clock only while the ticker is ticking, and stop trusting it as soon as
//! anyone who reads the precise clock sees it lag by more than half the window, or in
//! a child process after `fork()` (which has no ticker). Expiry is therefore exact as
//! long as the OS does not starve the ticker for longer than the window minus the tick
//! interval (150 ms).
//!
//! Deadlines are computed from the precise clock, or for computed values (the miss path
//! of `get_or_insert_with` and `#[ttl_cached]`) from the CPU's cycle counter anchored to
//! it, which is never behind it (see `cycle_counter.rs`): an entry never expires early.
//! A map built with a [`MockClock`] reads only that clock, exactly, on every path.
//!
//! This folder must never let a deadline read early: the coarse clock never runs ahead
//! of real time, the cycle counter never reads behind the precise clock.

pub(crate) mod coarse;
mod cycle_counter;
pub(crate) mod deadline;
pub(crate) mod jitter;
mod mock;

pub(crate) use deadline::Nanos;
pub use mock::MockClock;

/// Asks the ticker to keep the coarse clock (`true`) or lets it rest (`false`): the
/// sweeper's call (after registering the fork handlers, `crate::fork`).
pub(crate) fn keep_ticking(wanted: bool) {
    coarse::keep_ticking(wanted);
}

/// The time source of one map.
#[derive(Clone, Debug, Default)]
pub(crate) enum Clock {
    /// The process clock: coarse on lookups, precise on writes.
    #[default]
    System,
    /// A test clock, exact everywhere.
    Mock(MockClock),
}

impl Clock {
    /// Whether an entry with this deadline is live now: exact, and for entries far
    /// from their deadline on the process clock, a single atomic load.
    #[inline]
    pub(crate) fn is_live(&self, deadline: Nanos) -> bool {
        match self {
            Clock::System => coarse::system_is_live(deadline),
            Clock::Mock(clock) => deadline > clock.now(),
        }
    }

    /// The current time, for deadlines and removals: always precise.
    pub(crate) fn precise_now(&self) -> Nanos {
        match self {
            Clock::System => coarse::precise_now(),
            Clock::Mock(clock) => clock.now(),
        }
    }

    /// The current time, for the deadline of a value just computed: on the process
    /// clock, the cycle counter's reading when it has one (never behind the precise
    /// clock, at most about [`SLACK`](cycle_counter::SLACK) ahead: the value lives that
    /// much longer), else the precise clock.
    #[inline]
    pub(crate) fn deadline_now(&self) -> Nanos {
        match self {
            Clock::System => cycle_counter::deadline_now().unwrap_or_else(coarse::precise_now),
            Clock::Mock(clock) => clock.now(),
        }
    }

    /// Whether the background sweeper should look after maps on this clock: not for a
    /// [`MockClock`], so that tests see every removal happen where they cause it.
    pub(crate) fn wants_sweeper(&self) -> bool {
        matches!(self, Clock::System)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_deadline_in_the_past_is_never_live_whatever_the_coarse_clock_says() {
        let past = coarse::precise_now();
        assert!(!Clock::System.is_live(past));
        let far = coarse::precise_now() + 10 * deadline::duration_to_nanos(coarse::TRUST_WINDOW);
        assert!(Clock::System.is_live(far));
    }

    #[test]
    fn mock_clock_clones_share_one_time() {
        let clock = MockClock::new();
        let other = clock.clone();
        other.advance(Duration::from_nanos(7));
        assert_eq!(Clock::Mock(clock).precise_now(), 7);
    }
}
