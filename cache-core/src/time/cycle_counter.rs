//! The CPU's time-stamp counter, as a cheap clock for the deadlines of computed values.
//!
//! A memoized miss reads the time once, to set the deadline of the value it stores.
//! The precise clock (`Instant::now`, the vDSO's `clock_gettime`) costs about 25 ns
//! here, and more inside a miss: it fences the counter read (`lfence; rdtsc`), so it
//! waits for the miss's outstanding memory traffic. A bare `rdtsc` waits for nothing;
//! it took about 25 ns off a miss of ~150 ns (`compare -- miss`, BENCHMARKS.md).
//!
//! The counter is read as a line anchored to the precise clock: whoever advances the
//! coarse clock (the sweeper, between batches and at least every 100 ms while any map
//! holds expiring entries) pairs a precise reading with a counter reading taken just
//! before it, and publishes the line through that point. A deadline reading is the
//! line at the current count plus [`SLACK`].
//!
//! A deadline reading must never be behind the precise clock (an entry would expire
//! early); it may be ahead by a little (the entry lives that much longer):
//! - Pairing the precise reading with the counter read *before* it puts the line ahead.
//! - The counter's rate and the precise clock's differ by the calibration error (about
//!   10^-6 over a baseline of at least [`CALIBRATION`]) and by NTP slewing the precise
//!   clock (at most 500 ppm): within [`MAX_AGE`] of an anchor, under 110 µs, well inside
//!   [`SLACK`]. An older anchor (the sweeper is parked or starved), or a count below the
//!   anchor's, gives no reading: the caller reads the precise clock.
//! - Each anchor checks the line it replaces against the precise clock. A line found
//!   behind by more than half the slack, or far ahead, turns the counter off for the
//!   rest of the process (a counter that does not tick at a constant rate).
//! - It is used only with an invariant counter (CPUID says so) that the kernel keeps time
//!   with (on Linux: the clocksource is `tsc`), and only if reading it is cheaper than
//!   the precise clock (a hypervisor may trap `rdtsc`).
//!
//! Other architectures and Miri have no counter here: every reading is `None`.
//!
//! This module must never give a reading that is behind the precise clock.

use super::deadline::Nanos;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How far ahead of the precise clock a deadline reading is put, to absorb the errors
/// listed in the module documentation: a computed value lives about this much longer
/// than its TTL (plus the line's own lead, at most [`MAX_SPREAD_NANOS`] and the drift:
/// under 0.4 ms in all).
pub(crate) const SLACK: Duration = Duration::from_micros(250);

/// The oldest anchor a reading may extrapolate from: twice the sweeper's interval.
const MAX_AGE: Duration = Duration::from_millis(200);

/// The shortest baseline the counter's rate is measured over.
const CALIBRATION: Duration = Duration::from_millis(100);

/// The widest spread of the two counter readings around a precise reading that may
/// anchor the line: far more than a precise reading takes, far less than the slack.
const MAX_SPREAD_NANOS: Nanos = 20_000;

const SLACK_NANOS: Nanos = SLACK.as_nanos() as Nanos;
const MAX_AGE_NANOS: Nanos = MAX_AGE.as_nanos() as Nanos;
const CALIBRATION_NANOS: Nanos = CALIBRATION.as_nanos() as Nanos;

/// Nanoseconds per count, in 32.32 fixed point; 0 while uncalibrated or turned off.
static SCALE: AtomicU64 = AtomicU64::new(0);
/// The line's offset: precise time minus scaled count at the anchor (wrapping).
static OFFSET: AtomicU64 = AtomicU64::new(0);
/// The count at the anchor, for the age check. Published after [`OFFSET`], so that a
/// reader that sees it sees an offset at least as recent: its age is never understated.
static ANCHOR_COUNT: AtomicU64 = AtomicU64::new(0);

/// Where calibration stands. Locked only by anchoring (with `try_lock`: a concurrent
/// anchor just skips), never by a reading.
static CALIBRATION_STATE: Mutex<Calibration> = Mutex::new(Calibration::Pending(None));

