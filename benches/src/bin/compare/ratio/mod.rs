//! Hit ratio of capacity-bounded caches (issue 18): the share of requests each store
//! answers from what it kept, on the same deterministic request streams at the same
//! capacity; and how many requests per second it serves doing so.
//!
//! A request is what a cache in front of a slow source does: `get(key)`, and on a miss
//! `insert(key, key)`. Every store with a TTL gets one of an hour, so only the capacity
//! decides what is kept. The streams ([`stream`]) are Zipf-distributed popularity at
//! four skews and three capacities, Zipf with one-off scans (scan resistance), a hot set
//! that moves (recency), and a loop slightly larger than the cache (LRU's worst case).
//!
//! This module owns the workloads, the replay, and the two tables; [`bounded`] owns
//! the stores.

mod bounded;
mod stream;

use crate::plan::Plan;
use bounded::{for_each_bounded, BoundedVisitor};
use cache_bench::alloc_count::thread_live_bytes;
use cache_bench::chart::HitRatios;
use cache_bench::measure::{per_thread_elapsed, Rounds};
use cache_bench::report::{format_figure, Column, Ratios, Results, Unit};
use cache_bench::Role;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Hit-ratio differences this small (in percentage points) are ties: the tables
/// print one decimal, and moka's and quick_cache's randomly seeded hashers move
/// their ratios by about this much from run to run.
pub const TIE_POINTS: f64 = 0.05;

pub use bounded::{Bounded, CacheCoreBounded, CachedLruTtl, LruCrate, QuickCacheBounded};

/// Requests per stream of the hit-ratio table in a full run; a quarter with `--quick`.
/// Enough that a cache of 100,000 entries spends most of the stream full; 2,000,000
/// took the scenario to 90 s on the shared 2-core machine, most of it in moka and
/// cache-core at about 1 µs a miss.
const REQUESTS: u64 = 1_500_000;
/// Requests per replay of the speed table in a full run; a quarter with `--quick`. The
/// slowest stores serve under a million requests per second here, and the table takes
/// 3 replays per store per round: a longer stream would double the scenario's time.
const SPEED_REQUESTS: u64 = 250_000;
/// Distinct keys behind each Zipf distribution.
const KEYS: u64 = 1_000_000;
/// The skews of the plain Zipf rows (`s`: rank `k` is requested in proportion to
/// `k^-s`; the higher, the more the requests go to a few keys).
const ZIPF_EXPONENTS: [f64; 4] = [0.6, 0.8, 1.0, 1.2];
/// The capacities of the plain Zipf rows: 0.1%, 1% and 10% of the keys.
const ZIPF_CAPACITIES: [usize; 3] = [1_000, 10_000, 100_000];
/// The capacity of the scan, shifting and loop rows, and of the speed table.
const CAPACITY: usize = 10_000;
/// The skew of the scan and shifting rows.
const MIXED_EXPONENT: f64 = 0.9;
/// Zipf requests between two scans...
const BETWEEN_SCANS: usize = 50_000;
/// ...and the keys of each scan: twice the capacity, so that a cache that admits
/// every new key is flushed by each scan.
const SCAN_LENGTH: usize = 20_000;
/// Requests per phase of the shifting hot set.
const PHASE_LENGTH: usize = 200_000;
/// Keys of the loop: 10% more than the capacity.
const LOOP_KEYS: u64 = CAPACITY as u64 * 11 / 10;
/// The skew of the speed table's stream (at [`CAPACITY`]).
const SPEED_EXPONENT: f64 = 0.8;
/// Every stream is drawn from this seed: the same requests in every run.
const SEED: u64 = 18;
/// Requests between two [`Bounded::catch_up`] calls of each thread.
const CATCH_UP_EVERY: usize = 1_024;

/// The capacity of the memory table in a full run (a tenth with `--quick`): issue 18's
/// "≤ 64 bytes per entry at 1M `u64 → u64` entries, policy metadata included".
pub const MEMORY_CAPACITY: u64 = 1_000_000;

/// Column of the bytes per entry in the memory table.
pub const BYTES_PER_ENTRY: usize = 0;

/// Column of the 1-thread requests per second in the speed table.
pub const ONE_THREAD: usize = 0;
/// Column of the 2-thread requests per second (both threads together).
pub const TWO_THREADS: usize = 1;

