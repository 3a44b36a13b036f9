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
//! Orderings: every access of `state`, `used_stripes` and the reader counts that decides
//! exclusion is `SeqCst`, so that the argument above needs only the single `SeqCst`
//! order. One store is not: the writer's unlock, a `Release` store, whose comment
//! shows from C++20's coherence rules why the readers' `SeqCst` loads still cannot
//! miss a later writer. The `Relaxed` accesses are hints that a `SeqCst` access then
//! checks: the spinning waiters' loads of `state`, a failed compare-and-swap's load,
//! the unlock's look at `PARKED`, and `waiting_readers`. Each access says which it is.
//!
//! On one thread a read costs what std's costs (two atomic operations, on a line the
//! thread owns); a write costs one compare-and-swap to take the shard, one load per
//! stripe that has ever read the map, and a plain `Release` store to give it back.
//! Threads that must wait for a writer spin briefly, then yield a few times, then sleep
//! on the map's one parking spot; a writer wakes the sleepers only if some are there.
//!
//! Why the unlock is a store and not a swap: a read-modify-write is a full barrier on
//! x86, and at the end of an insert it waits for every store the insert made (table
//! growth, the deadline index) to reach the cache. Measured (`compare -- miss cold`,
//! twice each, in turns): a memoized miss 0.97× and 0.95× `#[concurrent_cached]` with
//! the store, 1.15× and 1.06× with the swap; a cold miss 1.02× and 1.13× against 1.25×
//! and 1.31×. The price is that a writer can miss a sleeper that announced itself
//! between the writer's look at `PARKED` and its store (a few instructions): sleepers
//! therefore never sleep longer than [`SLEEP_RECHECK`] before they look again, so a
//! missed wake-up costs at most that, and never a hang.
//!
//! This module must never hand out a `&mut T` while a reader is counted, nor a `&T`
//! while a writer holds the shard; it holds most of the crate's `unsafe` (the rest is
//! one cast in `map_cell.rs`), checked by Miri (`cargo +nightly miri test -p cache-core
//! --lib`) and by a shuttle scenario.

#![allow(unsafe_code)]

use super::thread_identity::stripe_number as thread_number;
use super::wait_counts as waits;
use crate::sync::shim::{self, AtomicUsize, Condvar, Mutex};
use std::cell::UnsafeCell;
use std::hint;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::{Relaxed, Release, SeqCst};
use std::sync::PoisonError;

/// Bytes kept apart between data written by different threads: two 64-byte lines,
/// because x86 and recent ARM cores prefetch lines in adjacent pairs.
const LINE_BYTES: usize = 128;

/// Reader counts on one line.
const COUNTS_PER_LINE: usize = LINE_BYTES / std::mem::size_of::<usize>();

/// Spins before a thread that met a writer yields: writers hold a shard for well under
/// a microsecond, and sleeping costs more than that.
const WAITER_SPINS: u32 = if cfg!(shuttle) { 1 } else { 64 };

/// Yields before it sleeps on the parking spot. Sleeping means a wake-up of tens of
/// microseconds. Measured (`compare -- stall`, hits >= 20 us while a million entries
/// expire, against the limit's in the same run): 64 spins then sleep, 1,439 and 2,315
/// (limit 303, 212), with 11,573 sleeps; adding 16 yields, 339 and 428 (limit 370,
/// 472), with 7 and 22 sleeps.
const WAITER_YIELDS: u32 = if cfg!(shuttle) { 1 } else { 16 };

/// Spins before a writer waiting for readers starts yielding its time slice.
const WRITER_SPINS: u32 = if cfg!(shuttle) { 1 } else { 64 };

/// A shard's state: a writer holds it.
const WRITER: usize = 1;
/// A shard's state: besides the writer, someone sleeps on the parking spot until the
/// writer leaves. Only ever set together with `WRITER`.
const PARKED: usize = 2;

