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
//! | `redis` | no | a Redis second level shared by processes: `#[ttl_cached(redis = true)]`, the `redis` module (`connect`, `Config`) |
//! | `redis-tls` | no | `rediss://` URLs (TLS, rustls), with `redis` |
//! | `tokio` | no | the background refreshes of `async fn`s memoized with `#[ttl_cached(stale_while_revalidate = N)]` run on the caller's tokio runtime (`Handle::try_current`); without it, see [`set_refresh_spawner`] |
//! | `lock-stats` | no | `diagnostics::lock_stats()`: how often lookups waited for writers, for benchmarks (the benchmark suite reads it) |
//!
//! # Thread safety
//!
//! `TtlMap<K, V>` is `Send + Sync` for `K: Send + Sync` and `V: Send + Sync`; share it by
//! reference, in a `static`, or in an `Arc`. Lookups take one shard's read lock and write
//! only memory of their own thread's stripe, so threads reading the same keys on
//! different cores do not slow each other down. No lock is held while your code runs (`init`
//! closures, `Drop` of values), so a panic there never poisons the map: the panic
//! reaches the caller that caused it, and the map stays usable.
//!
//! # Things to know
//!
//! - Values are cloned when fetched: wrap large values in [`std::sync::Arc`].
//! - Expiry is exact: an entry is never returned after its deadline, nor dropped before.
//!   Lookups of entries far from their deadline check it with one atomic load of a
//!   coarse clock kept by a thread of its own; entries within 250 ms of it read the precise
//!   clock (see [`TtlMap`]'s "Clock precision"). A value computed on a miss may live
//!   about 250 µs past its TTL, under 0.4 ms (its deadline comes from the cycle counter),
//!   never less.
//! - Each map has a fixed footprint besides its entries, sized by the core count so that
//!   threads do not contend: about 7 KiB on 2 cores (32 shards, 8 reader stripes), up to
//!   about 52 KiB on 32 cores or more. Every `#[ttl_cached]` function has its own map.
//! - The hasher is [foldhash](https://docs.rs/foldhash), randomly seeded per map:
//!   keys chosen by an attacker cannot be made to collide (HashDoS).

#![warn(missing_docs)]
// The exceptions allow it for themselves: `sync/shard_locks.rs`, `map_cell.rs`,
// `time/cycle_counter.rs` and `fork.rs`.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "lock-stats")]
pub mod diagnostics;
mod flight;
mod fork;
mod hash;
mod map;
mod map_cell;
#[cfg(feature = "redis")]
pub mod redis;
mod refresh;
mod shard;
mod spawn;
mod stats;
mod sweeper;
mod sync;
mod time;

pub use map::{EvictionCause, TtlMap, TtlMapBuilder};
pub use spawn::{set_refresh_spawner, RefreshTask, SpawnerAlreadySet};
pub use stats::CacheStats;
pub use sweeper::SWEEPER_THREAD_NAME;
pub use time::MockClock;

