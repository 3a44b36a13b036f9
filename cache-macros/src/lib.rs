//! The `#[ttl_cached]` attribute: memoizes a function, sync or `async`, in a static
//! [`cache_core::TtlMap`](https://docs.rs/cache-core), with helpers to inspect and
//! invalidate the cache.
//!
//! Use it through `cache-core`, which re-exports it (feature `macros`, on by default):
//! `use cache_core::ttl_cached;`. The generated code refers to `::cache_core`, so the
//! crate using the attribute must depend on `cache-core` directly.
//!
//! The pipeline is the usual one: `args` parses the options, `signature` reads the
//! function, `valid` checks the two together, and `expand` generates the code: the
//! functions users call itself, the hidden ops function through `ops`. Both build on
//! `model` (the cached function as the generators see it), which builds on `tokens`
//! (span and identifier helpers); no module imports one that imports it back.
//! `impl_block` is the second attribute, `#[ttl_cached_impl]`: it rewrites the
//! `#[ttl_cached]` attributes of an `impl` block so that each method's expansion is
//! split between the block and an inherent `impl` (through `expand`'s contexts). Errors point at the offending token, are all reported at once, and never hide
//! the function: after an error the function is still emitted, so its callers compile.
//!
//! The full documentation, with examples, is on [`macro@ttl_cached`].

mod args;
mod expand;
#[cfg(test)]
mod hostile_input;
mod impl_block;
mod model;
mod ops;
mod signature;
mod tokens;
mod valid;

use proc_macro::TokenStream;

