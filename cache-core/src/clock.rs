//! Time as the maps see it: the process-wide coarse clock and [`MockClock`].
//!
//! Reading [`std::time::Instant::now`] costs about 25 ns here, twice a whole `HashMap`
//! hit, so a lookup does not read it when it can prove the entry live without it. The
//! proof comes from a coarse clock: one atomic nanosecond count that never runs ahead
//! of real time, pushed forward by writes (which read the precise clock anyway, to
//! compute a deadline) once it lags by a millisecond, and by the sweeper thread at least every
//! [`SWEEP_INTERVAL`](crate::sweeper::SWEEP_INTERVAL), and between sweep batches.
//!
//! A lookup trusts that the coarse clock lags real time by less than [`TRUST_WINDOW`].
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
//! This module must never let the coarse clock run ahead of real time.

use crate::cycle_counter;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Nanoseconds since the process-wide epoch (or since a [`MockClock`] was created).
pub(crate) type Nanos = u64;

/// How far the coarse clock may lag real time before lookups could be wrong: the
/// sweeper advances it at least every 100 ms, so this leaves 150 ms for the OS to be
/// late in scheduling it. Entries within this window of their deadline cost a precise
/// clock read per lookup (25 ns); all others, one atomic load.
pub(crate) const TRUST_WINDOW: Duration = Duration::from_millis(250);

const TRUST_WINDOW_NANOS: Nanos = TRUST_WINDOW.as_nanos() as Nanos;

static COARSE_NOW: AtomicU64 = AtomicU64::new(0);

/// True while the ticker is advancing the coarse clock: lookups trust it only then.
static COARSE_TICKING: AtomicBool = AtomicBool::new(false);

/// How often the ticker advances the coarse clock while it ticks.
const TICK_INTERVAL: Duration = Duration::from_millis(100);

/// A coarse clock lagging more than this behind a precise reading is not trusted until
/// the ticker moves it again: the ticker is late (starved by the OS, or gone).
const LAG_DISTRUSTED: Nanos = TRUST_WINDOW_NANOS / 2;

/// The name the ticker shows in debuggers and `top -H`.
pub(crate) const TICKER_THREAD_NAME: &str = "cache-core-clock";

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The precise clock, in nanoseconds since the process-wide epoch.
fn since_epoch() -> Nanos {
    duration_to_nanos(epoch().elapsed())
}

/// How far the coarse clock may lag before a precise reading pushes it forward. Not
/// zero: time always moves between two writes, so every write would then pay an atomic
/// read-modify-write on one shared line (~6 ns here, a few percent of a miss), while a
/// millisecond of lag changes nothing against the [`TRUST_WINDOW`] lookups allow for.
const PUSH_AFTER_LAG: Nanos = 1_000_000;

/// Reads the precise clock, and pushes the coarse clock forward to it if it lags by
/// more than [`PUSH_AFTER_LAG`]; stops lookups trusting it if it lagged by more than
/// [`LAG_DISTRUSTED`] (the ticker is late: its next tick trusts it again).
pub(crate) fn precise_now() -> Nanos {
    let now = since_epoch();
    // A load first: most calls find the coarse clock recent enough, and skipping the
    // write keeps concurrent inserters off one shared cache line.
    let coarse = COARSE_NOW.load(Ordering::Relaxed);
    if coarse.saturating_add(PUSH_AFTER_LAG) < now {
        if coarse.saturating_add(LAG_DISTRUSTED) < now && COARSE_TICKING.load(Ordering::Relaxed) {
            COARSE_TICKING.store(false, Ordering::SeqCst);
        }
        COARSE_NOW.fetch_max(now, Ordering::Relaxed);
    }
    now
}

/// Whether an entry with this (expiring) deadline is live now, on the process clock.
#[inline]
fn system_is_live(deadline: Nanos) -> bool {
    if COARSE_TICKING.load(Ordering::Relaxed)
        && deadline
            > COARSE_NOW
                .load(Ordering::Relaxed)
                .saturating_add(TRUST_WINDOW_NANOS)
    {
        return true;
    }
    deadline > precise_now()
}

/// The ticker's one job: moves the coarse clock to the precise one (and anchors the
/// cycle counter's line there).
fn tick() {
    COARSE_NOW.fetch_max(cycle_counter::anchor(since_epoch), Ordering::Relaxed);
}

/// The ticker thread, and whether it is wanted.
struct Ticker {
    /// `None` if the OS refused a thread: lookups then always read the precise clock.
    thread: Option<Thread>,
    wanted: AtomicBool,
}