/// One row of the hit-ratio table: a workload at a capacity, replayed into every store.
#[derive(Clone, Debug)]
pub struct Row {
    /// What the stream is, e.g. "Zipf s=0.8".
    pub workload: String,
    /// The capacity every store was given.
    pub capacity: usize,
    /// Hit ratio in percent, one per store in [`Figures::stores`] order.
    pub percents: Vec<f64>,
    /// Entries each store held at the end of the stream.
    pub held: Vec<usize>,
}

impl Row {
    /// "Zipf s=0.8, 10,000": the row's label in the targets and the chart.
    pub fn label(&self) -> String {
        format!("{}, {}", self.workload, thousands(self.capacity as u64))
    }
}

/// Everything the scenario measured.
#[derive(Clone, Debug)]
pub struct Figures {
    /// The stores, in column order.
    pub stores: Vec<(&'static str, Role)>,
    /// The hit-ratio rows.
    pub rows: Vec<Row>,
    /// Requests per second on 1 and 2 threads, one row per store.
    pub speed: Results,
    /// Bytes per entry of each store kept full by evictions.
    pub memory: Results,
    /// Requests per stream.
    requests: usize,
}

impl Figures {
    fn column(&self, name: &str) -> Option<usize> {
        self.stores.iter().position(|&(store, _)| store == name)
    }

    fn ours(&self) -> Option<usize> {
        self.stores.iter().position(|&(_, role)| role == Role::Ours)
    }

    /// The highest peer hit ratio of `row`.
    fn best_peer(&self, row: &Row) -> Option<f64> {
        let peers = self.stores.iter().zip(&row.percents);
        peers
            .filter(|((_, role), _)| *role == Role::Peer)
            .map(|(_, &percent)| percent)
            .max_by(f64::total_cmp)
    }

    /// The row where ours is furthest behind the best peer: the difference in
    /// percentage points (negative: behind) and the row's label.
    pub fn worst_against_best_peer(&self) -> Option<(f64, String)> {
        let ours = self.ours()?;
        self.worst_row(|row| Some(row.percents[ours] - self.best_peer(row)?))
    }

    /// Ours minus `name`'s hit ratio on the worst row, over the rows where some store
    /// beats `name` by more than [`TIE_POINTS`]: where every store gets the same ratio
    /// (a cache large enough that only first requests miss), nobody can be ahead.
    pub fn worst_against_where_beatable(&self, name: &str) -> Option<(f64, String)> {
        let (ours, theirs) = (self.ours()?, self.column(name)?);
        self.worst_row(|row| {
            let best = row.percents.iter().copied().fold(f64::MIN, f64::max);
            (best - row.percents[theirs] > TIE_POINTS)
                .then(|| row.percents[ours] - row.percents[theirs])
        })
    }

    fn worst_row(&self, difference: impl Fn(&Row) -> Option<f64>) -> Option<(f64, String)> {
        self.rows
            .iter()
            .filter_map(|row| Some((difference(row)?, row.label())))
            .min_by(|(a, _), (b, _)| a.total_cmp(b))
    }

    /// Each store's hit ratios across the rows, for the chart.
    pub fn chart_series(&self) -> Vec<HitRatios> {
        let series = self.stores.iter().enumerate();
        series
            .map(|(column, &(name, _))| HitRatios {
                name: name.to_owned(),
                percents: self.rows.iter().map(|row| row.percents[column]).collect(),
            })
            .collect()
    }

    /// The rows' labels, for the chart.
    pub fn row_labels(&self) -> Vec<String> {
        self.rows.iter().map(Row::label).collect()
    }