/// The longest a thread sleeps on the parking spot before it looks at the shard again:
/// the bound on what a missed wake-up costs (see the module docs). Sleepers are rare
/// (a writer held the shard through 64 spins and 16 yields), so looking again this
/// often costs nothing measurable.
const SLEEP_RECHECK: std::time::Duration = std::time::Duration::from_millis(1);

/// One line of reader counts of one stripe.
#[repr(align(128))]
struct CountLine([AtomicUsize; COUNTS_PER_LINE]);

impl CountLine {
    fn new() -> Self {
        CountLine(std::array::from_fn(|_| AtomicUsize::new(0)))
    }
}

/// One shard: its value, its state (`WRITER`, `PARKED`), and data `E` kept beside it.
#[repr(align(128))]
struct Slot<T, E> {
    state: AtomicUsize,
    /// Lookups waiting for a writer to leave: the sweeper does not start a batch here
    /// while there are some (see [`ShardLocks::write_unless_readers_wait`]).
    waiting_readers: AtomicUsize,
    extra: E,
    value: UnsafeCell<T>,
}

/// Where threads that wait for a writer sleep: one per map, since waiting is rare.
struct Parking {
    lock: Mutex<()>,
    wakeup: Condvar,
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
    /// Bit `s` is set once a thread of stripe `s` has read any shard, and never cleared:
    /// writers check only those stripes' counts (one, on a map a single thread uses).
    used_stripes: AtomicUsize,
    parking: Parking,
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
        assert!(
            stripes <= usize::BITS as usize,
            "one bit per stripe in `used_stripes`"
        );
        let lines_per_row = shards.div_ceil(COUNTS_PER_LINE);
        ShardLocks {
            slots: (0..shards)
                .map(|_| {
                    let (value, extra) = new();
                    Slot {
                        state: AtomicUsize::new(0),
                        waiting_readers: AtomicUsize::new(0),
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
            used_stripes: AtomicUsize::new(0),
            parking: Parking {
                lock: Mutex::new(()),
                wakeup: Condvar::new(),
            },
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
        // `SeqCst`, not `Acquire`: when another thread of our stripe set the bit, its
        // `fetch_or` must come before our count below in the `SeqCst` order, so that a
        // writer whose `SeqCst` load missed the bit cannot miss us (see `write`). An
        // `Acquire` load that reads a `SeqCst` write does not order them in it (C++20
        // "strongly happens before" needs both ends `SeqCst`). Free where it matters: on
        // x86 a `SeqCst` load is the same plain load.
        if self.used_stripes.load(SeqCst) & (1 << stripe) == 0 {
            self.use_stripe(stripe);
        }
        let readers = self.reader_count(stripe, shard);
        let mut writers_met = 0;
        loop {
            // Dekker's pattern with the writer's compare-and-swap and count loads: the
            // increment and the load of `state` below must both be `SeqCst`, so that of
            // a racing reader and writer, at least one sees the other.
            readers.fetch_add(1, SeqCst);
            if slot.state.load(SeqCst) & WRITER == 0 {
                if writers_met > 0 {
                    // `Relaxed`: a hint for the sweeper (see `write_unless_readers_wait`).
                    slot.waiting_readers.fetch_sub(1, Relaxed);
                    waits::lookup_waited(writers_met);
                }
                // This reader is counted, and was counted before it saw no writer
                // (both `SeqCst`): a writer that takes the shard from now on sees the
                // count and waits until the guard is dropped, and none held it when we
                // looked. The guard's `Deref` relies on it.
                return ReadGuard {
                    value: &slot.value,
                    readers,
                    stripe,
                };
            }
            // Step aside before waiting, or the writer would wait for us. `SeqCst` like
            // every count access a writer's wait depends on (an x86 RMW costs the same
            // whatever its ordering).
            readers.fetch_sub(1, SeqCst);
            if writers_met == 0 {
                // `Relaxed`: a hint for the sweeper (see `write_unless_readers_wait`).
                slot.waiting_readers.fetch_add(1, Relaxed);
            }
            writers_met += 1;
            self.wait_while_written(slot);
        }
    }

    /// Shared access to shard `shard`, or `None` at once if a writer holds it.
    pub(crate) fn try_read(&self, shard: usize) -> Option<ReadGuard<'_, T>> {
        let slot = &self.slots[shard];
        let stripe = thread_number() & self.stripe_mask;
        // `SeqCst` throughout, for the reasons given in `read`.
        if self.used_stripes.load(SeqCst) & (1 << stripe) == 0 {
            self.use_stripe(stripe);
        }
        let readers = self.reader_count(stripe, shard);
        readers.fetch_add(1, SeqCst);
        if slot.state.load(SeqCst) & WRITER != 0 {
            readers.fetch_sub(1, SeqCst);
            return None;
        }
        // Counted before it saw no writer, as in `read`: the guard's `Deref` relies on it.
        Some(ReadGuard {
            value: &slot.value,
            readers,
            stripe,
        })
    }

    /// Exclusive access to shard `shard`. Waits for the readers in it to leave and
    /// keeps new ones out until the guard is dropped.
    pub(crate) fn write(&self, shard: usize) -> WriteGuard<'_, T, E> {
        let slot = &self.slots[shard];
        // Success `SeqCst`: the writer's half of Dekker's pattern (with the loads of
        // `used_stripes` and the counts below), and it acquires the previous writer's
        // release of `state`. Failure `Relaxed`: a shard found held only sends us to
        // wait and try again; it decides nothing.
        while slot
            .state
            .compare_exchange(0, WRITER, SeqCst, Relaxed)
            .is_err()
        {
            self.wait_while_written(slot);
        }
        // Stripes whose bit is clear here are safe to skip: a reader sets its stripe's
        // bit (`SeqCst`) before it first counts itself and reads `state`, or finds it set
        // with a `SeqCst` load, which puts the setting before its count in the `SeqCst`
        // order. So if this `SeqCst` load missed the bit, the setting comes after it,
        // and that reader's read of `state` after our compare-and-swap: it sees `WRITER`.
        let used = self.used_stripes.load(SeqCst);
        for stripe in (0..=self.stripe_mask).filter(|stripe| used & (1 << stripe) != 0) {
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
        // Our compare-and-swap set `WRITER`, so no other writer exists until the guard
        // clears it; every used stripe's reader count was seen at zero after that
        // (unused stripes have no reader that can miss `WRITER`, see above), so every
        // reader has left, and any new reader sees `WRITER` and backs off without
        // touching the value. The guard's `Deref` and `DerefMut` rely on it.
        WriteGuard {
            value: &slot.value,
            slot,
            parking: &self.parking,
        }
    }

    /// [`write`](Self::write) for the sweeper, which can come back later: `None`
    /// rather than make lookups wait longer than one batch.
    ///
    /// - If lookups are waiting for a writer of this shard, it leaves them the shard:
    ///   a lookup waits for at most the batch in progress when it arrives.
    /// - If the shard is held by another writer, it does not queue behind it.
    /// - If a reader stays in the shard longer than a normal lookup (its `V::clone` or
    ///   `Eq` is slow, or it was preempted), it gives the shard back instead of
    ///   keeping every new lookup out until that reader leaves.
    pub(crate) fn write_unless_readers_wait(&self, shard: usize) -> Option<WriteGuard<'_, T, E>> {
        let slot = &self.slots[shard];
        // `Relaxed`: a hint, not part of the exclusion (the compare-and-swap and the
        // count loads below exclude either way); a lookup that starts waiting just
        // after this load waits for this one batch.
        if slot.waiting_readers.load(Relaxed) > 0 {
            return None;
        }
        // Before raising `WRITER`, wait briefly for the readers now in the shard to
        // leave, so that the flag goes up only when it will most likely stay up: a
        // flag raised and then taken down again makes every lookup that meets it wait
        // for nothing. `Relaxed`: a hint; the `SeqCst` scan below decides.
        let used = self.used_stripes.load(Relaxed);
        for stripe in (0..=self.stripe_mask).filter(|stripe| used & (1 << stripe) != 0) {
            let readers = self.reader_count(stripe, shard);
            let mut spins = 0;
            while readers.load(Relaxed) != 0 {
                if spins == WRITER_SPINS {
                    return None;
                }
                spins += 1;
                hint::spin_loop();
            }
        }
        // As in `write`: success `SeqCst`, the writer's half of Dekker's pattern;
        // failure `Relaxed`, it only sends us away.
        slot.state
            .compare_exchange(0, WRITER, SeqCst, Relaxed)
            .ok()?;
        let guard = WriteGuard {
            value: &slot.value,
            slot,
            parking: &self.parking,
        };
        // `SeqCst`, as in `write`: which stripes can hold readers of this shard.
        let used = self.used_stripes.load(SeqCst);
        for stripe in (0..=self.stripe_mask).filter(|stripe| used & (1 << stripe) != 0) {
            let readers = self.reader_count(stripe, shard);
            let mut spins = 0;
            // `SeqCst`, as in `write`: pairs with the readers' increments.
            while readers.load(SeqCst) != 0 {
                if spins == WRITER_SPINS {
                    // Dropping the guard clears `WRITER` and wakes whoever slept on it.
                    drop(guard);
                    return None;
                }
                spins += 1;
                hint::spin_loop();
            }
        }
        // Every used stripe's count was seen at zero after `WRITER` was set: the same
        // exclusion argument as `write`'s.
        Some(guard)
    }

    /// Marks `stripe` used, once per stripe and map.
    #[cold]
    fn use_stripe(&self, stripe: usize) {
        // `SeqCst`: before our first count in the `SeqCst` order (see `write`).
        self.used_stripes.fetch_or(1 << stripe, SeqCst);
    }

    /// Returns once no writer holds `slot` (or likely none: callers check again).
    #[cold]
    fn wait_while_written(&self, slot: &Slot<T, E>) {
        // The loads of `state` in these two loops are `Relaxed`: hints of when to try
        // again. Returning early costs the caller one more try, whose `SeqCst` accesses
        // decide; staying a little longer costs a spin.
        for _ in 0..WAITER_SPINS {
            if slot.state.load(Relaxed) & WRITER == 0 {
                return;
            }
            hint::spin_loop();
        }
        // Then yield: on a busy machine the writer is most often waiting for a core,
        // and handing it ours ends the wait sooner than a sleep and a wake-up would.
        for _ in 0..WAITER_YIELDS {
            if slot.state.load(Relaxed) & WRITER == 0 {
                return;
            }
            shim::yield_now();
        }
        waits::slept();
        let mut parked = self
            .parking
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            // Not exclusion but the wake-up, which is prompt unless the writer's plain
            // store raced our announcement (then `SLEEP_RECHECK` bounds the wait).
            // `SeqCst`, like the rest of `state`'s accesses, costs nothing on this cold
            // path. A failed compare-and-swap (`Relaxed`) only loops to load again.
            let state = slot.state.load(SeqCst);
            if state & WRITER == 0 {
                return;
            }
            // Announce the sleeper while holding the parking lock: a writer that sees
            // the announcement takes the same lock before waking anyone, so it cannot
            // wake before we sleep.
            if state & PARKED == 0
                && slot
                    .state
                    .compare_exchange(state, state | PARKED, SeqCst, Relaxed)
                    .is_err()
            {
                continue;
            }
            parked = shim::wait_at_most(
                &self.parking.wakeup,
                &self.parking.lock,
                parked,
                SLEEP_RECHECK,
            );
        }
    }
}

