//! Compile-time behaviour of `#[ttl_cached]`: what compiles (`ui/pass`), and the one
//! error, at the right token, for each misuse (`ui/fail`). The cases of `redis = true`
//! depend on cache-core's `redis` feature: `ui/no-redis-feature` runs without it (the
//! default: `cargo test`), `ui/redis` with it (`cargo test -p cache-tests --features
//! redis`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
    #[cfg(not(feature = "redis"))]
    cases.compile_fail("ui/no-redis-feature/*.rs");
    #[cfg(feature = "redis")]
    {
        cases.pass("ui/redis/pass/*.rs");
        cases.compile_fail("ui/redis/fail/*.rs");
    }
}