    /// Both tables in Markdown: hit ratio by workload, then speed by store.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("### Hit ratio of capacity-bounded caches\n\n");
        let _ = writeln!(
            out,
            "Each request: `get(key)`, and on a miss `insert(key, key)`; {} requests per \
             stream, 1 thread, one store built empty per row (TTL 1 hour where the store has \
             one, so only the capacity counts). Zipf rows: {} keys, scrambled so that \
             popularity has nothing to do with a key's value. Scans: Zipf s={MIXED_EXPONENT} \
             and, after every {} of its requests, {} keys never requested again (counted as \
             requests; they miss everywhere). Shifting: Zipf s={MIXED_EXPONENT} over a new \
             set of {} keys every {} requests. Loop: {} keys in the same order again and \
             again. The streams are deterministic (seeded splitmix64), so the figures are \
             one replay each; moka and quick_cache seed their hashers at random, so theirs \
             move a little from run to run (moka's loop row by a few points). moka's pending \
             tasks run every {} requests.",
            thousands(self.requests as u64),
            thousands(KEYS),
            thousands(BETWEEN_SCANS as u64),
            thousands(SCAN_LENGTH as u64),
            thousands(KEYS),
            thousands(PHASE_LENGTH as u64),
            thousands(LOOP_KEYS),
            thousands(CATCH_UP_EVERY as u64),
        );
        out.push('\n');
        let mut header = vec!["workload".to_owned(), "capacity".to_owned()];
        header.extend(
            self.stores
                .iter()
                .map(|&(name, _)| format!("{name}, hit %")),
        );
        header.push("ours − best peer".to_owned());
        push_row(&mut out, &header);
        let mut rule = vec![":--".to_owned()];
        rule.extend((1..header.len()).map(|_| "--:".to_owned()));
        push_row(&mut out, &rule);
        for row in &self.rows {
            let mut cells = vec![row.workload.clone(), thousands(row.capacity as u64)];
            let percents = row.percents.iter();
            cells.extend(percents.map(|&percent| format_figure(percent, Unit::Percent)));
            let difference = self.ours().zip(self.best_peer(row));
            cells.push(difference.map_or_else(
                || "–".to_owned(),
                |(ours, best)| points(row.percents[ours] - best),
            ));
            push_row(&mut out, &cells);
        }
        let _ = writeln!(out, "\n{}\n", self.held_note());
        out.push_str(&self.speed.to_markdown());
        out.push_str(&self.memory.to_markdown());
        out
    }

    /// The most entries each store held at the end of a stream, as a share of the
    /// capacity: a store holding more than it was given would win hits it should not.
    fn held_note(&self) -> String {
        let shares = self.stores.iter().enumerate().map(|(column, &(name, _))| {
            let most = self.rows.iter().map(|row| {
                let held = row.held[column] as f64 / row.capacity as f64;
                (held * 100.0 * 10.0).round() / 10.0
            });
            format!("{name} {}%", most.fold(0.0, f64::max))
        });
        let shares: Vec<String> = shares.collect();
        format!(
            "Entries held at the end of a stream, at most (over the rows), as a share of the \
             capacity: {}.",
            shares.join(", ")
        )
    }
}

/// `+1.5 pp` / `−12.0 pp`.
pub fn points(difference: f64) -> String {
    let sign = if difference < 0.0 { "−" } else { "+" };
    format!("{sign}{:.1} pp", difference.abs())
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn push_row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// Replays `stream` into `store` from position `start`, wrapping around, as the
/// scenario defines a request; the number of hits. Runs the store's deferred work every
/// [`CATCH_UP_EVERY`] requests: a reader of the figures gets the policy the store
/// really applies, not a backlog.
fn replay<B: Bounded>(store: &B, stream: &[u64], start: usize) -> u64 {
    let mut hits = 0;
    for part in [&stream[start..], &stream[..start]] {
        for requests in part.chunks(CATCH_UP_EVERY) {
            for &key in requests {
                match store.get(key) {
                    Some(value) => {
                        debug_assert_eq!(value, key, "{} returned another key's value", B::NAME);
                        hits += 1;
                    }
                    None => store.insert(key, key),
                }
            }
            store.catch_up();
        }
    }
    hits
}

/// One hit-ratio row: every store replays the stream once.
struct RatioRow<'a> {
    stream: &'a [u64],
    capacity: usize,
    stores: Vec<(&'static str, Role)>,
    percents: Vec<f64>,
    held: Vec<usize>,
}

impl BoundedVisitor for RatioRow<'_> {
    fn visit<B: Bounded>(&mut self) {
        let store = B::build(self.capacity);
        let hits = replay(&store, self.stream, 0);
        store.catch_up();
        self.stores.push((B::NAME, B::ROLE));
        self.percents
            .push(100.0 * hits as f64 / self.stream.len() as f64);
        self.held.push(store.len());
    }
}

/// One round of the speed table: every store replays the stream on 1 thread, then on
/// 2 threads sharing one store, each from a fresh, empty store.
struct SpeedRound<'a> {
    stream: &'a [u64],
    rounds: &'a mut Rounds,
}