/// Shared access to one shard's value; the shard's writers wait until it is dropped.
///
/// It holds the cell, not a `&T`: a reference stored in the guard would be asserted
/// valid until the guard's `drop` returns, after it has let a writer in (Miri's
/// Stacked Borrows flags exactly that; std's guards hold pointers for the same reason).
pub(crate) struct ReadGuard<'a, T> {
    value: &'a UnsafeCell<T>,
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
        // SAFETY: the guard keeps this reader counted until it is dropped, so no writer
        // holds the shard (see `ShardLocks::read`) while this borrow of the guard lives.
        unsafe { &*self.value.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Needs `Release`: our reads of the value happen before the next writer's
        // writes, which it acquires with its `SeqCst` load of the count. `SeqCst` like
        // every count access of the protocol (an x86 RMW costs the same either way), so
        // that the argument holds in the plain SC subset of the memory model.
        self.readers.fetch_sub(1, SeqCst);
    }
}

/// Exclusive access to one shard's value. Holds the cell, not a `&mut T`, for the
/// reason given on [`ReadGuard`].
pub(crate) struct WriteGuard<'a, T, E> {
    value: &'a UnsafeCell<T>,
    slot: &'a Slot<T, E>,
    parking: &'a Parking,
}

impl<T, E> Deref for WriteGuard<'_, T, E> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds `WRITER` and no reader is in (see `ShardLocks::write`)
        // until it is dropped; `&self` rules out a `&mut T` from this guard meanwhile.
        unsafe { &*self.value.get() }
    }
}

