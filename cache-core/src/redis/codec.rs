//! How keys and values cross processes: the Redis key of one entry, and the bytes
//! of one value.
//!
//! A key is `{namespace}:{crate}:{module path}:{function}:{version}:{generation}:{arguments}`,
//! the arguments in full (postcard-encoded), never a hash of them: two argument tuples
//! never share an entry. A value is an envelope: a format tag, a fingerprint of the
//! value's type, then the postcard encoding. Redis data is untrusted: anything that
//! is not exactly such an envelope of this type decodes to `None`, never to a wrong
//! value, never a panic.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The first bytes of every value this crate writes; a new layout gets a new tag.
const FORMAT_TAG: [u8; 3] = *b"tc1";
/// The tag, then the type's fingerprint.
const HEADER_LEN: usize = FORMAT_TAG.len() + 8;

/// The name of the key holding a function's generation: `_clear` increments it, and
/// every entry's key contains it, so clearing is one command whatever the entry count.
/// (Entry keys have digits where this has `gen`: they never meet.)
pub(super) const GENERATION_SUFFIX: &str = ":gen";

/// The arguments as they appear in the key.
pub(super) fn encode_key<K: Serialize + ?Sized>(key: &K) -> Option<Vec<u8>> {
    postcard::to_allocvec(key).ok()
}

/// The envelope of `value`.
pub(super) fn encode_value<V: Serialize>(value: &V) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(&FORMAT_TAG);
    bytes.extend_from_slice(&fingerprint::<V>().to_le_bytes());
    postcard::to_extend(value, bytes).ok()
}

/// The value in an envelope written by [`encode_value`] for the same type; `None`
/// for anything else (another format, another type, garbage, trailing bytes).
pub(super) fn decode_value<V: DeserializeOwned>(bytes: &[u8]) -> Option<V> {
    if bytes.len() < HEADER_LEN || bytes[..FORMAT_TAG.len()] != FORMAT_TAG {
        return None;
    }
    let (fingerprint_bytes, payload) = bytes[FORMAT_TAG.len()..].split_at(8);
    if fingerprint_bytes != fingerprint::<V>().to_le_bytes() {
        return None;
    }
    match postcard::take_from_bytes::<V>(payload) {
        Ok((value, [])) => Some(value),
        _ => None,
    }
}

/// A hash of the value type's name (FNV-1a, the same in every process): a build whose
/// function now returns another type reads the old entries as misses, not as garbage
/// that happens to decode. (Changes inside a type keep its name: that is what the
/// `version` option is for.)
fn fingerprint<V>() -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    std::any::type_name::<V>()
        .bytes()
        .fold(OFFSET, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips() {
        let bytes = encode_value(&(7_u64, "seven".to_owned())).unwrap();
        assert_eq!(
            decode_value::<(u64, String)>(&bytes),
            Some((7, "seven".to_owned()))
        );
    }

    #[test]
    fn another_type_garbage_or_trailing_bytes_decode_to_nothing() {
        let bytes = encode_value(&7_u64).unwrap();
        assert_eq!(decode_value::<u32>(&bytes), None);
        assert_eq!(decode_value::<u64>(b"garbage"), None);
        assert_eq!(decode_value::<u64>(b""), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_value::<u64>(&longer), None);
        assert_eq!(decode_value::<u64>(&bytes[..bytes.len() - 1]), None);
    }

    #[test]
    fn distinct_argument_tuples_have_distinct_keys() {
        let a = encode_key(&("ab".to_owned(), "c".to_owned())).unwrap();
        let b = encode_key(&("a".to_owned(), "bc".to_owned())).unwrap();
        assert_ne!(a, b);
    }
}