impl BoundedVisitor for SpeedRound<'_> {
    fn visit<B: Bounded>(&mut self) {
        let requests = self.stream.len();
        let store = B::build(CAPACITY);
        let started = Instant::now();
        let hits = replay(&store, self.stream, 0);
        let one_thread = requests as f64 / started.elapsed().as_secs_f64();
        drop(store);

        // Both threads replay the whole stream, half a stream apart (as the hit
        // scenario's threads walk the hot keys), so they seldom ask for the same key at
        // the same moment but share one popularity.
        let store = B::build(CAPACITY);
        let shared_hits = AtomicU64::new(0);
        let per_thread = per_thread_elapsed(
            2,
            |_| {},
            |thread| {
                let hits = replay(&store, self.stream, thread * requests / 2);
                shared_hits.fetch_add(hits, Ordering::Relaxed);
            },
        );
        let two_threads = 2.0 * requests as f64 / per_thread.as_secs_f64();
        let percent = |hits: u64, of: usize| 100.0 * hits as f64 / of as f64;
        self.rounds.record(
            B::NAME,
            B::ROLE,
            &[
                Some(one_thread / 1e6),
                Some(two_threads / 1e6),
                Some(percent(hits, requests)),
                Some(percent(shared_hits.into_inner(), 2 * requests)),
            ],
        );
    }
}

/// The memory table: each store built at one capacity and fed twice as many distinct
/// keys, so that it is full and has been evicting (its policy's queues, ghosts and
/// sketches grown to their working size).
struct MemoryRow {
    capacity: u64,
    results: Results,
}

impl BoundedVisitor for MemoryRow {
    fn visit<B: Bounded>(&mut self) {
        // This thread's bytes: other threads (a sweeper freeing an earlier scenario's
        // maps) must not be subtracted from ours.
        let before = thread_live_bytes();
        let store = B::build(self.capacity as usize);
        for key in 0..2 * self.capacity {
            store.insert(key, key);
            if key % CATCH_UP_EVERY as u64 == 0 {
                store.catch_up();
            }
        }
        store.catch_up();
        let held = thread_live_bytes() - before;
        let bytes_per_entry = held as f64 / store.len().max(1) as f64;
        self.results.rows.push(cache_bench::report::Measured {
            name: B::NAME,
            role: B::ROLE,
            figures: vec![Some(bytes_per_entry)],
        });
    }
}

/// Replays `stream` at `capacity` into every store: one row of the table.
fn ratio_row(workload: String, stream: &[u64], capacity: usize) -> Row {
    let mut row = RatioRow {
        stream,
        capacity,
        stores: Vec::new(),
        percents: Vec::new(),
        held: Vec::new(),
    };
    for_each_bounded(&mut row);
    Row {
        workload,
        capacity,
        percents: row.percents,
        held: row.held,
    }
}