/// Memoizes a function or an `async fn`: results live in a static
/// `cache_core::TtlMap`, keyed by the arguments, for a fixed time to live.
///
/// ```text
/// use cache_core::ttl_cached;
///
/// #[ttl_cached(secs = 20)]
/// fn fetch_user(id: u64, region: &str) -> User {
///     database::load_user(id, region) // runs once per (id, region) per 20 s
/// }
///
/// let user = fetch_user(7, "eu");     // runs the body
/// let again = fetch_user(7, "eu");    // a hit: a clone of the cached value
/// fetch_user_invalidate(7, "eu");     // forget that entry
/// println!("{:?}", fetch_user_cache().stats());
/// ```
///
/// # Options
///
/// In any order, each at most once. Exactly one of the first three is required.
///
/// | option | meaning |
/// |---|---|
/// | `secs = N` | entries live `N` seconds (an integer literal, at least 1) |
/// | `millis = N` | entries live `N` milliseconds |
/// | `ttl = <expr>` | entries live for this `Duration`, evaluated once, on first use (lets the TTL come from configuration) |
/// | `capacity = N` | at most `N` entries; when full, what is least likely to be asked for again is evicted first (S3-FIFO with TinyLFU admission: arguments never asked for again leave first, oldest first; arguments that keep being asked for stay; see `TtlMapBuilder::capacity`) |
/// | `err_secs = N` / `none_secs = N` | cache `Err` (resp. `None`) results too, like `cache_err = true` (resp. `cache_none`), but for at most `N` seconds (an integer literal): a failing upstream is not hammered, yet recovers quickly; successes keep the function's TTL. With `redis = true` the Redis entry gets the same shorter TTL. Conflicts with `cache_err = false` (resp. `cache_none = false`) |
/// | `ttl_from = path` | `path` names a function `fn(&R) -> Option<Duration>` (`R` the return type, all of it: a `Result`'s `Err` too), called on each computed result: `Some(d)` stores it for `min(d, ttl)`, `None` does not store it (the caller still gets it), as an HTTP response's `max-age` or `no-store` would. The TTL option stays required, as the ceiling; `err_secs` / `none_secs` cap further, `jitter` shortens within it, and with `redis = true` the Redis entry gets the same TTL |
/// | `stale_while_revalidate = N` | for `N` seconds past an entry's TTL (an integer literal, at least 1), a call returns the old value at once and starts one refresh of that key in the background, on the crate's refresh threads (one per key however many callers find it stale, counted in `CacheStats::stale_hits` and `refreshes_started`); later calls get the refreshed value. At TTL + `N` the entry is gone, and a call is an ordinary miss. A refresh that panics, or whose result is an `Err` / `None` (or that `ttl_from` says not to store), leaves the old value until TTL + `N`, and counts in `refreshes_failed`. The refresh runs the body after the call that started it has returned, so the body's arguments are moved into it: every parameter must be an owned `Clone + Send + 'static` type, or a plain `&T` whose owned form (`T::Owned`, as in the key: `String` for `&str`) is, which the refresh lends back to the body; a method's refresh calls it on a clone of `self` (`Self: Clone + Send + 'static`; `self` moved for a by-value receiver); a borrow inside a parameter (`Option<&str>`), a method with `helpers = "none"`, generic functions and `unsafe fn` are refused with a compile error. For an `async fn`, the body's future must be `Send + 'static`, and its refresh is spawned on the spawner installed with `cache_core::set_refresh_spawner`, else (feature `tokio` of `cache-core`) on the caller's tokio runtime; with neither, the caller that finds the value stale awaits the refresh itself and returns its result, while every other caller gets the stale value at once. With `redis = true`, staleness is this process's own: the old value served is its in-process copy, and the refresh stores in this process only |
/// | `stale_if_error = N` | for a function returning `Result`: when the body returns `Err` and the key's `Ok` value expired less than `N` seconds before (an integer literal, at least 1), the call returns that `Ok` value instead, and counts it in `CacheStats::errors_served_over`; the `Err` is then not stored (with `err_secs`, an `Err` with no `Ok` to serve over is). The map keeps each entry `N` seconds past its TTL for this, and only for this: every other lookup treats it as expired at its TTL. A stored `Err` (`cache_err`) is never served. With `redis = true`, the `Ok` served is the one this process holds (Redis drops its entries at their TTL) |
/// | `jitter = F` | each entry's TTL is drawn uniformly from `[ttl × (1 − F), ttl]` (`F` a float literal, `0 < F < 1`): entries computed together (a warm-up, a burst of misses) do not expire together; never longer than the TTL |
/// | `key = <expr>` | the cache key, an expression over the parameters, instead of all of them |
/// | `refresh = true` | sliding expiry: each hit restarts the entry's TTL |
/// | `cache_err = true` | a function returning `Result` caches `Err` too (by default only `Ok`) |
/// | `cache_none = true` | a function returning `Option` caches `None` too (by default only `Some`) |
/// | `single_flight = false` | concurrent misses of one key each run the body (by default, one runs it and the others wait for its result) |
/// | `helpers = "<visibility>"` | the visibility of the generated helpers, independent of the function's: `"pub"`, `"pub(crate)"`, `"pub(super)"`, `"pub(in path)"`, `"private"` (inherited), or `"none"` (no helpers at all); by default the function's |
/// | `redis = true` | a Redis second level shared by every process (feature `redis` of `cache-core`; see below) |
/// | `version = N` | with `redis = true`: an integer in the Redis keys (default 1); change it when what the function computes changes |
/// | `lease_secs = N` | with `redis = true` (and single flight): how long one process may compute a key for the others before one of them takes over (an integer literal, default 10) |
/// | `clock = <expr>` | a [`MockClock`](../cache_core/struct.MockClock.html) the function's map reads instead of the process clock, evaluated once, when the map is built: tests of expiry without sleeping (see below) |
///
/// ## Testing expiry with `clock`
///
/// A clock shared by the function and its tests: expiry is then exact and immediate,
/// with no sleeping. In a real crate, give the option only to tests:
/// `#[cfg_attr(test, ttl_cached(secs = 60, clock = CLOCK.clone()))]` next to
/// `#[cfg_attr(not(test), ttl_cached(secs = 60))]`. (Run as a doctest on
/// `cache_core::ttl_cached`.)
///
/// ```text
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
/// # Generated functions
///
/// Next to `fetch_user`, with its visibility unless `helpers = "…"` says otherwise
/// (inside an `impl` block: associated functions of the same `impl`). A library that
/// memoizes a `pub fn` can keep them to itself with `helpers = "pub(crate)"`, or not
/// generate them with `helpers = "none"`. For an `async fn`, `_uncached` and `_refresh` are
/// `async`; for an `unsafe fn`, they are `unsafe` (they run the body), while
/// `_invalidate`, `_clear` and `_cache`, which never run it, are safe to call:
///
/// | function | what it does |
/// |---|---|
/// | `fetch_user_invalidate(<same parameters>) -> bool` | removes that key's entry; `true` if one was live |
/// | `fetch_user_clear()` | removes every entry |
/// | `fetch_user_cache() -> &'static TtlMap<K, V>` | the map, for `len()`, `stats()`, `sweep()` |
/// | `fetch_user_uncached(<same parameters>) -> R` | runs the body, bypassing the cache |
/// | `fetch_user_refresh(<same parameters>) -> R` | runs the body and stores the fresh result |
/// | `fetch_user_redis_stats() -> RedisStats` | with `redis = true`: hits in-process and from Redis, computations, Redis errors, whether Redis is in use |
///
/// `_invalidate`, `_uncached` and `_refresh` take the same receiver as the function;
/// `_clear` and `_cache` take none (the cache is shared by all instances):
/// `Repo::load_clear()`. The function keeps its name, signature, attributes, doc
/// comments and visibility.
///
/// # The key
///
/// Without `key`, the key is the tuple of all parameters, each by owned value: `&str`
/// becomes `String`, `&[T]` becomes `Vec<T>`, `&T` becomes `<T as ToOwned>::Owned`,
/// and an owned `T` stays `T`. So `fetch_user_cache()` above is a
/// `&'static TtlMap<(u64, String), User>`. Parameters must be `Hash + Eq`, and their
/// owned forms `Send + Sync + 'static`.
///
/// A hit allocates nothing: the key is hashed and compared in its borrowed form
/// (`(&u64, &str)`), and the owned key is built only on a miss.
///
/// With `key = <expr>`, the key is the value of the expression, evaluated with the
/// parameters in scope before the body runs. It must be an owned value
/// (`Hash + Eq + Send + Sync + 'static`), and must not move a parameter that the body
/// needs: clone what you use (`key = name.clone()`). Its type cannot be written by the
/// macro, so `_cache()` returns `&'static TtlMap<impl Hash + Eq + Send + Sync + 'static, V>`,
/// which offers `len()`, `stats()`, `sweep()` and `clear()`.
///
/// ```text
/// #[ttl_cached(secs = 60, key = id)]             // `region` does not change the result
/// fn price(id: u64, region: &str) -> u64 { … }
/// ```
///
/// # Methods
///
/// The cache is one static, shared by every instance. A method (any receiver: `&self`,
/// `self: Arc<Self>`…) must therefore say with `key` which part of `self` matters:
///
/// ```text
/// impl Repo {
///     #[ttl_cached(secs = 30, key = (self.tenant.clone(), id))]
///     pub fn load(&self, id: u64) -> Record { … }
/// }
///
/// repo.load(7);
/// repo.load_invalidate(7);
/// Repo::load_clear();
/// ```
///
/// A method without `key` is a compile error that says so. In a generic `impl`, the
/// key and the return type must not depend on its type parameters.
///
/// An attribute cannot see the `impl` around it, so the macro recognizes an associated
/// function by its receiver, or by `Self` in its signature or body (`-> Self`,
/// `Self::other()`). For an associated function with neither, put
/// `#[ttl_cached_impl]` on the `impl` block, which tells it.
///
/// ## Trait impls: `#[ttl_cached_impl]`
///
/// A trait impl may hold only the trait's items, not the helpers: put
/// [`macro@ttl_cached_impl`] on the block. The methods stay in the trait impl and
/// memoize; their helpers become inherent functions of the type:
///
/// ```text
/// #[ttl_cached_impl]
/// impl Store for Db {
///     #[ttl_cached(secs = 20, key = id)]
///     fn get(&self, id: u64) -> Row { … }
/// }
///
/// db.get(7);
/// db.get_invalidate(7);
/// Db::get_cache().stats();
/// ```
///
/// Without it, a `#[ttl_cached]` method in a trait impl compiles only with
/// `helpers = "none"`: then everything generated for it is inside its body (items and
/// closures there), and nothing is next to it. (That needs the parameter and return
/// types not to name `Self`, and no `redis = true`; otherwise the hidden items stay
/// next to the method and the attribute on the block is needed.) With helpers, a bare
/// `#[ttl_cached]` in a trait impl fails: each helper is "not a member of trait".
///
/// # Generic functions
///
/// A generic function has one map per instantiation of its type parameters, and its
/// helpers take the same type parameters:
///
/// ```text
/// #[ttl_cached(secs = 60)]
/// fn parse<T: FromStr + Clone + Send + Sync + 'static>(s: &str) -> Option<T> {
///     s.parse().ok()
/// }
///
/// parse::<u32>("7");              // runs the body
/// parse::<u64>("7");              // another map: runs the body too
/// parse_cache::<u32>().stats();   // the `u32` map
/// parse_invalidate::<u64>("7");
/// ```
///
/// - The maps are told apart by the `TypeId` of the type parameters, so they must be
///   `'static` (a missing bound is one error, at the parameter). Parameter and return
///   types that use them follow the usual rules (`Hash + Eq` key parts, a
///   `Clone + Send + Sync + 'static` value).
/// - Lifetime parameters are fine where they stay out of the key and the value
///   (`fn first<'a, T>(items: &'a [T]) -> Option<T>`: the key is a `Vec<T>`).
/// - A hit finds its instantiation's map without a lock (one atomic load and a
///   `TypeId` comparison for each of the first 8 instantiations used, under a read
///   lock beyond them), then costs what a non-generic hit does.
/// - Const generic parameters are refused (make the value a parameter), and so is
///   `redis = true`: its keys would not tell the instantiations apart.
///
/// # The value
///
/// The return type must be `Clone + Send + Sync + 'static`. Values are cloned on every
/// hit: return `Arc<T>` for large values.
///
/// A function whose return type's last path segment is `Result` caches only `Ok`
/// values (the `Ok` type must be cloneable, the error type need not be), unless
/// `cache_err = true`; one whose return type is `Option` caches only `Some`, unless
/// `cache_none = true`. `io::Result<T>` and other aliases named `Result` work; an alias
/// with another name (`type Lookup = Result<u64, Error>`) is a plain value, cached
/// whether `Ok` or `Err`.
///
/// # `redis = true`: one memo for every process
///
/// With `cache-core`'s `redis` feature, a function with `redis = true` reads Redis
/// after its in-process map misses, and writes what it computes there (`SET … PX`
/// with its TTL), so a result computed by one process is served to all of them. An
/// in-process hit does no I/O; a value read from Redis is kept in-process no longer
/// than it still lives there. Connect once with `cache_core::redis::connect(url)` (or
/// set `REDIS_URL`); without either, the function is a plain local one.
///
/// ```text
/// #[ttl_cached(secs = 300, redis = true, version = 2)]
/// fn exchange_rate(from: &str, to: &str) -> Result<f64, RateError> { … }
/// ```
///
/// - Parameters (or the `key` expression) must also be `serde::Serialize`, and the
///   cached value `Serialize + DeserializeOwned`: a missing bound is one error at the
///   parameter or the return type.
/// - `_invalidate` deletes the Redis entry, `_clear` starts a new generation (one
///   `INCR`), `_refresh` writes both levels (those three send to Redis without waiting
///   for its answer, and are made good once Redis is back if they are lost),
///   `_uncached` touches neither. Every other process drops its in-process copy
///   within milliseconds, as it does when any client changes or deletes the entry.
/// - With single flight, processes that miss one key at once run the body once: the
///   first takes a lease in Redis (for `lease_secs`), the others wait for its result.
/// - `refresh = true` slides the Redis entry's TTL when a process reads it from Redis
///   and less than half of it is left (in-process hits slide the in-process entry
///   only: they do no I/O).
/// - `capacity` bounds the in-process map only; `cache_err`, `cache_none`, `key`,
///   methods and `async fn` work as without Redis.
/// - Redis is never a single point of failure: a caller waits for it at most the
///   command timeout (100 ms by default), never sees a Redis error, and a failure
///   opens a circuit breaker. See `cache_core::redis` for keys, values and failures.
///
/// # Concurrency
///
/// - Single flight, by default: concurrent misses of one key run the body once; the
///   other callers wait and receive a clone of its result. Different keys never wait
///   for each other. If the body panics, the panic reaches its caller and one of the
///   waiters runs the body instead; no lock is poisoned. If the result is not stored
///   (an `Err`), waiters run the body themselves.
/// - No lock is held while the body runs, so recursive functions work:
///
/// ```text
/// #[ttl_cached(secs = 60)]
/// fn fib(n: u32) -> u128 {
///     if n < 2 { n as u128 } else { fib(n - 1) + fib(n - 2) }
/// }
/// assert_eq!(fib(150), 9969216677189303386214405760200);
/// ```
///
/// # `async fn`
///
/// `async fn` and async methods are cached the same way, with every option. The
/// function stays an `async fn` with the same signature; `_uncached` and `_refresh`
/// are `async` too, while `_invalidate`, `_clear` and `_cache` stay plain functions.
///
/// ```text
/// #[ttl_cached(secs = 30)]
/// async fn fetch_user(id: u64, region: &str) -> Result<User, Error> {
///     http::get_user(id, region).await      // runs once per (id, region) per 30 s
/// }
///
/// let user = fetch_user(7, "eu").await?;   // runs the body
/// let again = fetch_user(7, "eu").await?;  // a hit: ready at once
/// fetch_user_invalidate(7, "eu");          // not async
/// let fresh = fetch_user_refresh(7, "eu").await?;
/// ```
///
/// - **A hit awaits nothing**: the future is ready at its first poll.
/// - **Single flight across tasks**: concurrent misses of one key run the body once;
///   the other callers *await* its result, they never block a thread, so this works on
///   a single-threaded runtime too. No lock is held across an `.await`.
/// - **Cancellation**: if the future running the body is dropped (its task aborted,
///   a timeout elapsed), nothing is stored and a waiting caller runs the body itself;
///   no waiter hangs.
/// - **Panics** reach the caller whose body panicked; waiters retry, as in the sync form.
///   `Err` and `None` follow the same `cache_err` / `cache_none` rules.
/// - **`Send`**: the future is `Send` when the body's future is, so it can be given to
///   `tokio::spawn`; a body that holds an `Rc` across an `.await` still compiles, and
///   its future is simply not `Send`. Like any `async fn`, the future borrows its
///   reference arguments (`&str`).
/// - **Any runtime**: the generated code names no runtime; it needs no timer and spawns
///   nothing.
/// - **Recursion** needs `Box::pin(fib(n - 1)).await`, as any recursive `async fn` does.
///
/// # Compile errors
///
/// Misuse is an error at the token that is wrong, for example:
///
/// - a missing TTL, two TTL options, `secs = 0`, a non-integer `secs`;
/// - an unknown option (the error suggests the closest name, and a misspelled option
///   is not also reported missing), an option given twice;
/// - a const generic parameter, a type parameter that is not `'static` (the error
///   suggests the bound), an `impl Trait` or `&mut` parameter, a `const fn`, an
///   `extern` function; `redis = true` on a generic function;
/// - a method or a pattern parameter without `key`;
/// - `#[ttl_cached_impl]` on something other than an `impl` block, or with options;
/// - a parameter that is not `Hash + Eq` (`f64`): the error points at that parameter;
/// - a `key` expression whose value is not `Hash + Eq + Send + Sync + 'static`: it
///   points at the expression;
/// - a return type that is not `Clone + Send + Sync + 'static`: it points at the return
///   type; with `cache_err = true`, it says that `cache_err` is why the error type must
///   be `Clone` too;
/// - `redis = true` without `cache-core`'s `redis` feature (the error says how to turn
///   it on), a parameter or value that is not serde-able with `redis = true`, `version`
///   or `lease_secs` without `redis = true`, `lease_secs` with `single_flight = false`.
///
#[proc_macro_attribute]
pub fn ttl_cached(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::ttl_cached(args.into(), item.into()).into()
}

