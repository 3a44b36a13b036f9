//! The shards' locks: reader–writer locks whose readers write only to memory of their
//! own thread's stripe, so that lookups running on different cores never make a cache
//! line travel between them.
//!
//! Why not `std::sync::RwLock`: it counts readers in its lock word, so every lookup
//! writes the one cache line that all readers of the shard share, and two threads
//! hitting the same shards take turns owning it. Measured on 2 cores, a hit then cost
//! each of 2 threads 2.5× what it cost one thread alone.
//!
//! How: every thread gets a stripe number. A reader adds itself to its stripe's reader
//! count for the shard, then checks the shard's writer flag; a writer raises the flag,
//! then waits until every stripe's count for the shard is zero. Both sides use `SeqCst`,
//! so a reader and a writer that race always see each other (Dekker's pattern): the
//! reader backs off, or the writer waits. A stripe's counts for all shards sit together
//! on lines of their own, so a map of 32 shards and 8 stripes spends 2 KiB on them.
//!
//! On one thread a read costs what std's costs (two atomic operations, on a line the
//! thread owns); a write costs one load more per stripe. Writers queue on a mutex per
//! shard, and readers that meet a writer wait on the same mutex after a short spin.
//!
//! This module must never hand out a `&mut T` while a reader is counted, nor a `&T`
//! while the writer flag is up; it holds the crate's only `unsafe`, checked by Miri
//! (`cargo +nightly miri test -p cache-core shard_locks`) and by the shuttle scenarios.

#![allow(unsafe_code)]

use crate::shim::{self, AtomicBool, AtomicUsize, Mutex, MutexGuard};
use std::cell::UnsafeCell;
use std::hint;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::PoisonError;

/// Bytes kept apart between data written by different threads: two 64-byte lines,
/// because x86 and recent ARM cores prefetch lines in adjacent pairs.
const LINE_BYTES: usize = 128;

/// Reader counts on one line.
const COUNTS_PER_LINE: usize = LINE_BYTES / std::mem::size_of::<usize>();

/// Spins before a reader that met a writer sleeps on the writer's mutex: writers hold a
/// shard for well under a microsecond, and sleeping costs more than that.
const READER_SPINS: u32 = if cfg!(feature = "shuttle") { 1 } else { 64 };

/// Spins before a writer waiting for readers starts yielding its time slice.
const WRITER_SPINS: u32 = if cfg!(feature = "shuttle") { 1 } else { 64 };

/// One line of reader counts of one stripe.
#[repr(align(128))]
struct CountLine([AtomicUsize; COUNTS_PER_LINE]);

impl CountLine {
    fn new() -> Self {
        CountLine(std::array::from_fn(|_| AtomicUsize::new(0)))
    }
}

/// One shard: its value, its writer flag and mutex, and data `E` kept beside it.
#[repr(align(128))]
struct Slot<T, E> {
    /// Up while a writer holds the shard or waits for its readers to leave.
    writer_active: AtomicBool,
    /// Held by the writer for as long as the flag is up; readers wait on it.
    writers: Mutex<()>,
    extra: E,
    value: UnsafeCell<T>,
}

/// A fixed array of values, each behind its own reader–writer lock, with data `E`
/// beside each that needs no lock.
pub(crate) struct ShardLocks<T, E> {
    slots: Box<[Slot<T, E>]>,
    /// `stripe_mask + 1` rows of `lines_per_row` lines: row `s` holds the reader counts
    /// of stripe `s`, one per shard.
    reader_counts: Box<[CountLine]>,
    lines_per_row: usize,
    stripe_mask: usize,
}

// SAFETY: the value of a slot is only reached through the guards. Several threads may
// hold `ReadGuard`s (`&T`) at once, so `T: Sync`; a `WriteGuard` (`&mut T`) may be taken
// on any thread, so `T: Send`. `E` is only ever shared.
unsafe impl<T: Send + Sync, E: Sync> Sync for ShardLocks<T, E> {}