/// The stores in visiting order.
fn store_names() -> Vec<(&'static str, Role)> {
    struct Names(Vec<(&'static str, Role)>);
    impl BoundedVisitor for Names {
        fn visit<B: Bounded>(&mut self) {
            self.0.push((B::NAME, B::ROLE));
        }
    }
    let mut names = Names(Vec::new());
    for_each_bounded(&mut names);
    names.0
}

/// Runs the scenario: every workload row for every store, then the speed rounds.
pub fn run(plan: &Plan) -> Figures {
    let requests = plan.scaled(REQUESTS) as usize;
    let mut rows = Vec::new();
    for exponent in ZIPF_EXPONENTS {
        let stream = stream::zipf(requests, KEYS, exponent, SEED);
        for capacity in ZIPF_CAPACITIES {
            rows.push(ratio_row(
                format!("Zipf s={exponent:.1}"),
                &stream,
                capacity,
            ));
        }
    }
    let scans = stream::zipf_with_scans(
        requests,
        KEYS,
        MIXED_EXPONENT,
        BETWEEN_SCANS,
        SCAN_LENGTH,
        SEED,
    );
    rows.push(ratio_row("Zipf + scans".to_owned(), &scans, CAPACITY));
    drop(scans);
    let shifting = stream::shifting_hot_set(requests, KEYS, MIXED_EXPONENT, PHASE_LENGTH, SEED);
    rows.push(ratio_row(
        "shifting hot set".to_owned(),
        &shifting,
        CAPACITY,
    ));
    drop(shifting);
    let looping = stream::looping(requests, LOOP_KEYS);
    rows.push(ratio_row("loop".to_owned(), &looping, CAPACITY));
    drop(looping);

    // The same seed: the first requests of the hit-ratio table's stream of this skew.
    let speed_requests = plan.scaled(SPEED_REQUESTS) as usize;
    let stream = stream::zipf(speed_requests, KEYS, SPEED_EXPONENT, SEED);
    let mut rounds = Rounds::default();
    for _ in 0..plan.rounds {
        rounds.next_round();
        for_each_bounded(&mut SpeedRound {
            stream: &stream,
            rounds: &mut rounds,
        });
    }
    let columns = vec![
        Column::new("1 thread, M requests/s", Unit::Count, Ratios::None),
        Column::new("2 threads, M requests/s", Unit::Count, Ratios::None),
        Column::new("hit %, 1 thread", Unit::Percent, Ratios::None),
        Column::new("hit %, 2 threads", Unit::Percent, Ratios::None),
        Column::new("2 threads ÷ 1 thread", Unit::Count, Ratios::None),
    ];
    let mut speed = Results::new(
        format!(
            "Requests per second, Zipf s={SPEED_EXPONENT}, capacity {}",
            thousands(CAPACITY as u64)
        ),
        columns,
    );
    speed.rows = rounds.medians();
    for row in &mut speed.rows {
        let scaling = row.figure(TWO_THREADS).zip(row.figure(ONE_THREAD));
        row.figures.push(scaling.map(|(two, one)| two / one));
    }
    speed.notes.push(format!(
        "The first {} requests of the Zipf s={SPEED_EXPONENT} stream of the table above, \
         replayed into a store built empty, timed whole (the stream is generated \
         beforehand). 2 threads: both replay the whole stream into one shared store, half a \
         stream apart; the figure is both threads' requests over one thread's mean time. \
         Millions of requests per second (higher is better); median of {} rounds, the stores \
         taking turns within each round.",
        thousands(speed_requests as u64),
        plan.rounds
    ));
    let capacity = if plan.quick {
        MEMORY_CAPACITY / 10
    } else {
        MEMORY_CAPACITY
    };
    let column = Column::new(
        format!("bytes/entry at capacity {}", thousands(capacity)),
        Unit::Bytes,
        Ratios::Columns,
    );
    let mut memory = MemoryRow {
        capacity,
        results: Results::new(
            "Memory per `u64 → u64` entry of a full bounded store",
            vec![column],
        ),
    };
    for_each_bounded(&mut memory);
    memory.results.notes.push(format!(
        "Heap bytes held by a store built with capacity {} after {} distinct inserts (so \
         full, and evicting for as long again), counted by the binary's global allocator \
         for the thread that built and filled it, divided by the entries it holds; \
         allocator overhead not included. Policy metadata (queues, ghosts, frequency \
         sketches) included.",
        thousands(capacity),
        thousands(2 * capacity)
    ));
    Figures {
        stores: store_names(),
        rows,
        speed,
        memory: memory.results,
        requests,
    }
}

#[cfg(test)]
mod tests {
    use super::bounded::MokaBounded;
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(2_000_000), "2,000,000");
    }

    #[test]
    fn an_lru_hits_nothing_on_a_loop_larger_than_itself() {
        let stream = stream::looping(5_000, 110);
        let store = LruCrate::build(100);
        assert_eq!(replay(&store, &stream, 0), 0);
        assert_eq!(store.len(), 100);
    }

    #[test]
    fn an_lru_hits_everything_but_the_first_pass_of_a_loop_it_holds() {
        let stream = stream::looping(5_000, 100);
        let store = CachedLruTtl::build(100);
        assert_eq!(replay(&store, &stream, 0), 5_000 - 100);
    }

    #[test]
    fn every_store_keeps_about_its_capacity() {
        fn check<B: Bounded>(stream: &[u64]) {
            let store = B::build(1_000);
            replay(&store, stream, 0);
            store.catch_up();
            // quick_cache and moka approximate their bound; none may hold far more.
            assert!(store.len() <= 1_100, "{} holds {}", B::NAME, store.len());
        }
        let stream = stream::zipf(50_000, 100_000, 0.8, SEED);
        check::<CacheCoreBounded>(&stream);
        check::<MokaBounded>(&stream);
        check::<QuickCacheBounded>(&stream);
        check::<CachedLruTtl>(&stream);
        check::<LruCrate>(&stream);
    }

    #[test]
    fn a_replay_from_the_middle_wraps_around() {
        // Two passes over 10 keys, started at the second: it misses every key, then the
        // wrapped-around first pass hits every key.
        let stream = stream::looping(20, 10);
        let store = LruCrate::build(100);
        assert_eq!(replay(&store, &stream, 10), 10);
    }
}
