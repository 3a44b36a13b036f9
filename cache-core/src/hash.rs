//! The map's hash of keys, and the whole bit budget of one: foldhash, randomly seeded
//! per map, with nine bits always zero so that a deadline record can carry a tag in
//! their place (see `shard/deadline_index.rs`).
//!
//! | bits | read by |
//! |---|---|
//! | 0..40 | hashbrown, for the bucket (as many low bits as the table has buckets) |
//! | 40..47 | the map, for the shard ([`shard_of`]) |
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
/// (the low ones, 2^40 buckets being far more than a shard holds) and below
/// [`FREE_BITS`].
const SHARD_SHIFT: u32 = 40;

/// The most shards a map has: the shard field of a hash has room for this many.
pub(crate) const MAX_SHARDS: usize = 128;

// The fields never overlap, and the shard field sits above every bucket bit a table
// of up to 2^40 buckets reads. (In one const block: Rust 1.85 calls constants used
// only by assertions dead code.)
const _: () = {
    // The bits `shard_of` can read.
    let shard_bits: u64 = ((MAX_SHARDS as u64) - 1) << SHARD_SHIFT;
    // hashbrown's control byte: the top seven bits.
    let control_bits: u64 = 0x7F << 57;
    assert!(MAX_SHARDS.is_power_of_two());
    assert!(shard_bits & FREE_BITS == 0);
    assert!(shard_bits & control_bits == 0);
    assert!(FREE_BITS & control_bits == 0);
    assert!(shard_bits.trailing_zeros() >= 40);
};

/// The shard of a key with this hash, in a map whose shard count is `mask + 1` (a
/// power of two, at most [`MAX_SHARDS`]).
#[inline]
pub(crate) fn shard_of(hash: u64, mask: usize) -> usize {
    debug_assert!(mask < MAX_SHARDS);
    (hash >> SHARD_SHIFT) as usize & mask
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
}
