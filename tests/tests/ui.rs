//! Compile-time behaviour of `#[ttl_cached]`: what compiles (`ui/pass`), and the one
//! error, at the right token, for each misuse (`ui/fail`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