impl<T, E> ShardLocks<T, E> {
    /// `shards` locks, each value from `new`, sized for `stripes` concurrent readers
    /// (rounded up to a power of two).
    pub(crate) fn new(shards: usize, stripes: usize, mut new: impl FnMut() -> (T, E)) -> Self {
        let stripes = stripes.max(1).next_power_of_two();
        let lines_per_row = shards.div_ceil(COUNTS_PER_LINE);
        ShardLocks {
            slots: (0..shards)
                .map(|_| {
                    let (value, extra) = new();
                    Slot {
                        writer_active: AtomicBool::new(false),
                        writers: Mutex::new(()),
                        extra,
                        value: UnsafeCell::new(value),
                    }
                })
                .collect(),
            reader_counts: (0..stripes * lines_per_row)
                .map(|_| CountLine::new())
                .collect(),
            lines_per_row,
            stripe_mask: stripes - 1,
        }
    }

    /// How many shards.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// How many stripes: the calling thread's is [`ReadGuard::stripe`].
    pub(crate) fn stripes(&self) -> usize {
        self.stripe_mask + 1
    }

    /// The data kept beside shard `shard`.
    #[inline]
    pub(crate) fn extra(&self, shard: usize) -> &E {
        &self.slots[shard].extra
    }

    #[inline]
    fn reader_count(&self, stripe: usize, shard: usize) -> &AtomicUsize {
        let line = stripe * self.lines_per_row + shard / COUNTS_PER_LINE;
        &self.reader_counts[line].0[shard % COUNTS_PER_LINE]
    }

    /// Shared access to shard `shard`. Waits while a writer holds it.
    #[inline]
    pub(crate) fn read(&self, shard: usize) -> ReadGuard<'_, T> {
        let slot = &self.slots[shard];
        let stripe = thread_number() & self.stripe_mask;
        let readers = self.reader_count(stripe, shard);
        loop {
            readers.fetch_add(1, SeqCst);
            if !slot.writer_active.load(SeqCst) {
                // SAFETY: this reader is counted, and was counted before it saw the
                // writer flag down (both `SeqCst`): any writer that raises the flag
                // from now on sees the count and waits until the guard is dropped, and
                // no writer held the flag up when we looked. So no `&mut T` exists
                // for as long as the guard lives.
                let value = unsafe { &*slot.value.get() };
                return ReadGuard {
                    value,
                    readers,
                    stripe,
                };
            }
            // Step aside before waiting, or the writer would wait for us.
            readers.fetch_sub(1, SeqCst);
            slot.wait_for_writer();
        }
    }

    /// Exclusive access to shard `shard`. Waits for the readers in it to leave and
    /// keeps new ones out until the guard is dropped.
    pub(crate) fn write(&self, shard: usize) -> WriteGuard<'_, T> {
        let slot = &self.slots[shard];
        let writers = slot.writers.lock().unwrap_or_else(PoisonError::into_inner);
        slot.writer_active.store(true, SeqCst);
        for stripe in 0..=self.stripe_mask {
            let readers = self.reader_count(stripe, shard);
            let mut spins = 0;
            // `SeqCst` pairs with the readers' increments; reading zero also acquires
            // their decrements, so their reads happen before our writes.
            while readers.load(SeqCst) != 0 {
                if spins < WRITER_SPINS {
                    spins += 1;
                    hint::spin_loop();
                } else {
                    // A reader was preempted while counted: let it run.
                    shim::yield_now();
                }
            }
        }
        // SAFETY: we hold the shard's writer mutex, so no other writer exists; the flag
        // is up, and every stripe's reader count was seen at zero after raising it, so
        // every reader has left and any new reader sees the flag and backs off without
        // touching the value. The guard lowers the flag only when dropped.
        let value = unsafe { &mut *slot.value.get() };
        WriteGuard {
            value,
            writer_active: &slot.writer_active,
            _writers: writers,
        }
    }
}