impl<T, E> DerefMut for WriteGuard<'_, T, E> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, nobody else reaches the value while the guard lives,
        // and `&mut self` makes this the only borrow of it through the guard.
        unsafe { &mut *self.value.get() }
    }
}

impl<T, E> Drop for WriteGuard<'_, T, E> {
    #[inline]
    fn drop(&mut self) {
        // `Relaxed`: a hint. Seeing `PARKED` sends us to the swap, which returns the
        // latest state; missing it (a sleeper announced itself just now) only makes
        // that sleeper wait up to `SLEEP_RECHECK`.
        if self.slot.state.load(Relaxed) & PARKED == 0 {
            // `Release`: whoever next sees `WRITER` clear (a reader's `SeqCst` load, a
            // writer's `SeqCst` compare-and-swap, both acquiring) sees our writes.
            // Exclusion needs nothing more from it: a reader that loads 0 from this
            // store while a later writer's compare-and-swap (which read this store or
            // a later one) has raised `WRITER` is coherence-ordered before that
            // compare-and-swap, so it precedes it in the `SeqCst` order, and so does
            // its count: the writer's scan, which follows its compare-and-swap, sees
            // the count. That is C++20's rule; Miri's nightly of 2026-05 models it more
            // weakly (rust-lang/miri#5104, fixed since) and reports a race that cannot
            // happen, so under Miri this one store is `SeqCst` (it passes then, and
            // checks the rest of the protocol unchanged).
            let unlock = if cfg!(miri) { SeqCst } else { Release };
            self.slot.state.store(0, unlock);
            return;
        }
        // `SeqCst` like the other protocol accesses; it returns the latest `PARKED`,
        // as any read-modify-write does.
        let state = self.slot.state.swap(0, SeqCst);
        if state & PARKED != 0 {
            wake_sleepers(self.parking);
        }
    }
}

