//! The keys the scenarios look up, chosen so that every implementation sees the same
//! sequence and the key arithmetic costs next to nothing (a mask, no division).

/// Keys `0..HOT_KEYS` are the working set of the hit scenarios: small enough to stay
/// in cache, large enough to spread over every shard of every sharded map.
pub const HOT_KEYS: u64 = 1024;

/// Keys from here up are never inserted by a hit scenario: lookups of them miss.
pub const ABSENT_KEYS: u64 = 1 << 62;

/// The key a thread looks up at step `i` of a hit loop: a walk over the hot keys,
/// each thread starting half-way from the previous one, so that two threads rarely
/// ask for the same key at the same moment. Consecutive keys land in unrelated
/// buckets and shards, since every map hashes them.
///
/// # Examples
///
/// ```
/// use cache_bench::keys::{hot_key, HOT_KEYS};
///
/// assert_eq!(hot_key(0, 0), 0);
/// assert_eq!(hot_key(0, 1), HOT_KEYS / 2);
/// assert_eq!(hot_key(HOT_KEYS, 0), 0);
/// ```
#[inline]
pub fn hot_key(i: u64, thread: usize) -> u64 {
    (i + thread as u64 * (HOT_KEYS / 2)) & (HOT_KEYS - 1)
}

/// `n` distinct string keys of a typical length (`"user:000042"`, 11 bytes).
///
/// # Examples
///
/// ```
/// assert_eq!(cache_bench::keys::string_keys(2), ["user:000000", "user:000001"]);
/// ```
pub fn string_keys(n: u64) -> Vec<String> {
    (0..n).map(|i| format!("user:{i:06}")).collect()
}
