//! The request streams of the hit-ratio scenario: key sequences drawn from a seeded
//! generator written here (no `rand` dependency), so every store, every round and every
//! run replays exactly the same requests.
//!
//! Keys are ranks (or positions) passed through [`scramble`], a bijection that scatters
//! consecutive inputs, so that a key's popularity says nothing about its value or its
//! hash: no store gains from popular keys sharing a shard or a bucket run.

/// splitmix64 (Steele, Lea and Flood): 64 bits of state, statistically sound enough to
/// choose keys, and a few instructions per number.
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        scramble(self.state)
    }

    /// Uniform in `[0, 1)`: the top 53 bits, as many as an `f64` holds exactly.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// splitmix64's finaliser: a bijection on `u64` (so distinct ranks stay distinct keys)
/// that sends consecutive inputs to unrelated outputs.
pub fn scramble(x: u64) -> u64 {
    let x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Ranks `1..=n` with probability proportional to `rank^-exponent`, drawn by
/// rejection-inversion (Hörmann and Derflinger, 1996, as in Apache Commons RNG): O(1)
/// per draw and no table, where a precomputed CDF of a million ranks would cost 8 MB and
/// a binary search per draw.
pub struct Zipf {
    n: f64,
    exponent: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    /// Draws with `k - x` at most this are accepted without the exact test.
    squeeze: f64,
}

impl Zipf {
    /// The distribution over `1..=n` with `exponent` (`s`) greater than 0.
    pub fn new(n: u64, exponent: f64) -> Self {
        assert!(n >= 1 && exponent > 0.0, "Zipf needs n ≥ 1 and s > 0");
        let mut zipf = Zipf {
            n: n as f64,
            exponent,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        zipf.h_integral_x1 = zipf.h_integral(1.5) - 1.0;
        zipf.h_integral_n = zipf.h_integral(n as f64 + 0.5);
        zipf.squeeze = 2.0 - zipf.h_integral_inverse(zipf.h_integral(2.5) - zipf.h(2.0));
        zipf
    }

    /// One rank in `1..=n`.
    pub fn sample(&self, rng: &mut SplitMix64) -> u64 {
        loop {
            let u = self.h_integral_n + rng.next_f64() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            // The squeeze accepts most draws without evaluating `h`; the rest take the
            // exact test, and a rejected draw starts over.
            if k - x <= self.squeeze || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    /// `x^-exponent`: the unnormalised probability of rank `x`.
    fn h(&self, x: f64) -> f64 {
        (-self.exponent * x.ln()).exp()
    }

    /// An antiderivative of [`h`](Self::h), written to stay exact near `exponent = 1`.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        exp_m1_over_x((1.0 - self.exponent) * log_x) * log_x
    }

    /// The inverse of [`h_integral`](Self::h_integral).
    fn h_integral_inverse(&self, x: f64) -> f64 {
        // Rounding can push t just below -1, where ln(1 + t) is undefined.
        let t = (x * (1.0 - self.exponent)).max(-1.0);
        (ln_1p_over_x(t) * x).exp()
    }
}

/// `ln(1 + x) / x`, with its limit 1 at 0.
fn ln_1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1) / x`, with its limit 1 at 0.
fn exp_m1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

/// Keys of one-off scans start here, far above every Zipf rank and phase offset, so a
/// scanned key is never requested again.
const SCAN_KEYS_FROM: u64 = 1 << 48;

/// `requests` keys drawn from Zipf(`exponent`) over `keys` distinct keys.
pub fn zipf(requests: usize, keys: u64, exponent: f64, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(keys, exponent);
    let mut rng = SplitMix64::new(seed);
    (0..requests)
        .map(|_| scramble(zipf.sample(&mut rng)))
        .collect()
}

/// Zipf(`exponent`) over `keys` keys, interrupted after every `between_scans` requests
/// by a scan of `scan_length` keys that are never requested again (a batch job reading
/// through the data once): `requests` keys in all, scans included.
pub fn zipf_with_scans(
    requests: usize,
    keys: u64,
    exponent: f64,
    between_scans: usize,
    scan_length: usize,
    seed: u64,
) -> Vec<u64> {
    let zipf = Zipf::new(keys, exponent);
    let mut rng = SplitMix64::new(seed);
    let mut next_scan_key = SCAN_KEYS_FROM;
    let mut stream = Vec::with_capacity(requests);
    while stream.len() < requests {
        let popular = between_scans.min(requests - stream.len());
        stream.extend((0..popular).map(|_| scramble(zipf.sample(&mut rng))));
        let scan = scan_length.min(requests - stream.len());
        stream.extend((next_scan_key..next_scan_key + scan as u64).map(scramble));
        next_scan_key += scan as u64;
    }
    stream
}

/// Phases of `phase_length` requests, each Zipf(`exponent`) over its own `keys` keys
/// (phase `p` draws from keys `p × keys ..`): the hot set moves and never comes back,
/// so what counts is how fast a cache lets the old hot set go.
pub fn shifting_hot_set(
    requests: usize,
    keys: u64,
    exponent: f64,
    phase_length: usize,
    seed: u64,
) -> Vec<u64> {
    let zipf = Zipf::new(keys, exponent);
    let mut rng = SplitMix64::new(seed);
    (0..requests)
        .map(|i| {
            let offset = (i / phase_length) as u64 * keys;
            scramble(offset + zipf.sample(&mut rng))
        })
        .collect()
}

/// `distinct` keys requested in the same order again and again: a loop over slightly
/// more than the cache holds, where LRU and FIFO evict every key just before its next
/// request and hit nothing.
pub fn looping(requests: usize, distinct: u64) -> Vec<u64> {
    (0..requests as u64)
        .map(|i| scramble(i % distinct))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Draw frequencies of the first ranks against `rank^-s / H(n, s)`.
    fn check_zipf(n: u64, exponent: f64) {
        let draws = 400_000;
        let zipf = Zipf::new(n, exponent);
        let mut rng = SplitMix64::new(7);
        let mut counts = vec![0_u64; n as usize + 1];
        for _ in 0..draws {
            let rank = zipf.sample(&mut rng);
            assert!((1..=n).contains(&rank), "rank {rank} outside 1..={n}");
            counts[rank as usize] += 1;
        }
        let harmonic: f64 = (1..=n).map(|k| (k as f64).powf(-exponent)).sum();
        for rank in [1_u64, 2, 10, 100] {
            let expected = (rank as f64).powf(-exponent) / harmonic * draws as f64;
            let seen = counts[rank as usize] as f64;
            // Five standard deviations of a binomial count, plus 1 for tiny counts.
            let tolerance = 5.0 * expected.sqrt() + 1.0;
            assert!(
                (seen - expected).abs() <= tolerance,
                "s = {exponent}, rank {rank}: {seen} draws, expected {expected:.0} ± {tolerance:.0}"
            );
        }
    }

    #[test]
    fn zipf_draws_follow_the_distribution() {
        for exponent in [0.6, 0.8, 0.9, 1.0, 1.2] {
            check_zipf(1_000, exponent);
        }
    }

    #[test]
    fn streams_are_deterministic() {
        assert_eq!(
            zipf(1_000, 1_000_000, 0.8, 1),
            zipf(1_000, 1_000_000, 0.8, 1)
        );
        assert_ne!(
            zipf(1_000, 1_000_000, 0.8, 1),
            zipf(1_000, 1_000_000, 0.8, 2)
        );
    }

    #[test]
    fn scans_never_repeat_a_key() {
        let stream = zipf_with_scans(10_200, 1_000, 0.9, 1_000, 500, 3);
        assert_eq!(stream.len(), 10_200);
        let popular: HashSet<u64> = (1..=1_000).map(scramble).collect();
        let scanned: Vec<u64> = stream
            .iter()
            .copied()
            .filter(|key| !popular.contains(key))
            .collect();
        // Cycles of 1,000 + 500: 6 whole cycles, then 1,000 Zipf requests and a scan cut
        // short at 200.
        assert_eq!(scanned.len(), 6 * 500 + 200);
        assert_eq!(scanned.iter().collect::<HashSet<_>>().len(), scanned.len());
        assert!(popular.contains(&stream[999]) && !popular.contains(&stream[1_000]));
    }

    #[test]
    fn hot_sets_do_not_overlap() {
        let stream = shifting_hot_set(4_000, 1_000, 0.9, 1_000, 5);
        let phases: Vec<HashSet<u64>> = stream
            .chunks(1_000)
            .map(|phase| phase.iter().copied().collect())
            .collect();
        for (p, phase) in phases.iter().enumerate() {
            for later in &phases[p + 1..] {
                assert!(phase.is_disjoint(later));
            }
        }
    }

    #[test]
    fn a_loop_repeats_in_order() {
        let stream = looping(25, 10);
        assert_eq!(stream[..10], stream[10..20]);
        assert_eq!(stream[..10].iter().collect::<HashSet<_>>().len(), 10);
    }
}
