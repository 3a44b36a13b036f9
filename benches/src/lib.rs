//! Benchmarks of `cache-core` against its peers, on the same work in the same run.
//!
//! Two ways to run them (see `BENCHMARKS.md` at the workspace root):
//!
//! - `cargo bench -p cache-bench`: criterion micro-benchmarks of the map operations
//!   (`get` hit and miss, `insert`, `get_or_insert_with` hit) on 1 and 2 threads.
//! - `cargo run --release -p cache-bench --bin compare`: every scenario of the suite for
//!   every implementation, printed as Markdown tables with ratios to the best peer and
//!   to the limit (an unsynchronised thread-local `HashMap`), plus the charts
//!   `docs/hit-cost.svg` and `docs/hit-ratio.svg`.
//!
//! Every implementation sits behind one of three small traits, so that each scenario is
//! written once:
//!
//! - [`store::Store`]: a `u64 → u64` map built fresh for a scenario (memory, growth,
//!   sweep stall, the criterion benches).
//! - `Memoized` (in the `compare` binary, `memo.rs`): memoized functions as users write them with each library's
//!   attribute or idiom (hits, `&str` hits, misses, reclaim).
//! - `Bounded` (in the `compare` binary, `ratio/bounded.rs`): a `u64 → u64` cache held to
//!   a capacity, for the hit-ratio scenario.
//!
//! Peers are dependencies of this package only, never of `cache-core`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod alloc_count;
pub mod chart;
pub mod histogram;
pub mod keys;
pub mod machine;
pub mod measure;
pub mod report;
pub mod store;

/// What an implementation is in a comparison: ratios are taken to the best
/// [`Role::Peer`] and to the [`Role::Limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// This project's `cache-core`.
    Ours,
    /// Another library, or the obvious hand-written alternative.
    Peer,
    /// The unsynchronised thread-local `HashMap`: no lock, no TTL, no sharing. Nothing
    /// thread-safe can beat it; it is the floor the targets are measured against.
    Limit,
}