impl<T, E> Slot<T, E> {
    /// Returns once the writer that held this shard is likely gone.
    #[cold]
    fn wait_for_writer(&self) {
        for _ in 0..READER_SPINS {
            if !self.writer_active.load(Relaxed) {
                return;
            }
            hint::spin_loop();
        }
        // The writer holds the mutex while its flag is up: sleep until it lets go.
        drop(self.writers.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Shared access to one shard's value; the shard's writers wait until it is dropped.
pub(crate) struct ReadGuard<'a, T> {
    value: &'a T,
    readers: &'a AtomicUsize,
    stripe: usize,
}

impl<T> ReadGuard<'_, T> {
    /// The stripe of the thread that took the guard: an index below
    /// [`ShardLocks::stripes`] that no other running thread is likely to share, for
    /// counters that should not be written by several cores.
    #[inline]
    pub(crate) fn stripe(&self) -> usize {
        self.stripe
    }
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.value
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Releases our reads of the value to the next writer, which acquires the count.
        // `SeqCst` like every access of the protocol (an `x86` RMW costs the same
        // either way), so that it holds in the plain SC subset of the memory model.
        self.readers.fetch_sub(1, SeqCst);
    }
}

/// Exclusive access to one shard's value.
pub(crate) struct WriteGuard<'a, T> {
    value: &'a mut T,
    writer_active: &'a AtomicBool,
    /// Dropped after the flag is lowered (fields drop after `Drop::drop`).
    _writers: MutexGuard<'a, ()>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.value
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.value
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // A reader that sees the flag down sees our writes. `SeqCst`, not `Release`:
        // mixing orderings on the flag is where Dekker arguments go wrong (and where
        // Miri's model of them did, rust-lang/miri#5104); one store per write is cheap.
        self.writer_active.store(false, SeqCst);
    }
}

/// Live threads get distinct small numbers, reused after a thread exits, so that the
/// threads running at any moment spread over different stripes.
mod thread_numbers {
    use crate::shim;
    use std::cell::Cell;
    use std::sync::{Mutex, PoisonError};

    /// Numbers handed out so far, and those given back by exited threads.
    static NUMBERS: Mutex<(usize, Vec<usize>)> = Mutex::new((0, Vec::new()));

    /// What a thread without a number reads.
    const UNASSIGNED: usize = usize::MAX;

    shim::thread_local! {
        /// A plain `Cell` with a `const` initialiser: reading it is one load, with no
        /// lazy-initialisation check, on every lookup.
        static NUMBER: Cell<usize> = const { Cell::new(UNASSIGNED) };
        /// Gives the number back when the thread exits.
        static OWNER: Owner = const { Owner(Cell::new(UNASSIGNED)) };
    }

    struct Owner(Cell<usize>);

    impl Drop for Owner {
        fn drop(&mut self) {
            let number = self.0.get();
            if number != UNASSIGNED {
                let _ = NUMBER.try_with(|cell| cell.set(UNASSIGNED));
                let mut numbers = NUMBERS.lock().unwrap_or_else(PoisonError::into_inner);
                numbers.1.push(number);
            }
        }
    }

    /// The calling thread's number. A thread whose thread-locals are being destroyed (a
    /// lookup from another thread-local's `Drop`) uses 0: slower, never wrong.
    #[inline]
    pub(super) fn current() -> usize {
        match NUMBER.try_with(Cell::get) {
            Ok(UNASSIGNED) => assign(),
            Ok(number) => number,
            Err(_) => 0,
        }
    }

    #[cold]
    fn assign() -> usize {
        let number = {
            let mut numbers = NUMBERS.lock().unwrap_or_else(PoisonError::into_inner);
            let (next, free) = &mut *numbers;
            free.pop().unwrap_or_else(|| {
                *next += 1;
                *next - 1
            })
        };
        // Only a thread whose `Owner` can give the number back keeps it.
        match OWNER.try_with(|owner| owner.0.set(number)) {
            Ok(()) => {
                let _ = NUMBER.try_with(|cell| cell.set(number));
            }
            Err(_) => NUMBERS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .1
                .push(number),
        }
        number
    }
}

use thread_numbers::current as thread_number;