#[cold]
fn wake_sleepers(parking: &Parking) {
    // Taking the lock orders this after any sleeper's announcement and wait.
    drop(parking.lock.lock().unwrap_or_else(PoisonError::into_inner));
    parking.wakeup.notify_all();
}

#[cfg(all(test, not(shuttle)))]
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
    fn try_read_gives_up_at_once_while_a_writer_holds_the_shard() {
        let locks = locks(2, 2);
        let guard = locks.write(0);
        thread::scope(|scope| {
            let other =
                scope.spawn(|| (locks.try_read(0).is_none(), locks.try_read(1).map(|r| r.0)));
            assert_eq!(other.join().unwrap(), (true, Some(0)));
        });
        drop(guard);
        assert_eq!(locks.try_read(0).map(|r| r.0), Some(0));
        // A reader taken by `try_read` keeps writers out like any other.
        let reader = locks.try_read(1).unwrap();
        assert!(locks.write_unless_readers_wait(1).is_none());
        drop(reader);
        assert!(locks.write_unless_readers_wait(1).is_some());
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

    /// Long enough that the waiters are past their spins and asleep on the parking
    /// spot; the test only needs them to wake, whenever that is.
    #[test]
    fn threads_asleep_behind_a_long_write_wake_when_it_ends() {
        let locks = locks(2, 2);
        let waiting = Barrier::new(3);
        thread::scope(|scope| {
            let mut guard = locks.write(0);
            let reader = scope.spawn(|| {
                waiting.wait();
                locks.read(0).0
            });
            let writer = scope.spawn(|| {
                waiting.wait();
                locks.write(0).1 += 1;
            });
            waiting.wait();
            // The other shard is not held.
            assert_eq!(locks.read(1).0, 0);
            thread::sleep(std::time::Duration::from_millis(if cfg!(miri) {
                1
            } else {
                50
            }));
            guard.0 = 1;
            drop(guard);
            assert_eq!(reader.join().unwrap(), 1);
            writer.join().unwrap();
        });
        assert_eq!(*locks.read(0), (1, 1));
    }

    /// A writer's plain-store unlock can miss a sleeper that announced itself just then
    /// (see the module docs): that sleeper must still wake, soon.
    #[test]
    fn a_sleeper_whose_wake_up_was_missed_still_wakes() {
        let locks = std::sync::Arc::new(locks(1, 2));
        let guard = locks.write(0);
        let (sender, woken) = std::sync::mpsc::channel();
        let reader = {
            let locks = std::sync::Arc::clone(&locks);
            // Not scoped: if it never wakes, the test fails instead of hanging.
            thread::spawn(move || sender.send(locks.read(0).0))
        };
        wait_until(
            || locks.slots[0].state.load(SeqCst) & PARKED != 0,
            "the reader sleeps",
        );
        // What a writer's unlock does when its look at `PARKED` came just before the
        // announcement: the shard is free, the flag is gone, nobody is woken.
        std::mem::forget(guard);
        locks.slots[0].state.store(0, Release);
        let read = woken.recv_timeout(std::time::Duration::from_secs(30));
        assert_eq!(read, Ok(0), "the sleeper never woke");
        reader.join().unwrap().unwrap();
    }

    /// Yields until `condition` holds; fails after a minute, so that a broken protocol
    /// fails the test instead of hanging it.
    fn wait_until(condition: impl Fn() -> bool, what: &str) {
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !condition() {
            assert!(
                std::time::Instant::now() < give_up,
                "never happened: {what}"
            );
            thread::yield_now();
        }
    }

    /// The writer holds the shard until the counters show the reader asleep behind it,
    /// so the wait is certain, however the threads are scheduled.
    #[cfg(feature = "lock-stats")]
    #[test]
    fn a_lookup_that_waits_for_a_writer_is_counted() {
        let locks = locks(1, 2);
        let before = crate::diagnostics::lock_stats();
        thread::scope(|scope| {
            let guard = locks.write(0);
            let reader = scope.spawn(|| locks.read(0).0);
            wait_until(
                || crate::diagnostics::lock_stats().sleeps > before.sleeps,
                "the reader slept",
            );
            drop(guard);
            reader.join().unwrap();
        });
        let after = crate::diagnostics::lock_stats();
        assert!(after.lookups_that_waited > before.lookups_that_waited);
        assert!(after.sleeps > before.sleeps);
    }

    #[test]
    fn the_sweeper_leaves_a_shard_to_the_lookups_waiting_for_it() {
        let locks = locks(2, 2);
        thread::scope(|scope| {
            let guard = locks.write(0);
            let reader = scope.spawn(|| locks.read(0).0);
            wait_until(
                || locks.slots[0].waiting_readers.load(Relaxed) > 0,
                "the reader waits",
            );
            assert!(locks.write_unless_readers_wait(0).is_none());
            assert!(
                locks.write_unless_readers_wait(1).is_some(),
                "other shards are free"
            );
            drop(guard);
            reader.join().unwrap();
        });
        assert!(locks.write_unless_readers_wait(0).is_some());
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
#[cfg(all(test, shuttle))]
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
