//! The process's `redis = true` functions as invalidations reach them: each one's
//! epochs, its in-process copies (the typed map behind a trait object) with the side
//! index from encoded arguments back to them, and the waiters of its fleet-wide
//! flights.
//!
//! An invalidated Redis key names its function by prefix and its entry by the encoded
//! arguments; the map is keyed by the typed key, which only needs `Serialize`, so it
//! cannot be rebuilt from the bytes. The side index maps the encoded arguments of each
//! value stored in-process to the map's hash of its key, and the removal compares the
//! stored keys' encodings, so a hash collision never removes the wrong entry.
//!
//! Every invalidation first moves an epoch (one of [`STRIPES`] per function, picked by
//! the arguments), then removes: a value fetched before and landing after is refused by
//! its epoch check (see [`crate::flight::Epoch`]), one landed before is removed.
//!
//! This module must never hold its own locks while it runs user code (a key's
//! `Serialize`, a value's `Drop`), and never does I/O.

use super::codec::{self, GENERATION_SUFFIX};
use crate::flight::Epoch;
use crate::TtlMap;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError, RwLock};
use std::task::Waker;
use std::time::Instant;

/// Epochs per function. A value in flight is refused when its stripe moved, so more
/// stripes mean fewer values refused because another key was invalidated; a
/// function-wide event (`_clear`, a lost connection) moves all of them, 64 atomic adds.
pub(super) const STRIPES: usize = 64;

/// The smallest side index that is ever pruned: below it, pruning costs more than the
/// memory it gives back.
const MIN_PRUNE_AT: usize = 1024;

/// The part of a key between the function's prefix and the arguments, for a lease.
pub(super) const LEASE_INFIX: &str = ":lease:";

/// One function's coherence state, in its `RedisLevel` (a `static`).
pub(super) struct Coherence {
    epochs: [AtomicU64; STRIPES],
    /// Moved with the epochs, and also when a lease changes (which invalidates no
    /// value): what fleet-wide flights' waiters wait on.
    wakes: [AtomicU64; STRIPES],
    /// The typed in-process copies, once the function first missed while connected.
    local: OnceLock<Box<dyn LocalCopies>>,
    /// Sync waiters of fleet-wide flights sleep here until an epoch of this function
    /// moves (checked under `gate`, so no wake-up is lost).
    gate: Mutex<()>,
    moved: Condvar,
    /// Async waiters of fleet-wide flights, woken when an epoch moves.
    wakers: Mutex<Vec<Waker>>,
}