/// Memoizes a function in a static [`TtlMap`], keyed by its arguments, and generates
/// `<name>_invalidate`, `<name>_clear`, `<name>_cache`, `<name>_uncached` and
/// `<name>_refresh` next to it. The options, key rules and compile errors are
/// documented on the macro in `cache-macros`.
///
/// # Examples
///
/// ```
/// use cache_core::ttl_cached;
///
/// #[ttl_cached(secs = 60)]
/// fn slow_square(n: u64) -> u64 {
///     n * n // imagine a slow computation here
/// }
///
/// assert_eq!(slow_square(4), 16); // runs the body
/// assert_eq!(slow_square(4), 16); // served from the cache
/// assert_eq!(slow_square_cache().stats().hits, 1);
/// assert!(slow_square_invalidate(4)); // forget one entry
/// slow_square_clear(); // forget them all
/// assert_eq!(slow_square_cache().len(), 0);
///
/// struct Repo {
///     tenant: String,
/// }
///
/// impl Repo {
///     // A method's cache is shared by every instance: `key` says what matters.
///     #[ttl_cached(secs = 30, key = (self.tenant.clone(), id))]
///     fn load(&self, id: u64) -> String {
///         format!("{}/{id}", self.tenant)
///     }
/// }
///
/// let repo = Repo { tenant: "acme".to_owned() };
/// assert_eq!(repo.load(7), "acme/7");
/// assert_eq!(repo.load(7), "acme/7");
/// assert_eq!(Repo::load_cache().stats().hits, 1);
/// ```
///
/// Expiry tested without sleeping: `clock` gives the function's map a [`MockClock`]
/// (usually only under `#[cfg_attr(test, …)]`).
///
/// ```
/// use cache_core::{ttl_cached, MockClock};
/// use std::sync::LazyLock;
/// use std::time::Duration;
///
/// static CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
///
/// #[ttl_cached(secs = 60, clock = CLOCK.clone())]
/// fn exchange_rate(currency: &str) -> f64 {
///     if currency == "EUR" { 1.08 } else { 1.0 }
/// }
///
/// exchange_rate("EUR");
/// CLOCK.advance(Duration::from_secs(59));
/// exchange_rate("EUR"); // a hit
/// CLOCK.advance(Duration::from_secs(1));
/// exchange_rate("EUR"); // expired: computed again
/// assert_eq!(exchange_rate_cache().stats().computations, 2);
/// ```
///
/// Freshness: `ttl_from` lets each result say how long it lives, under the TTL;
/// `stale_while_revalidate = N` returns a value up to `N` s past its TTL at once while
/// one background refresh recomputes it (the refresh runs the body later, on another
/// thread, with owned copies of the arguments: `&str` as a `String`, lent back);
/// `stale_if_error = N` answers an `Err` with the `Ok` that
/// expired less than `N` s ago ([`CacheStats::errors_served_over`]).
///
/// ```
/// use cache_core::{ttl_cached, MockClock};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::LazyLock;
/// use std::time::Duration;
///
/// static CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
/// static UP: AtomicBool = AtomicBool::new(true);
///
/// fn max_age(page: &Result<String, String>) -> Option<Duration> {
///     match page {
///         Ok(body) if body.contains("no-store") => None,
///         _ => Some(Duration::from_secs(30)),
///     }
/// }
///
/// #[ttl_cached(secs = 60, ttl_from = max_age, stale_if_error = 600, clock = CLOCK.clone())]
/// fn page(url: String) -> Result<String, String> {
///     if UP.load(Ordering::SeqCst) { Ok(format!("<{url}>")) } else { Err("down".into()) }
/// }
///
/// assert_eq!(page("/".into()), Ok("</>".into()));
/// assert_eq!(page_cache().remaining_ttl(&("/".into(),)), Some(Duration::from_secs(30)));
/// UP.store(false, Ordering::SeqCst);
/// CLOCK.advance(Duration::from_secs(40)); // expired 10 s ago
/// assert_eq!(page("/".into()), Ok("</>".into())); // the error is served over
/// assert_eq!(page_cache().stats().errors_served_over, 1);
/// ```
///
/// A generic function has one map per instantiation, and its helpers take the same
/// type parameters:
///
/// ```
/// use cache_core::ttl_cached;
/// use std::str::FromStr;
///
/// #[ttl_cached(secs = 60)]
/// fn parse<T: FromStr + Clone + Send + Sync + 'static>(s: &str) -> Option<T> {
///     s.parse().ok()
/// }
///
/// assert_eq!(parse::<u8>("7"), Some(7));
/// assert_eq!(parse::<u64>("7"), Some(7)); // another map: computed again
/// assert_eq!(parse::<u8>("7"), Some(7)); // a hit
/// assert_eq!(parse_cache::<u8>().stats().hits, 1);
/// assert_eq!(parse_cache::<u64>().stats().hits, 0);
/// ```
#[cfg(feature = "macros")]
pub use cache_macros::ttl_cached;

/// Lets `#[ttl_cached]` methods live in a trait impl: on the `impl` block, it keeps
/// each cached method in the trait impl and puts its helpers (`_invalidate`, `_cache`…)
/// in an inherent `impl` of the type. The details are documented on the macro in
/// `cache-macros`.
///
/// # Examples
///
/// ```
/// use cache_core::{ttl_cached, ttl_cached_impl};
///
/// trait Store {
///     fn get(&self, id: u64) -> String;
///     fn open(name: &str) -> Self;
/// }
///
/// #[derive(Clone)]
/// struct Db {
///     name: String,
/// }
///
/// #[ttl_cached_impl]
/// impl Store for Db {
///     #[ttl_cached(secs = 20, key = (self.name.clone(), id))]
///     fn get(&self, id: u64) -> String {
///         format!("{}/{id}", self.name) // imagine a query here
///     }
///
///     #[ttl_cached(secs = 20)]
///     fn open(name: &str) -> Self {
///         Db { name: name.to_owned() }
///     }
/// }
///
/// let db = Db::open("main");
/// assert_eq!(db.get(7), "main/7"); // runs the body
/// assert_eq!(db.get(7), "main/7"); // a hit
/// assert_eq!(Db::get_cache().stats().computations, 1);
/// assert!(db.get_invalidate(7)); // the helpers are inherent functions of `Db`
/// ```
#[cfg(feature = "macros")]
pub use cache_macros::ttl_cached_impl;

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(all(doctest, feature = "macros"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
