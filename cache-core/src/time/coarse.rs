//! The process-wide coarse clock, the ticker thread that keeps it, and the precise
//! clock it approximates.
//!
//! This module must never let the coarse clock run ahead of real time, and its ticker
//! must never run user code or take a map's lock.

use super::cycle_counter;
use super::deadline::{duration_to_nanos, Nanos};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

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
pub(crate) fn system_is_live(deadline: Nanos) -> bool {
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
        // (A forked child has no ticker thread: nothing here runs in one.)
        if ticker.wanted.load(Ordering::SeqCst) {
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

/// Stops lookups trusting the coarse clock until the ticker's next tick (a forked
/// child has no ticker: it never trusts it again).
// Called only by the fork handler, which Miri builds leave out.
#[cfg_attr(miri, allow(dead_code))]
pub(crate) fn distrust() {
    COARSE_TICKING.store(false, Ordering::SeqCst);
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
}
