//! The map's hash of keys: foldhash, randomly seeded per map, with nine bits always
//! zero so that a deadline record can carry a tag in their place (see `deadline.rs`).
//!
//! Every hash a map computes goes through [`KeyHasher`]: table lookups, resizes and
//! records must agree bit for bit, or an entry becomes unreachable.

use std::hash::{BuildHasher, Hash};

/// Bits 48..57 of every key hash, left zero. Nothing reads them: hashbrown takes a
/// bucket from the low bits and its control byte from the top 7 (bits 25..32 on 32-bit
/// targets), and shards are chosen by bits 40..47.
pub(crate) const FREE_BITS: u64 = 0x1FF << 48;

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
