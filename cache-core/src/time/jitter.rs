//! Jitter: shortening each entry's TTL by a random share, so that entries stored
//! together (a cache warmed at start-up, a burst of misses) do not all expire together
//! and send their recomputations to the source at the same moment.
//!
//! This module owns the draw and its random numbers (a per-thread splitmix64: no
//! shared state, no lock, no dependency). It must never lengthen a TTL: an entry never
//! lives past the TTL its map was given, with or without jitter.

use super::deadline::Nanos;
use std::cell::Cell;

/// A fraction `F` of the TTL (`0 < F < 1`), in units of 2^-32: each stored entry's
/// TTL is drawn uniformly from `[ttl × (1 − F), ttl]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Jitter(u32);

impl Jitter {
    /// The jitter of `fraction`, if `0 < fraction < 1` (and representable: at least
    /// 2^-32).
    pub(crate) fn new(fraction: f64) -> Option<Self> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return None;
        }
        let scaled = (fraction * 4_294_967_296.0) as u64;
        u32::try_from(scaled)
            .ok()
            .filter(|&scaled| scaled > 0)
            .map(Jitter)
    }

    /// `ttl` shortened by a random share of at most the fraction.
    pub(crate) fn shorten(self, ttl: Nanos) -> Nanos {
        self.shorten_by(ttl, next_random())
    }

    /// `ttl` shortened by `random / 2^32` of the fraction.
    fn shorten_by(self, ttl: Nanos, random: u32) -> Nanos {
        let most = (u128::from(ttl) * u128::from(self.0)) >> 32;
        let cut = (most * u128::from(random)) >> 32;
        // `cut <= most < ttl`: never longer, never zero for a TTL of 2+ ns.
        ttl - cut as Nanos
    }
}

thread_local! {
    /// splitmix64's state, seeded from the thread's own address and the time, so that
    /// threads (and processes) draw differently.
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let local = 0_u8;
    let address = std::ptr::addr_of!(local) as u64;
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    address ^ time.rotate_left(32)
}

/// The next 32 random bits of this thread (splitmix64).
fn next_random() -> u32 {
    STATE
        .try_with(|state| {
            let next = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            state.set(next);
            let mut mixed = next;
            mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((mixed ^ (mixed >> 31)) >> 32) as u32
        })
        // A thread whose thread-locals are gone stores its entry unjittered.
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fractions_strictly_between_0_and_1_are_jitter() {
        for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY, 1e-12] {
            assert_eq!(Jitter::new(bad), None, "{bad}");
        }
        assert!(Jitter::new(0.1).is_some());
    }

    #[test]
    fn a_ttl_is_never_lengthened_and_never_cut_past_the_fraction() {
        let jitter = Jitter::new(0.25).unwrap();
        let ttl = 1_000_000_000;
        for random in [0, 1, u32::MAX / 2, u32::MAX] {
            let shortened = jitter.shorten_by(ttl, random);
            assert!(
                shortened <= ttl && shortened >= ttl - ttl / 4,
                "{shortened}"
            );
        }
        assert_eq!(jitter.shorten_by(ttl, 0), ttl);
        assert!(jitter.shorten_by(ttl, u32::MAX) < ttl * 3 / 4 + 1_000);
        assert!(jitter.shorten_by(u64::MAX, u32::MAX) > 0);
    }
}