#[derive(Clone, Copy, Debug, PartialEq)]
enum Calibration {
    /// Measuring the rate: from this first pair, once taken.
    Pending(Option<Pair>),
    /// Calibrated: publishing this line.
    Running(Line),
    /// Unusable here: never read again.
    Off,
}

impl Calibration {
    /// The state after anchoring at `pair`; `usable` is asked once, before the first
    /// pair is kept.
    fn next(self, pair: Pair, usable: impl FnOnce() -> bool) -> Calibration {
        match self {
            Calibration::Off => Calibration::Off,
            Calibration::Pending(None) if !usable() => Calibration::Off,
            Calibration::Pending(None) => Calibration::Pending(Some(pair)),
            Calibration::Pending(Some(first)) => match Line::calibrated(first, pair) {
                // A thread preempted between its readings paired a count with a later
                // time: calibrate from tight pairs only.
                Some(line) => match (line.is_tight(first), line.is_tight(pair)) {
                    (true, true) => Calibration::Running(line),
                    (true, false) => Calibration::Pending(Some(first)),
                    (false, _) => Calibration::Pending(Some(pair)),
                },
                None => Calibration::Pending(Some(first)),
            },
            Calibration::Running(line) if !line.is_tight(pair) => Calibration::Running(line),
            // Readings never use a line this far from its anchor: nothing to check.
            Calibration::Running(line) if !line.is_fresh_at(pair.count) => {
                Calibration::Running(line.through(pair))
            }
            Calibration::Running(line) if line.agrees_with(pair) => {
                Calibration::Running(line.through(pair))
            }
            Calibration::Running(_) => Calibration::Off,
        }
    }

    /// Makes this state what readings see.
    fn publish(self) {
        match self {
            Calibration::Running(line) => {
                OFFSET.store(line.offset, Ordering::Relaxed);
                ANCHOR_COUNT.store(line.anchor, Ordering::Release);
                SCALE.store(line.scale, Ordering::Release);
            }
            Calibration::Off => SCALE.store(0, Ordering::Release),
            Calibration::Pending(_) => {}
        }
    }
}

/// A counter reading, the precise reading taken right after it, and how many counts
/// passed until the counter was read again after it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Pair {
    count: u64,
    nanos: Nanos,
    spread: u64,
}

/// The counter as a clock, `nanos = count * scale / 2^32 + offset`, anchored to the
/// precise clock at count `anchor`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Line {
    scale: u64,
    offset: u64,
    anchor: u64,
}

impl Line {
    /// The line with the rate measured between `first` and `last`, through `last`.
    /// `None` if the baseline is too short or the counter did not move forward.
    fn calibrated(first: Pair, last: Pair) -> Option<Line> {
        let nanos = last.nanos.checked_sub(first.nanos)?;
        let count = last.count.checked_sub(first.count)?;
        if nanos < CALIBRATION_NANOS || count == 0 {
            return None;
        }
        let scale = u64::try_from((u128::from(nanos) << 32) / u128::from(count)).ok()?;
        let line = Line {
            scale,
            offset: 0,
            anchor: 0,
        };
        (scale > 0).then(|| line.through(last))
    }

    /// The same rate, through `pair`.
    fn through(self, pair: Pair) -> Line {
        Line {
            scale: self.scale,
            offset: pair.nanos.wrapping_sub(scaled(pair.count, self.scale)),
            anchor: pair.count,
        }
    }

    /// The time the line gives for `count`.
    fn at(self, count: u64) -> Nanos {
        scaled(count, self.scale).wrapping_add(self.offset)
    }

    /// Whether readings may use the line at `count`: within [`MAX_AGE`] after its
    /// anchor. (A count below the anchor's wraps to a huge age.)
    #[inline]
    fn is_fresh_at(self, count: u64) -> bool {
        scaled(count.wrapping_sub(self.anchor), self.scale) <= MAX_AGE_NANOS
    }

    /// Whether `pair`'s counter readings were close enough to pin its precise reading.
    fn is_tight(self, pair: Pair) -> bool {
        scaled(pair.spread, self.scale) <= MAX_SPREAD_NANOS
    }

