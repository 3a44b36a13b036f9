//! Recursive cached functions: no lock is held while the body runs, so the body may
//! call the function again (for other keys) without deadlock.

use cache_core::ttl_cached;
use std::sync::atomic::{AtomicUsize, Ordering};

static FIB_RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 60)]
fn fib(n: u32) -> u128 {
    FIB_RUNS.fetch_add(1, Ordering::SeqCst);
    if n < 2 {
        u128::from(n)
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

#[test]
fn a_recursive_function_is_memoized_without_deadlock() {
    assert_eq!(fib(150), 9_969_216_677_189_303_386_214_405_760_200);
    assert_eq!(FIB_RUNS.load(Ordering::SeqCst), 151, "each n computed once");
    assert_eq!(fib_cache().len(), 151);
}

struct Graph;

impl Graph {
    /// Paths from `node` to 0 when each step goes down by 1 or 2.
    #[ttl_cached(secs = 60, key = node)]
    fn paths(&self, node: u32) -> u64 {
        match node {
            0 | 1 => 1,
            _ => self.paths(node - 1) + self.paths(node - 2),
        }
    }
}

#[test]
fn a_recursive_method_is_memoized_without_deadlock() {
    assert_eq!(Graph.paths(90), 4_660_046_610_375_530_309);
    assert_eq!(Graph::paths_cache().len(), 91);
}