#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Barrier;
    use std::thread;

    fn locks(shards: usize, stripes: usize) -> ShardLocks<(u64, u64), AtomicU64> {
        ShardLocks::new(shards, stripes, || ((0, 0), AtomicU64::new(0)))
    }

    #[test]
    fn a_write_is_seen_by_later_reads_of_the_same_shard_only() {
        let locks = locks(3, 4);
        locks.write(1).0 = 7;
        assert_eq!(locks.read(1).0, 7);
        assert_eq!(locks.read(0).0, 0);
        assert_eq!(locks.read(2).0, 0);
    }

    #[test]
    fn readers_of_one_shard_do_not_exclude_each_other() {
        let locks = locks(1, 1);
        let first = locks.read(0);
        let second = locks.read(0);
        assert_eq!((first.0, second.0), (0, 0));
    }

    #[test]
    fn counts_span_several_lines_per_stripe() {
        let locks = locks(COUNTS_PER_LINE * 2 + 1, 2);
        for shard in 0..locks.len() {
            locks.write(shard).0 = shard as u64;
        }
        for shard in 0..locks.len() {
            assert_eq!(locks.read(shard).0, shard as u64);
        }
        assert_eq!(locks.stripes(), 2);
    }

    #[test]
    fn stripes_round_up_to_a_power_of_two() {
        assert_eq!(locks(1, 3).stripes(), 4);
        assert_eq!(locks(1, 0).stripes(), 1);
    }

    #[test]
    fn a_panicking_writer_leaves_the_shard_usable() {
        let locks = locks(1, 2);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut guard = locks.write(0);
            guard.0 = 1;
            panic!("user code panicked under the lock");
        }));
        assert!(outcome.is_err());
        assert_eq!(locks.read(0).0, 1);
        locks.write(0).0 = 2;
        assert_eq!(locks.read(0).0, 2);
    }

    /// Writers keep both halves of the value equal; a reader that ever sees them
    /// differ has read while a writer wrote.
    #[test]
    fn readers_never_see_a_write_half_done() {
        let (threads, rounds) = if cfg!(miri) { (3, 30) } else { (4, 20_000) };
        let locks = locks(2, 2);
        let start = Barrier::new(threads);
        thread::scope(|scope| {
            for thread in 0..threads {
                let (locks, start) = (&locks, &start);
                scope.spawn(move || {
                    start.wait();
                    for round in 0..rounds {
                        let shard = round % 2;
                        if (round + thread) % 3 == 0 {
                            let mut guard = locks.write(shard);
                            guard.0 += 1;
                            hint::spin_loop();
                            guard.1 += 1;
                        } else {
                            let guard = locks.read(shard);
                            assert_eq!(guard.0, guard.1, "read a half-done write");
                            locks.extra(shard).fetch_add(1, Relaxed);
                        }
                    }
                });
            }
        });
        let writes: u64 = (0..2).map(|shard| locks.read(shard).0).sum();
        let reads: u64 = (0..2).map(|shard| locks.extra(shard).load(Relaxed)).sum();
        assert_eq!(
            writes + reads,
            (threads * rounds) as u64,
            "every operation ran once"
        );
    }

    #[test]
    fn threads_running_together_get_different_numbers() {
        let start = Barrier::new(2);
        let numbers: Vec<usize> = thread::scope(|scope| {
            let spawned: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let number = thread_number();
                        // Both alive at once: neither has given its number back.
                        start.wait();
                        number
                    })
                })
                .collect();
            spawned.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_ne!(numbers[0], numbers[1]);
    }
}

/// The protocol under shuttle's scheduler, which can switch threads at every atomic
/// operation and at the `yield_now`s placed inside the guards.
#[cfg(all(test, feature = "shuttle"))]
mod shuttle_tests {
    use super::*;
    use shuttle::sync::Arc;
    use shuttle::thread;

    #[test]
    fn readers_and_writers_of_one_shard_exclude_each_other() {
        shuttle::check_random(
            || {
                let locks = Arc::new(ShardLocks::new(1, 2, || ((0u64, 0u64), ())));
                let threads: Vec<_> = (0..3)
                    .map(|thread_index| {
                        let locks = Arc::clone(&locks);
                        thread::spawn(move || {
                            for round in 0..3 {
                                if (thread_index + round) % 2 == 0 {
                                    let mut guard = locks.write(0);
                                    guard.0 += 1;
                                    thread::yield_now();
                                    guard.1 += 1;
                                } else {
                                    let guard = locks.read(0);
                                    let first = guard.0;
                                    thread::yield_now();
                                    assert_eq!(first, guard.1, "read during a write");
                                }
                            }
                        })
                    })
                    .collect();
                for thread in threads {
                    thread.join().unwrap();
                }
                assert_eq!(locks.read(0).0, 5, "every write ran once");
            },
            3_000,
        );
    }
}
