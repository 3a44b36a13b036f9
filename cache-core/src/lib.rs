//! A fast concurrent map with per-entry TTL, one shared background sweeper, and the
//! `#[ttl_cached]` attribute that memoizes a function in it.
//!
//! ```
//! use cache_core::TtlMap;
//! use std::time::Duration;
//!
//! let prices = TtlMap::with_ttl(Duration::from_secs(20));
//! let price = prices.get_or_insert_with("BTC", || 97_000); // computed once
//! assert_eq!(prices.get("BTC"), Some(price));
//! ```
//!
//! # What you get
//!
//! | | |
//! |---|---|
//! | [`TtlMap`] | concurrent map, per-entry TTL, optional capacity, single-flight [`get_or_insert_with`](TtlMap::get_or_insert_with), [`CacheStats`] |
//! | [`MockClock`] | a clock tests advance by hand: expiry without sleeping |
//! | the sweeper | one thread per process removes expired entries within about a second, in small batches |
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `macros` | yes | re-exports the `#[ttl_cached]` attribute |
//!
//! # Thread safety
//!
//! `TtlMap<K, V>` is `Send + Sync` for `K: Send + Sync` and `V: Send + Sync`; share it by
//! reference, in a `static`, or in an `Arc`. Lookups take one shard's read lock and write
//! nothing shared by the whole map. No lock is held while your code runs (`init`
//! closures, `Drop` of values), so a panic there never poisons the map: the panic
//! reaches the caller that caused it, and the map stays usable.
//!
//! # Things to know
//!
//! - Values are cloned when fetched: wrap large values in [`std::sync::Arc`].
//! - Lookups read a coarse clock (advanced every millisecond), so an entry can be
//!   returned up to about 1 ms past its deadline; it is never dropped early.
//! - The hasher is [foldhash](https://docs.rs/foldhash), randomly seeded per map:
//!   keys chosen by an attacker cannot be made to collide (HashDoS).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod clock;
mod deadline;
mod flight;
mod map;
mod shard;
mod shim;
mod stats;
mod sweeper;

pub use clock::MockClock;
pub use map::{TtlMap, TtlMapBuilder};
pub use stats::CacheStats;
pub use sweeper::SWEEPER_THREAD_NAME;

#[cfg(feature = "macros")]
pub use cache_macros::ttl_cached;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