/// Lets `#[ttl_cached]` methods live in a trait impl: put it on the `impl` block.
///
/// ```text
/// use cache_core::{ttl_cached, ttl_cached_impl};
///
/// #[ttl_cached_impl]
/// impl Store for Db {
///     #[ttl_cached(secs = 20, key = id)]
///     fn get(&self, id: u64) -> Row { … }
/// }
///
/// db.get(7);                 // runs the body
/// db.get(7);                 // a hit
/// db.get_invalidate(7);      // the helpers are inherent functions of `Db`
/// Db::get_cache().stats();
/// ```
///
/// A trait impl may only hold the trait's items, so a `#[ttl_cached]` method cannot put
/// its helpers next to itself there. This attribute expands the `#[ttl_cached]` methods
/// of the block: each method stays in the trait impl, and everything else generated for
/// it (the helpers, with the visibility `helpers = "…"` gives them, and the hidden
/// items the method calls) goes to an inherent `impl Db` with the block's generics and
/// `cfg`s. The options are those of `#[ttl_cached]`, given to each method.
///
/// - An associated function without receiver works too (`fn open(path: &str) -> Self`,
///   or one that does not mention `Self` at all).
/// - The body moves to `<name>_uncached` in the inherent `impl`: there the trait's
///   associated types and constants must be written `<Self as Store>::Item`, not
///   `Self::Item`, and the trait must be in scope (it is where the impl names it).
/// - The type must be one of this crate (an inherent `impl` of another crate's type is
///   refused, at the type), and two trait impls of one type must not both cache a
///   method of the same name (their helpers would collide).
/// - On an inherent `impl` it is allowed, and changes nothing but this: an associated
///   function that does not mention `Self` is recognized as one.
/// - The `#[ttl_cached]` attributes must be written as such (`#[ttl_cached(...)]` or
///   `#[cache_core::ttl_cached(...)]`), not inside `cfg_attr`.
///
/// Without this attribute, a `#[ttl_cached]` method in a trait impl compiles only with
/// `helpers = "none"` (see "Trait impls" on `ttl_cached`): add `#[ttl_cached_impl]` to
/// the block to have helpers.
#[proc_macro_attribute]
pub fn ttl_cached_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    impl_block::ttl_cached_impl(args.into(), item.into()).into()
}