impl Coherence {
    pub(super) const fn new() -> Self {
        Coherence {
            epochs: [const { AtomicU64::new(0) }; STRIPES],
            wakes: [const { AtomicU64::new(0) }; STRIPES],
            local: OnceLock::new(),
            gate: Mutex::new(()),
            moved: Condvar::new(),
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// The epoch of `arguments`, read now: taken before a value is fetched, checked
    /// before it is stored.
    pub(super) fn epoch(&'static self, arguments: &[u8]) -> Epoch {
        let counter = &self.epochs[stripe(arguments)];
        Epoch {
            counter,
            seen: counter.load(SeqCst),
        }
    }

    /// An epoch of `arguments` that has moved already: what it guards is never stored.
    pub(super) fn moved_epoch(&'static self, arguments: &[u8]) -> Epoch {
        let counter = &self.epochs[stripe(arguments)];
        Epoch {
            counter,
            // Moved unless exactly 2^64 − 1 invalidations come before the check.
            seen: counter.load(SeqCst).wrapping_sub(1),
        }
    }

    /// The wake counter of `arguments`, read now: a waiter reads it before its read
    /// of Redis, then sleeps until it moves.
    pub(super) fn wakes(&'static self, arguments: &[u8]) -> Epoch {
        let counter = &self.wakes[stripe(arguments)];
        Epoch {
            counter,
            seen: counter.load(SeqCst),
        }
    }

    /// Invalidates the in-process copy of `arguments`: its epoch first, then the copy.
    pub(super) fn invalidate(&self, arguments: &[u8]) {
        let stripe = stripe(arguments);
        self.epochs[stripe].fetch_add(1, SeqCst);
        self.wakes[stripe].fetch_add(1, SeqCst);
        self.wake();
        if let Some(local) = self.local.get() {
            local.drop_arguments(arguments);
        }
    }

    /// `_invalidate` or `_refresh` in this process: values of `arguments` in flight
    /// are refused (the caller replaces or removes the copy itself).
    pub(super) fn refuse_in_flight(&self, arguments: &[u8]) {
        let stripe = stripe(arguments);
        self.epochs[stripe].fetch_add(1, SeqCst);
        self.wakes[stripe].fetch_add(1, SeqCst);
        self.wake();
    }

    /// The lease of `arguments` changed (taken, released, expired): its waiters
    /// read again. No value is invalidated by it.
    fn lease_changed(&self, arguments: &[u8]) {
        self.wakes[stripe(arguments)].fetch_add(1, SeqCst);
        self.wake();
    }

    /// `_clear` in this process: every value in flight is refused (the caller clears
    /// the map itself).
    pub(super) fn clear(&self) {
        self.distrust();
    }

    /// Moves every epoch of this function and wakes its waiters, without touching the
    /// copies (no user code: safe on the link's thread).
    fn distrust(&self) {
        self.move_every_epoch();
        self.wake();
    }

    /// Every epoch and wake counter moves: atomics only, no user or executor code.
    fn move_every_epoch(&self) {
        for epoch in self.epochs.iter().chain(&self.wakes) {
            epoch.fetch_add(1, SeqCst);
        }
    }

    /// Drops every in-process copy of this function (runs values' `Drop`).
    fn drop_all(&self) {
        if let Some(local) = self.local.get() {
            local.drop_all();
        }
    }

    /// Wakes every waiter of this function: sync ones through the condvar, async ones
    /// through their wakers (woken once no lock is held).
    fn wake(&self) {
        drop(self.gate.lock().unwrap_or_else(PoisonError::into_inner));
        self.moved.notify_all();
        let wakers =
            std::mem::take(&mut *self.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Blocks until `epoch` moves or `until` passes.
    pub(super) fn wait_until(&self, epoch: Epoch, until: Instant) {
        let mut gate = self.gate.lock().unwrap_or_else(PoisonError::into_inner);
        while !epoch.moved() {
            let now = Instant::now();
            if now >= until {
                return;
            }
            gate = self
                .moved
                .wait_timeout(gate, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Parks `waker` until an epoch of this function moves (or the notification
    /// thread's tick wakes every async waiter, the fallback for deadlines).
    pub(super) fn park(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        if !wakers.iter().any(|parked| parked.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    /// Records that the value of `arguments` is stored in-process under `hash`.
    pub(super) fn note(&self, arguments: &[u8], hash: u64) {
        if let Some(local) = self.local.get() {
            local.note(arguments, hash);
        }
    }

    /// Hands the function's map to the registry, once: from then on, invalidations
    /// reach its copies (those it held before, which no index knows, are dropped).
    pub(super) fn register<K, V>(&'static self, map: &'static TtlMap<K, V>, identity: &str)
    where
        K: Hash + Eq + Send + Sync + 'static + serde::Serialize,
        V: Clone + Send + Sync + 'static,
    {
        if self.local.get().is_some() {
            return;
        }
        let mut registered = false;
        self.local.get_or_init(|| {
            registered = true;
            Box::new(Copies {
                map,
                index: Mutex::new(Index {
                    by_arguments: HashMap::new(),
                    prune_at: MIN_PRUNE_AT,
                }),
            })
        });
        if registered {
            REGISTERED
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Registered {
                    identity: identity.into(),
                    coherence: self,
                });
            // Copies made before (the process was not connected yet) are in no index:
            // no invalidation could reach them.
            self.distrust();
            map.clear();
        }
    }
}

/// The stripe of `arguments`: FNV-1a, the same in every build (not the map's seeded
/// hash, which the notification thread cannot compute without the typed key).
fn stripe(arguments: &[u8]) -> usize {
    let hash = arguments
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        });
    (hash % STRIPES as u64) as usize
}

/// A function's in-process copies, behind the types.
trait LocalCopies: Send + Sync {
    fn note(&self, arguments: &[u8], hash: u64);
    fn drop_arguments(&self, arguments: &[u8]);
    fn drop_all(&self);
}

struct Copies<K: 'static, V: 'static> {
    map: &'static TtlMap<K, V>,
    index: Mutex<Index>,
}

/// Encoded arguments → the map's hash of the key whose value is stored for them.
/// Entries are not removed when the map's entries expire or are evicted (the map does
/// not report to it); instead, once it is twice the size it had after the last
/// pruning, it keeps only hashes the map still holds.
struct Index {
    by_arguments: HashMap<Box<[u8]>, u64>,
    prune_at: usize,
}

impl<K, V> LocalCopies for Copies<K, V>
where
    K: Hash + Eq + Send + Sync + 'static + serde::Serialize,
    V: Clone + Send + Sync + 'static,
{
    fn note(&self, arguments: &[u8], hash: u64) {
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        if index.by_arguments.get(arguments) != Some(&hash) {
            index.by_arguments.insert(arguments.into(), hash);
        }
        if index.by_arguments.len() >= index.prune_at {
            // Shard read locks under the index lock; nothing takes them the other way
            // round (removals let go of the index first). No user code runs here.
            let inner = self.map.inner();
            index.by_arguments.retain(|_, hash| inner.holds_hash(*hash));
            index.prune_at = (index.by_arguments.len() * 2).max(MIN_PRUNE_AT);
        }
    }

    fn drop_arguments(&self, arguments: &[u8]) {
        let hash = self
            .index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_arguments
            .remove(arguments);
        if let Some(hash) = hash {
            // By the encoding, not the hash alone: a colliding key stays.
            let removed = self.map.inner().remove_hashed(hash, |stored| {
                codec::encode_key(stored).as_deref() == Some(arguments)
            });
            drop(removed);
        }
    }

    fn drop_all(&self) {
        self.index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_arguments
            .clear();
        self.map.clear();
    }
}

struct Registered {
    /// `{crate}:{module}:{function}:{version}`: the key prefix after the namespace.
    identity: Box<str>,
    coherence: &'static Coherence,
}

/// Every function registered so far; read by the notification thread, written once
/// per function.
static REGISTERED: RwLock<Vec<Registered>> = RwLock::new(Vec::new());

fn each(mut act: impl FnMut(&'static Coherence)) {
    let registered: Vec<&'static Coherence> = REGISTERED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|registered| registered.coherence)
        .collect();
    registered.into_iter().for_each(&mut act);
}

/// The copies of every function can no longer be trusted (a connection was lost, or
/// came back, or the server flushed). This first step moves every epoch and counts a
/// drop under way (atomics and a counter: safe under the caller's lock); the caller
/// then [finishes](Distrusted::finish) it with no lock held.
#[must_use = "the copies are dropped by `finish`"]
pub(super) fn distrust_all() -> Distrusted {
    each(Coherence::move_every_epoch);
    *DROPPING.0.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    Distrusted(())
}

/// A distrust of every copy, under way: [`Distrusted::finish`] ends it.
pub(super) struct Distrusted(());

impl Distrusted {
    /// Wakes every waiter and drops every copy: here, or (`elsewhere`) on a
    /// short-lived thread, so that the link's thread never runs a value's `Drop`.
    pub(super) fn finish(self, elsewhere: bool) {
        each(Coherence::wake);
        let drop_all = || {
            each(Coherence::drop_all);
            *DROPPING.0.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
            DROPPING.1.notify_all();
        };
        if !elsewhere {
            drop_all();
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("ttl-cached-redis-drop".to_owned())
            .spawn(drop_all);
        if let Err(_unspawned) = spawned {
            // The closure went with the error: run it here after all.
            each(Coherence::drop_all);
            *DROPPING.0.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
            DROPPING.1.notify_all();
        }
    }
}

/// How many drops of every copy are under way, and their end: `connect` waits for
/// them, so that none empties a map after it returned.
static DROPPING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Waits at most `timeout` for the drops under way to end.
pub(super) fn wait_dropped(timeout: std::time::Duration) {
    let until = Instant::now() + timeout;
    let mut dropping = DROPPING.0.lock().unwrap_or_else(PoisonError::into_inner);
    while *dropping > 0 {
        let now = Instant::now();
        if now >= until {
            return;
        }
        dropping = DROPPING
            .1
            .wait_timeout(dropping, until - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// Wakes every async waiter (their fallback re-check: a deadline needs no timer of
/// the runtime's).
pub(super) fn tick() {
    each(|coherence| {
        let wakers = std::mem::take(
            &mut *coherence
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        wakers.into_iter().for_each(Waker::wake);
    });
}

/// What an invalidated key (without the namespace and its `:`) means for `identity`.
enum Touched<'k> {
    /// The entry of these arguments.
    Arguments(&'k [u8]),
    /// The lease of these arguments.
    Lease(&'k [u8]),
    /// The generation: every entry of the function.
    Everything,
}

fn touched<'k>(identity: &str, rest: &'k [u8]) -> Option<Touched<'k>> {
    let tail = rest.strip_prefix(identity.as_bytes())?;
    if tail == GENERATION_SUFFIX.as_bytes() {
        return Some(Touched::Everything);
    }
    if let Some(arguments) = tail.strip_prefix(LEASE_INFIX.as_bytes()) {
        return Some(Touched::Lease(arguments));
    }
    // `:{generation}:{arguments}`, the generation in digits.
    let tail = tail.strip_prefix(b":")?;
    let digits = tail.iter().take_while(|byte| byte.is_ascii_digit()).count();
    let arguments = tail[digits..].strip_prefix(b":")?;
    (digits > 0).then_some(Touched::Arguments(arguments))
}

/// A key changed in Redis (written, deleted, expired, evicted): the copies it stood
/// for are dropped. `namespace` is the prefix tracked, with its `:`. A key that names
/// no registered function is ignored.
pub(super) fn invalidated(namespace: &str, key: &[u8]) {
    let Some(rest) = key.strip_prefix(namespace.as_bytes()) else {
        return;
    };
    let matching: Vec<(&'static Coherence, Touched<'_>)> = REGISTERED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(|registered| {
            touched(&registered.identity, rest).map(|touched| (registered.coherence, touched))
        })
        .collect();
    for (coherence, touched) in matching {
        match touched {
            Touched::Arguments(arguments) => coherence.invalidate(arguments),
            Touched::Lease(arguments) => coherence.lease_changed(arguments),
            Touched::Everything => {
                coherence.distrust();
                coherence.drop_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_entry_its_lease_or_its_generation() {
        let identity = "app:app::rates:rate:1";
        let entry = |rest: &[u8]| match touched(identity, rest) {
            Some(Touched::Arguments(arguments)) => Some(arguments.to_vec()),
            _ => None,
        };
        assert_eq!(
            entry(b"app:app::rates:rate:1:0:\x03EUR"),
            Some(b"\x03EUR".to_vec())
        );
        assert!(matches!(
            touched(identity, b"app:app::rates:rate:1:lease:\x03EUR"),
            Some(Touched::Lease(b"\x03EUR"))
        ));
        assert!(matches!(
            touched(identity, b"app:app::rates:rate:1:gen"),
            Some(Touched::Everything)
        ));
        // Another function, or another version, or garbage: nothing.
        assert!(touched(identity, b"app:app::rates:rates:1:0:x").is_none());
        assert!(touched(identity, b"app:app::rates:rate:12:0:x").is_none());
        assert!(touched(identity, b"app:app::rates:rate:1:x:y").is_none());
        assert!(touched(identity, b"app:app::rates:rate:1").is_none());
    }

    #[test]
    fn an_invalidation_drops_that_copy_only_and_moves_its_epoch() {
        let map: &'static TtlMap<String, u64> = Box::leak(Box::new(TtlMap::new()));
        let coherence: &'static Coherence = Box::leak(Box::new(Coherence::new()));
        coherence.register(map, "test:registry:f:1");
        let arguments = |key: &str| codec::encode_key(&key.to_owned()).unwrap();
        for (key, value) in [("a", 1), ("b", 2)] {
            map.insert(key.to_owned(), value);
            coherence.note(&arguments(key), map.inner().hash(&key.to_owned()));
        }
        let epoch = coherence.epoch(&arguments("a"));
        assert!(!epoch.moved());
        coherence.invalidate(&arguments("a"));
        assert!(epoch.moved(), "a value of `a` in flight is refused");
        assert_eq!(map.get("a"), None);
        assert_eq!(map.get("b"), Some(2), "another key's copy stays");
        // Arguments nobody noted, or garbage: nothing happens.
        coherence.invalidate(b"\xff\x00garbage");
        assert_eq!(map.get("b"), Some(2));
    }

    #[test]
    fn stripes_spread_and_stay_in_range() {
        let used: std::collections::HashSet<usize> =
            (0_u32..1000).map(|n| stripe(&n.to_le_bytes())).collect();
        assert!(used.len() > STRIPES / 2);
        assert!(used.iter().all(|stripe| *stripe < STRIPES));
    }
}
