//! [`MockClock`]: a clock that tests advance by hand.
//!
//! This module must never let a mock clock reach the deadlines that mean "never"
//! (see `deadline.rs`).

use super::deadline::{duration_to_nanos, Nanos, NEVER};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The furthest a [`MockClock`] goes (see [`MockClock::MAX_ELAPSED`]): below the
/// deadlines of entries that never expire (`deadline::NEVER`, which asserts it).
pub(crate) const MOCK_CLOCK_MAX: Nanos = NEVER - 1;

// A mock clock never reaches "never": entries that never expire stay live on it, and
// entries with a TTL keep expiring.
const _: () = assert!(MOCK_CLOCK_MAX < NEVER);

/// A manually advanced clock for tests: a map built with
/// [`TtlMapBuilder::clock`](crate::TtlMapBuilder::clock) reads time only from it.
///
/// Clones share one time, so a test keeps a clone and advances it while the map
/// holds the other. It starts at zero and only moves when [`advance`](Self::advance)
/// is called, so expiry tests need no sleeping. The background sweeper leaves maps on
/// a mock clock alone: expired entries leave them only through lookups,
/// [`len`](crate::TtlMap::len), [`sweep`](crate::TtlMap::sweep) and writes, so a test
/// sees every removal happen where it causes it.
///
/// # Examples
///
/// ```
/// use cache_core::{MockClock, TtlMap};
/// use std::time::Duration;
///
/// let clock = MockClock::new();
/// let map = TtlMap::builder()
///     .ttl(Duration::from_secs(10))
///     .clock(clock.clone())
///     .build();
/// map.insert("session", 42);
///
/// clock.advance(Duration::from_secs(9));
/// assert_eq!(map.get("session"), Some(42));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(map.get("session"), None);
/// ```
#[derive(Clone, Default)]
pub struct MockClock {
    now: Arc<AtomicU64>,
}

impl MockClock {
    /// The furthest a mock clock can be advanced: 2^62 − 2 ns, about 146 years. Past
    /// it, deadlines would meet the ones that mean "never expires".
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::MockClock;
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// clock.advance(Duration::MAX);
    /// assert_eq!(clock.elapsed(), MockClock::MAX_ELAPSED);
    /// ```
    pub const MAX_ELAPSED: Duration = Duration::from_nanos(MOCK_CLOCK_MAX);

    /// A clock at time zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::MockClock;
    /// use std::time::Duration;
    ///
    /// assert_eq!(MockClock::new().elapsed(), Duration::ZERO);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves this clock, and every clone of it, forward by `by`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::MockClock;
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// let same_time = clock.clone();
    /// clock.advance(Duration::from_millis(1500));
    /// assert_eq!(same_time.elapsed(), Duration::from_millis(1500));
    /// ```
    ///
    /// The clock stops at [`MockClock::MAX_ELAPSED`] (about 146 years): advancing
    /// further leaves it there, so deadlines on it keep their meaning (an entry that
    /// never expires stays live, one with a TTL still expires).
    pub fn advance(&self, by: Duration) {
        let by = duration_to_nanos(by);
        let _ = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by).min(MOCK_CLOCK_MAX))
            });
    }

    /// How far this clock has been advanced since it was created.
    ///
    /// # Examples
    ///
    /// ```
    /// use cache_core::MockClock;
    /// use std::time::Duration;
    ///
    /// let clock = MockClock::new();
    /// clock.advance(Duration::from_secs(2));
    /// clock.advance(Duration::from_secs(3));
    /// assert_eq!(clock.elapsed(), Duration::from_secs(5));
    /// ```
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now())
    }

    pub(crate) fn now(&self) -> Nanos {
        self.now.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for MockClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_clock_saturates_instead_of_wrapping() {
        let clock = MockClock::new();
        clock.advance(Duration::MAX);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), MOCK_CLOCK_MAX);
    }
}