    /// Whether the line still agrees with the precise clock at `pair`: not behind it
    /// by more than half the slack, and not ahead of it by more than [`MAX_AGE`] (a
    /// counter that jumped; the entries would live that much longer).
    fn agrees_with(self, pair: Pair) -> bool {
        let predicted = self.at(pair.count);
        let behind = pair.nanos.saturating_sub(predicted);
        let ahead = predicted.saturating_sub(pair.nanos);
        behind <= SLACK_NANOS / 2 && ahead <= MAX_AGE_NANOS
    }
}

/// `count * scale / 2^32`, the counter's ticks in nanoseconds.
#[inline]
fn scaled(count: u64, scale: u64) -> u64 {
    ((u128::from(count) * u128::from(scale)) >> 32) as u64
}

/// A time for computing a deadline: never behind the precise clock, at most about
/// [`SLACK`] ahead of it. `None` when the counter is not usable now (the caller reads
/// the precise clock instead).
#[inline]
pub(crate) fn deadline_now() -> Option<Nanos> {
    let scale = SCALE.load(Ordering::Acquire);
    if scale == 0 {
        return None;
    }
    let anchor = ANCHOR_COUNT.load(Ordering::Acquire);
    let offset = OFFSET.load(Ordering::Relaxed);
    let line = Line {
        scale,
        offset,
        anchor,
    };
    let count = read()?;
    line.is_fresh_at(count)
        .then(|| line.at(count).saturating_add(SLACK_NANOS))
}

/// Pairs a counter reading with the precise reading `precise()` takes right after it,
/// and moves the published line through them (calibrating first, then checking the
/// line it replaces). Returns the precise reading.
pub(crate) fn anchor(precise: impl Fn() -> Nanos) -> Nanos {
    let Some(pair) = tightest_pair(&precise) else {
        return precise();
    };
    // Another thread anchoring at this moment makes a line as good as ours.
    if let Ok(mut calibration) = CALIBRATION_STATE.try_lock() {
        let next = calibration.next(pair, usable);
        next.publish();
        *calibration = next;
    }
    pair.nanos
}

/// Of three tries of (count, precise reading, count), the one whose counter readings
/// are closest: a thread preempted between them would pair a count with a later time.
fn tightest_pair(precise: &impl Fn() -> Nanos) -> Option<Pair> {
    let mut tightest: Option<Pair> = None;
    for _ in 0..3 {
        let count = read()?;
        let nanos = precise();
        let spread = read()?.wrapping_sub(count);
        if tightest.is_none_or(|best| spread < best.spread) {
            tightest = Some(Pair {
                count,
                nanos,
                spread,
            });
        }
    }
    tightest
}

/// Whether the counter here ticks at a constant rate on every core and is cheaper to
/// read than the precise clock.
fn usable() -> bool {
    invariant() && kernel_keeps_time_with_it() && cheaper_than_precise_clock()
}

/// On Linux, whether the kernel keeps time with the counter itself: it stops when it
/// finds the counter unsynchronised across cores or unstable (a VM whose host cannot
/// promise it, say), though CPUID may still call it invariant. Elsewhere, or if the
/// kernel does not say, CPUID's word stands.
fn kernel_keeps_time_with_it() -> bool {
    #[cfg(target_os = "linux")]
    {
        const CLOCKSOURCE: &str =
            "/sys/devices/system/clocksource/clocksource0/current_clocksource";
        if let Ok(source) = std::fs::read_to_string(CLOCKSOURCE) {
            return source.trim() == "tsc";
        }
    }
    true
}

