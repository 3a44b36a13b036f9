//! [`LatencyHistogram`]: per-operation latencies in fixed memory, for percentiles over
//! tens of millions of samples without storing them.
//!
//! Buckets are log-linear: exact below [`EXACT_BELOW`] ns, then [`SUB_BUCKETS`] buckets
//! per power of two, so any percentile is reported within about 3% of the true value.
//! The maximum is kept exactly.

/// Values below this many nanoseconds get a bucket each.
const EXACT_BELOW: u64 = 64;
/// Buckets per power of two above [`EXACT_BELOW`]: a relative precision of 1/32.
const SUB_BUCKETS: u64 = 32;
const SUB_BITS: u32 = SUB_BUCKETS.trailing_zeros();
const FIRST_LOG_EXPONENT: u32 = EXACT_BELOW.trailing_zeros();
const BUCKETS: usize = (EXACT_BELOW + (64 - FIRST_LOG_EXPONENT as u64) * SUB_BUCKETS) as usize;

/// Latencies in nanoseconds, counted into log-linear buckets.
///
/// # Examples
///
/// ```
/// use cache_bench::histogram::LatencyHistogram;
///
/// let mut latencies = LatencyHistogram::new();
/// for ns in 1..=1000 {
///     latencies.record(ns);
/// }
/// assert_eq!(latencies.count(), 1000);
/// assert_eq!(latencies.max(), 1000);
/// let p50 = latencies.percentile(50.0);
/// assert!((485..=515).contains(&p50), "{p50}");
/// ```
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram (about 15 KiB, allocated once).
    pub fn new() -> Self {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }

    /// Counts one latency of `ns` nanoseconds.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket_of(ns)] += 1;
        self.total += 1;
        self.max = self.max.max(ns);
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest latency recorded, exactly.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// How many latencies were at least `ns` (to within a bucket: about 3%).
    pub fn count_at_least(&self, ns: u64) -> u64 {
        let first = bucket_of(ns);
        self.counts[first..].iter().sum()
    }

    /// The latency at or below which `percent`% of the samples fall (the middle of its
    /// bucket, never above the maximum); 0 when empty.
    pub fn percentile(&self, percent: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        // The epsilon keeps 99.9% of 1000 at rank 999, not 1000 through rounding.
        let rank = ((percent / 100.0) * self.total as f64 - 1e-6)
            .ceil()
            .max(1.0) as u64;
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return bucket_middle(bucket).min(self.max);
            }
        }
        self.max
    }
}

fn bucket_of(ns: u64) -> usize {
    if ns < EXACT_BELOW {
        return ns as usize;
    }
    let exponent = 63 - ns.leading_zeros();
    let sub = (ns >> (exponent - SUB_BITS)) & (SUB_BUCKETS - 1);
    (EXACT_BELOW + u64::from(exponent - FIRST_LOG_EXPONENT) * SUB_BUCKETS + sub) as usize
}

fn bucket_middle(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < EXACT_BELOW {
        return bucket;
    }
    let exponent = (bucket - EXACT_BELOW) / SUB_BUCKETS + u64::from(FIRST_LOG_EXPONENT);
    let sub = (bucket - EXACT_BELOW) % SUB_BUCKETS;
    let width = 1_u64 << (exponent - u64::from(SUB_BITS));
    (SUB_BUCKETS + sub) * width + width / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        for ns in 0..EXACT_BELOW {
            assert_eq!(bucket_middle(bucket_of(ns)), ns);
        }
    }

    #[test]
    fn large_values_land_within_three_percent() {
        for ns in [64, 100, 1_000, 12_345, 1 << 40, u64::MAX / 3, u64::MAX] {
            let middle = bucket_middle(bucket_of(ns)) as f64;
            let error = (middle - ns as f64).abs() / ns as f64;
            assert!(error <= 1.0 / 32.0, "{ns}: {middle}");
        }
    }

    #[test]
    fn every_value_has_a_bucket() {
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_of_one_outlier() {
        let mut latencies = LatencyHistogram::new();
        for _ in 0..999 {
            latencies.record(20);
        }
        latencies.record(50_000);
        assert_eq!(latencies.percentile(50.0), 20);
        assert_eq!(latencies.percentile(99.9), 20);
        assert_eq!(latencies.max(), 50_000);
        assert!(latencies.percentile(100.0) <= 50_000);
        assert_eq!(latencies.count_at_least(20_000), 1);
        assert_eq!(latencies.count_at_least(20), 1000);
    }
}
