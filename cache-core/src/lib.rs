//! Placeholder.
#[cfg(feature = "macros")]
pub use cache_macros::ttl_cached;
