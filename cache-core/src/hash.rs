//! The map's hash of keys, and the whole bit budget of one: foldhash, randomly seeded
//! per map, with nine bits always zero so that a deadline record can carry a tag in
//! their place (see `shard/deadline_index.rs`).
//!
//! | bits | read by |
//! |---|---|
//! | 0..32 | hashbrown, for the bucket (as many low bits as the table has buckets) |
//! | 32..48 | the map, for the shard ([`shard_of`]) |
//! | 48..57 | nobody: always zero ([`FREE_BITS`]), a deadline record's tag goes there |
//! | 57..64 | hashbrown, for the control byte (on 32-bit targets, bits 25..32) |
//!
//! Every hash a map computes goes through [`KeyHasher`]: table lookups, resizes and
//! records must agree bit for bit, or an entry becomes unreachable. This module must
//! never hand out a hash with [`FREE_BITS`] set.

use std::hash::{BuildHasher, Hash};

/// Bits 48..57 of every key hash, left zero (see the table above).
pub(crate) const FREE_BITS: u64 = 0x1FF << 48;

/// Which hash bits pick the shard: above the bits hashbrown uses to pick a bucket
/// (the low ones, 2^32 buckets being far more than a shard holds) and below
/// [`FREE_BITS`]: sixteen of them, so that any shard count up to [`MAX_SHARDS`] gets
/// an even share of keys (within 1 part in 256), not only powers of two.
const SHARD_SHIFT: u32 = 32;
const SHARD_FIELD: u64 = 0xFFFF;

/// The most shards a map has.
pub(crate) const MAX_SHARDS: usize = 256;

// The fields never overlap, and the shard field sits above every bucket bit a table
// of up to 2^32 buckets reads. (In one const block: Rust 1.85 calls constants used
// only by assertions dead code.)
const _: () = {
    let shard_bits: u64 = SHARD_FIELD << SHARD_SHIFT;
    // hashbrown's control byte: the top seven bits.
    let control_bits: u64 = 0x7F << 57;
    assert!(shard_bits & FREE_BITS == 0);
    assert!(shard_bits & control_bits == 0);
    assert!(FREE_BITS & control_bits == 0);
    assert!(shard_bits.trailing_zeros() >= 32);
    assert!(MAX_SHARDS as u64 <= SHARD_FIELD + 1);
};

/// The shard of a key with this hash, in a map of `shards` shards (at most
/// [`MAX_SHARDS`]): the shard field scaled to `0..shards` by a multiply and a shift
/// (Lemire's fast range), so that the count need not be a power of two.
#[inline]
pub(crate) fn shard_of(hash: u64, shards: usize) -> usize {
    debug_assert!((1..=MAX_SHARDS).contains(&shards));
    (((hash >> SHARD_SHIFT) & SHARD_FIELD) as usize * shards) >> 16
}

/// Hashes keys for one map.
#[derive(Default)]
pub(crate) struct KeyHasher(foldhash::fast::RandomState);

impl KeyHasher {
    /// The hash of `key` (owned or borrowed: equal keys hash alike), with
    /// [`FREE_BITS`] zero.
    #[inline]
    pub(crate) fn hash<Q: ?Sized + Hash>(&self, key: &Q) -> u64 {
        self.0.hash_one(key) & !FREE_BITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_leave_the_free_bits_zero_and_keep_the_rest() {
        let hasher = KeyHasher::default();
        let mut seen_outside = 0;
        for key in 0..1000_u64 {
            let hash = hasher.hash(&key);
            assert_eq!(hash & FREE_BITS, 0);
            seen_outside |= hash;
        }
        // Every other bit still varies, the bucket and control-byte bits included.
        assert_eq!(seen_outside, !FREE_BITS);
    }

    #[test]
    fn a_borrowed_key_hashes_like_the_owned_one() {
        let hasher = KeyHasher::default();
        assert_eq!(hasher.hash("abc"), hasher.hash(&String::from("abc")));
    }

    #[test]
    #[cfg_attr(miri, ignore = "almost a million hashes: too slow under Miri")]
    fn any_shard_count_gets_an_even_share_of_keys() {
        let hasher = KeyHasher::default();
        for shards in [1, 3, 44, 63, 100, MAX_SHARDS] {
            let mut counts = vec![0_u32; shards];
            let keys = 2_000 * shards as u64;
            for key in 0..keys {
                counts[shard_of(hasher.hash(&key), shards)] += 1;
            }
            // 2,000 a shard on average; a binomial spread is about ±45.
            let (least, most) = (counts.iter().min(), counts.iter().max());
            assert!(
                least >= Some(&1_700) && most <= Some(&2_300),
                "{shards}: {counts:?}"
            );
        }
    }
}