/// Reads the counter many times and the precise clock as many, keeping the faster of
/// three tries each: a trapped `rdtsc` costs a microsecond or more.
fn cheaper_than_precise_clock() -> bool {
    const READS: u32 = 64;
    let fastest = |read_once: &dyn Fn()| {
        (0..3)
            .map(|_| {
                let start = std::time::Instant::now();
                for _ in 0..READS {
                    read_once();
                }
                start.elapsed()
            })
            .min()
            .unwrap_or(Duration::MAX)
    };
    let counter = fastest(&|| {
        std::hint::black_box(read());
    });
    let precise = fastest(&|| {
        std::hint::black_box(std::time::Instant::now());
    });
    counter < precise
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
// The `unsafe` blocks below are needed up to Rust 1.93 (the MSRV is 1.85), where
// `__get_cpuid_max` and `__cpuid` are `unsafe fn`; from 1.94 they are safe and the
// blocks would warn as unused.
#[allow(unsafe_code, unused_unsafe)]
fn invariant() -> bool {
    use std::arch::x86_64::{__cpuid, __get_cpuid_max};
    const POWER_MANAGEMENT_LEAF: u32 = 0x8000_0007;
    const INVARIANT_TSC: u32 = 1 << 8;
    // SAFETY: `cpuid` is available on every x86_64 CPU and only reads identification
    // registers; it has no memory effects and no preconditions.
    let (highest_extended_leaf, _) = unsafe { __get_cpuid_max(0x8000_0000) };
    if highest_extended_leaf < POWER_MANAGEMENT_LEAF {
        return false;
    }
    // SAFETY: as above; the leaf was just checked to exist.
    let power_management = unsafe { __cpuid(POWER_MANAGEMENT_LEAF) };
    power_management.edx & INVARIANT_TSC != 0
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
fn invariant() -> bool {
    false
}

/// The counter, unfenced: it may be read a few instructions early, which the slack
/// absorbs many times over.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[inline]
#[allow(unsafe_code)]
fn read() -> Option<u64> {
    // SAFETY: `rdtsc` reads a register and has no memory effects and no preconditions;
    // every x86_64 CPU has it. (The intrinsic is `unsafe` only as all `core::arch` ones
    // without a target feature are.)
    Some(unsafe { std::arch::x86_64::_rdtsc() })
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
#[inline]
fn read() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One nanosecond per count, in 32.32 fixed point.
    const NANOSECOND_PER_COUNT: u64 = 1 << 32;

    fn pair(count: u64, nanos: Nanos) -> Pair {
        Pair {
            count,
            nanos,
            spread: 100,
        }
    }

    fn line_through(count: u64, nanos: Nanos) -> Line {
        Line {
            scale: NANOSECOND_PER_COUNT,
            offset: 0,
            anchor: 0,
        }
        .through(pair(count, nanos))
    }

    #[test]
    fn calibration_measures_the_rate_over_the_baseline() {
        // 3 counts per nanosecond, over 150 ms.
        let line = Line::calibrated(pair(1_000, 10), pair(1_000 + 450_000_000, 150_000_010))
            .expect("a long enough baseline");
        assert_eq!(line.at(1_000 + 450_000_000), 150_000_010);
        assert_eq!(line.at(1_000 + 450_000_000 + 3_000), 150_001_010);
    }

    #[test]
    fn calibration_refuses_a_short_baseline_or_a_counter_that_went_back() {
        assert_eq!(Line::calibrated(pair(0, 0), pair(1_000, 50_000_000)), None);
        assert_eq!(
            Line::calibrated(pair(5_000, 0), pair(1_000, 500_000_000)),
            None
        );
        assert_eq!(Line::calibrated(pair(0, 500_000_000), pair(1_000, 0)), None);
    }

    #[test]
    fn calibration_starts_over_from_a_pair_whose_readings_were_far_apart() {
        let preempted = Pair {
            spread: 5_000_000,
            ..pair(0, 1_000_000)
        };
        let started = Calibration::Pending(Some(preempted));
        let later = pair(200_000_000, 200_000_000);
        assert_eq!(
            started.next(later, || true),
            Calibration::Pending(Some(later))
        );
        let running =
            Calibration::Pending(Some(later)).next(pair(400_000_000, 400_000_000), || true);
        assert!(matches!(running, Calibration::Running(_)), "{running:?}");
    }

    #[test]
    fn an_unusable_counter_is_never_calibrated() {
        let state = Calibration::Pending(None).next(pair(0, 0), || false);
        assert_eq!(state, Calibration::Off);
        assert_eq!(
            state.next(pair(500_000_000, 500_000_000), || true),
            Calibration::Off
        );
    }

    #[test]
    fn a_line_behind_the_precise_clock_by_more_than_half_the_slack_disagrees() {
        let line = line_through(0, 0);
        assert!(line.agrees_with(pair(1_000_000, 1_000_000)));
        assert!(line.agrees_with(pair(1_000_000, 1_000_000 + SLACK_NANOS / 2)));
        assert!(!line.agrees_with(pair(1_000_000, 1_000_000 + SLACK_NANOS / 2 + 1)));
        // Far ahead: a counter that jumped.
        assert!(line.agrees_with(pair(MAX_AGE_NANOS + 5, 5)));
        assert!(!line.agrees_with(pair(MAX_AGE_NANOS + 6, 5)));
    }

    #[test]
    fn a_fresh_line_found_behind_turns_the_counter_off() {
        let running = Calibration::Running(line_through(0, 0));
        let behind = pair(100_000_000, 100_000_000 + SLACK_NANOS);
        assert_eq!(running.next(behind, || true), Calibration::Off);
    }

    #[test]
    fn a_line_past_its_age_is_moved_not_judged() {
        // The sweeper was parked for a minute: readings stopped using the line after
        // MAX_AGE, so drifting 10 ms meanwhile is no fault of the counter.
        let running = Calibration::Running(line_through(0, 0));
        let minute = 60_000_000_000;
        let next = running.next(pair(minute, minute + 10_000_000), || true);
        assert_eq!(
            next,
            Calibration::Running(line_through(minute, minute + 10_000_000))
        );
    }

    #[test]
    fn a_pair_whose_readings_were_far_apart_leaves_the_line_alone() {
        let line = line_through(0, 0);
        let preempted = Pair {
            spread: MAX_SPREAD_NANOS + 1,
            ..pair(1_000_000, 5_000_000)
        };
        assert_eq!(
            Calibration::Running(line).next(preempted, || true),
            Calibration::Running(line)
        );
    }

    #[test]
    fn readings_use_a_line_only_within_its_age_after_its_anchor() {
        let line = line_through(1_000, 1_000);
        assert!(line.is_fresh_at(1_000));
        assert!(line.is_fresh_at(1_000 + MAX_AGE_NANOS));
        assert!(!line.is_fresh_at(1_000 + MAX_AGE_NANOS + 1));
        // Another core's counter behind the anchor's.
        assert!(!line.is_fresh_at(999));
    }

    #[test]
    fn a_line_moved_through_a_pair_gives_that_pair_and_keeps_its_rate() {
        let line = Line {
            scale: NANOSECOND_PER_COUNT / 2,
            offset: 7,
            anchor: 0,
        }
        .through(pair(4_000, 9_000));
        assert_eq!(line.at(4_000), 9_000);
        assert_eq!(line.at(6_000), 10_000);
        assert_eq!(line.anchor, 4_000);
    }

    /// On a machine with a usable counter, readings become available once the line is
    /// calibrated, and every one is ahead of the precise clock read before it.
    #[test]
    fn deadline_readings_are_never_behind_the_precise_clock() {
        let precise = crate::time::coarse::precise_now;
        anchor(precise);
        std::thread::sleep(CALIBRATION + Duration::from_millis(10));
        anchor(precise);
        if deadline_now().is_none() {
            // Another test's anchor may have started the calibration later than ours.
            std::thread::sleep(CALIBRATION + Duration::from_millis(10));
            anchor(precise);
        }
        // Miri has no counter (every reading is `None`) and interprets slowly.
        let attempts = if cfg!(miri) { 100 } else { 100_000 };
        let mut readings = 0;
        for attempt in 1..=attempts {
            let before = precise();
            if let Some(reading) = deadline_now() {
                readings += 1;
                let after = precise();
                assert!(reading >= before, "{reading} is behind {before}");
                assert!(
                    reading <= after + 4 * SLACK_NANOS,
                    "{reading} is far past {after}"
                );
            }
            if attempt % 10_000 == 0 {
                anchor(precise);
            }
        }
        if usable() {
            assert!(readings > 0, "a usable counter never gave a reading");
        }
    }
}