fn ticker() -> &'static Ticker {
    static TICKER: OnceLock<Ticker> = OnceLock::new();
    TICKER.get_or_init(|| {
        after_fork::register();
        let spawned = thread::Builder::new()
            .name(TICKER_THREAD_NAME.into())
            .spawn(|| run_ticker(ticker()));
        Ticker {
            thread: spawned.ok().map(|handle| handle.thread().clone()),
            wanted: AtomicBool::new(false),
        }
    })
}

fn run_ticker(ticker: &'static Ticker) {
    loop {
        if ticker.wanted.load(Ordering::SeqCst) && !after_fork::in_child() {
            tick();
            // After the tick: whoever reads `true` reads a fresh coarse clock.
            COARSE_TICKING.store(true, Ordering::SeqCst);
            thread::sleep(TICK_INTERVAL);
        } else {
            COARSE_TICKING.store(false, Ordering::SeqCst);
            thread::park();
        }
    }
}

/// Asks the ticker to keep the coarse clock (`true`), or lets it rest (`false`): the
/// sweeper's call, made while some map holds expiring entries. Lookups stop trusting
/// the coarse clock at once when the ticker rests.
pub(crate) fn keep_ticking(wanted: bool) {
    let ticker = ticker();
    if wanted {
        if ticker.wanted.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(thread) = &ticker.thread {
            thread.unpark();
        }
    } else {
        ticker.wanted.store(false, Ordering::SeqCst);
        COARSE_TICKING.store(false, Ordering::SeqCst);
    }
}

/// A child process made by `fork()` inherits the parent's memory but none of its
/// threads: no ticker, no sweeper. Without care it would trust a coarse clock that
/// nobody moves, and serve entries past their deadline. A `pthread_atfork` handler
/// marks the child: lookups there stop trusting the coarse clock, and the sweeper
/// starts again in the child on its next insert (see `sweeper::schedule`).
pub(crate) mod after_fork {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// How many times this process is a fork's child of a process that used a map:
    /// 0 in the original process.
    static GENERATION: AtomicU64 = AtomicU64::new(0);

    /// The current fork generation (see [`GENERATION`]).
    pub(crate) fn generation() -> u64 {
        GENERATION.load(Ordering::Relaxed)
    }

    /// Whether this is a forked child (its ticker, if any, was the parent's).
    pub(crate) fn in_child() -> bool {
        generation() != 0
    }

    #[cfg(all(unix, not(miri)))]
    extern "C" fn in_the_child() {
        // Only atomic stores: async-signal-safe, as a fork handler must be.
        GENERATION.fetch_add(1, Ordering::SeqCst);
        super::COARSE_TICKING.store(false, Ordering::SeqCst);
    }

    /// Registers the handler, once per process (from the ticker's start).
    pub(crate) fn register() {
        #[cfg(all(unix, not(miri)))]
        {
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
        }
    }
}

/// The furthest a [`MockClock`] goes (see [`MockClock::MAX_ELAPSED`]): below the
/// deadlines of entries that never expire (`deadline::NEVER`, which asserts it).
pub(crate) const MOCK_CLOCK_MAX: Nanos = (1 << 62) - 1;

/// Converts a duration to nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn duration_to_nanos(duration: Duration) -> Nanos {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

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
    /// The furthest a mock clock can be advanced: 2^62 − 1 ns, about 146 years. Past
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

    fn now(&self) -> Nanos {
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
            Clock::System => system_is_live(deadline),
            Clock::Mock(clock) => deadline > clock.now(),
        }
    }

    /// The current time, for deadlines and removals: always precise.
    pub(crate) fn precise_now(&self) -> Nanos {
        match self {
            Clock::System => precise_now(),
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
            Clock::System => cycle_counter::deadline_now().unwrap_or_else(precise_now),
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

    #[test]
    fn coarse_clock_never_runs_ahead_of_the_precise_clock() {
        let precise = precise_now();
        assert!(COARSE_NOW.load(Ordering::Relaxed) <= precise_now());
        assert!(precise <= precise_now());
    }

    #[test]
    fn a_deadline_in_the_past_is_never_live_whatever_the_coarse_clock_says() {
        let past = precise_now();
        assert!(!Clock::System.is_live(past));
        assert!(Clock::System.is_live(precise_now() + 10 * TRUST_WINDOW_NANOS));
    }

    #[test]
    fn mock_clock_clones_share_one_time() {
        let clock = MockClock::new();
        let other = clock.clone();
        other.advance(Duration::from_nanos(7));
        assert_eq!(Clock::Mock(clock).precise_now(), 7);
    }

    #[test]
    fn mock_clock_saturates_instead_of_wrapping() {
        let clock = MockClock::new();
        clock.advance(Duration::MAX);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), MOCK_CLOCK_MAX);
    }
}
