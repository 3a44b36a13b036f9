//! Criterion micro-benchmarks of the map operations, `u64 → u64`, on 1 and 2 threads,
//! for every [`Store`]: `get` hit, `get` miss, `insert` (overwriting a live key) and
//! `get_or_insert_with` hit.
//!
//! Run with `cargo bench -p cache-bench`; filter with criterion's usual argument, e.g.
//! `cargo bench -p cache-bench -- get_hit`. On 2 threads each thread times its own
//! loop ([`per_thread_elapsed`]), so the figure is the per-thread cost of one
//! operation while the other thread does the same.

use cache_bench::keys::{hot_key, ABSENT_KEYS, HOT_KEYS};
use cache_bench::measure::per_thread_elapsed;
use cache_bench::store::{for_each_store, Store, StoreVisitor};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;

/// Long enough that nothing expires during a run.
const TTL: Duration = Duration::from_secs(3600);

/// The operations measured.
#[derive(Clone, Copy, Debug)]
enum Op {
    GetHit,
    GetMiss,
    Insert,
    GetOrInsertHit,
}

impl Op {
    const ALL: [Op; 4] = [Op::GetHit, Op::GetMiss, Op::Insert, Op::GetOrInsertHit];

    fn name(self) -> &'static str {
        match self {
            Op::GetHit => "get_hit",
            Op::GetMiss => "get_miss",
            Op::Insert => "insert",
            Op::GetOrInsertHit => "get_or_insert_with_hit",
        }
    }

    /// `iterations` of this operation by thread `thread` on `store`.
    fn run<S: Store>(self, store: &S, thread: usize, iterations: u64) {
        for i in 0..iterations {
            let key = black_box(hot_key(i, thread));
            let found = match self {
                Op::GetHit => store.get(key),
                Op::GetMiss => store.get(ABSENT_KEYS + key),
                Op::Insert => {
                    store.insert(key, i);
                    None
                }
                Op::GetOrInsertHit => Some(store.get_or_insert_with(key, || key)),
            };
            black_box(found);
        }
    }
}

struct Benches<'a> {
    criterion: &'a mut Criterion,
}

impl StoreVisitor for Benches<'_> {
    fn visit<S: Store>(&mut self) {
        let store = S::build(TTL, HOT_KEYS as usize);
        for op in Op::ALL {
            for threads in [1, 2] {
                let mut group = self
                    .criterion
                    .benchmark_group(format!("{}/{threads} thread(s)", op.name()));
                group.bench_function(S::NAME, |bencher| {
                    bencher.iter_custom(|iterations| {
                        per_thread_elapsed(
                            threads,
                            // Every thread fills the hot keys: the thread-local limit
                            // needs it, the shared stores just overwrite them.
                            |_| (0..HOT_KEYS).for_each(|key| store.insert(key, key)),
                            |thread| op.run(&store, thread, iterations),
                        )
                    })
                });
                group.finish();
            }
        }
    }
}

fn map_operations(criterion: &mut Criterion) {
    for_each_store(&mut Benches { criterion });
}

criterion_group! {
    name = benches;
    // Short runs: 48 benchmarks must finish in a few minutes on a shared machine.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = map_operations
}
criterion_main!(benches);
