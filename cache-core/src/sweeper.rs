//! The sweeper: one background thread for the whole process that removes expired
//! entries from every map, and asks the clock's ticker (`time/coarse.rs`) to keep the coarse
//! clock while any map holds expiring entries.
//!
//! - Started lazily, by the first map that stores an expiring entry; maps register
//!   once, weakly, so a dropped map is simply skipped and forgotten.
//! - Every [`SWEEP_INTERVAL`] it sweeps each map, in batches of at most
//!   `SWEEP_BATCH` (`map/sweep.rs`) entries per shard lock. It runs user code
//!   (`Drop` of values, `Hash` and `Eq` of keys) and waits for shard locks, so it never
//!   keeps the clock itself: a slow `Drop` delays sweeping, never expiry.
//!   Work is proportional to what expired, not to map size: each shard's deadline
//!   index hands out only the records that are due. Ten wake-ups a second.
//! - When no registered map holds an expiring entry it parks, and costs nothing, until
//!   an insert of an expiring entry unparks it. While parked, lookups do not trust the
//!   coarse clock.
//! - It never dies of a panic: a panic from user code it runs (`Drop` of a value,
//!   `Hash` of a key, a whole map dropped on this thread because its last handle went
//!   while the sweeper held it) is caught, and that map is swept again next time; other
//!   maps go on.
//! - In a child process made by `fork()`, which inherits no thread, the next insert of
//!   an expiring entry starts a new sweeper. A fork waits for the batch in progress
//!   (`crate::fork`'s gate, held around each batch and each use of the registry), so
//!   the child never finds a lock held by this thread; a shard that one of the user's
//!   threads held at the fork is skipped, never waited for (the sweeper only ever
//!   tries a shard's locks).
//! - It never keeps the process alive: Rust does not wait for spawned threads at exit.

use crate::fork;
use crate::time;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::thread::{self, Thread};
use std::time::Duration;

/// How often every map is swept: entries nobody touches are gone this long (plus the
/// time to sweep) after their deadline.
pub(crate) const SWEEP_INTERVAL: Duration = Duration::from_millis(100);

/// The name the thread shows in debuggers and `top -H`.
pub const SWEEPER_THREAD_NAME: &str = "cache-core-sweeper";

/// Longest park while idle. An insert unparks the thread at once; this bounds the
/// damage of a missed wake-up to one second, the promised reclaim time.
const IDLE_RECHECK: Duration = Duration::from_secs(1);

/// What the sweeper needs of a map.
pub(crate) trait Sweep: Send + Sync {
    /// Removes expired entries; returns whether any expiring entry is left.
    fn sweep_expired(&self) -> bool;
    /// Whether the map holds any entry that can expire.
    fn has_expiring(&self) -> bool;
}

struct Sweeper {
    maps: Mutex<Vec<Weak<dyn Sweep>>>,
    idle: AtomicBool,
    /// The sweeper thread of this process. `None` if the OS refused one: maps still
    /// work, expiry stays passive (lookups, writes, `sweep`) and lookups read the
    /// precise clock.
    thread: Mutex<Option<Thread>>,
    /// The fork generation (`fork::generation`) `thread` was started in: a forked
    /// child, which inherits no thread, starts its own.
    started_in: AtomicU64,
}

fn sweeper() -> &'static Sweeper {
    static SWEEPER: OnceLock<Sweeper> = OnceLock::new();
    if let Some(sweeper) = SWEEPER.get() {
        return sweeper;
    }
    // Forks held off for the whole initialisation: a child forked halfway would find
    // the `OnceLock` forever being initialised.
    let _no_fork = fork::hold_off_forks();
    SWEEPER.get_or_init(|| {
        let sweeper = Sweeper {
            maps: Mutex::new(Vec::new()),
            idle: AtomicBool::new(false),
            thread: Mutex::new(None),
            started_in: AtomicU64::new(fork::generation()),
        };
        *sweeper.lock_thread() = spawn_thread();
        sweeper
    })
}

fn spawn_thread() -> Option<Thread> {
    // Before the sweeper first asks the ticker to tick: a child forked from then on
    // must know it is one.
    fork::register();
    let spawned = thread::Builder::new()
        .name(SWEEPER_THREAD_NAME.into())
        .spawn(|| run(sweeper()));
    spawned.ok().map(|handle| handle.thread().clone())
}

/// Called after a map stores an expiring entry: registers the map the first time, and
/// wakes the sweeper if it is parked.
pub(crate) fn schedule<M: Sweep + 'static>(map: &Arc<M>, registered: &AtomicBool) {
    let sweeper = sweeper();
    if !registered.load(Ordering::Relaxed) && !registered.swap(true, Ordering::AcqRel) {
        let weak: Weak<dyn Sweep> = Arc::downgrade(map) as Weak<dyn Sweep>;
        sweeper.lock_maps().push(weak);
    }
    let generation = fork::generation();
    if sweeper.started_in.load(Ordering::Relaxed) != generation {
        // A forked child: the thread we know of was the parent's.
        let mut thread = sweeper.lock_thread();
        if sweeper.started_in.swap(generation, Ordering::SeqCst) != generation {
            *thread = spawn_thread();
        }
    }
    // SeqCst pairs with the sweeper's store-then-recheck in `run`: either it sees
    // this map's new entry, or this load sees it idle and unparks it.
    if sweeper.idle.load(Ordering::SeqCst) {
        sweeper.idle.store(false, Ordering::SeqCst);
        if let Some(thread) = &*sweeper.lock_thread() {
            thread.unpark();
        }
    }
}

impl Sweeper {
    /// The sweeper's thread handle, with forks held off (a child would find the lock
    /// held forever), as for every lock of the registry.
    fn lock_thread(&self) -> Locked<'_, Option<Thread>> {
        let no_fork = fork::hold_off_forks();
        Locked {
            guard: self.thread.lock().unwrap_or_else(PoisonError::into_inner),
            _no_fork: no_fork,
        }
    }

    /// The registered maps, with forks held off (see `lock_thread`).
    fn lock_maps(&self) -> Locked<'_, Vec<Weak<dyn Sweep>>> {
        let no_fork = fork::hold_off_forks();
        Locked {
            guard: self.maps.lock().unwrap_or_else(PoisonError::into_inner),
            _no_fork: no_fork,
        }
    }

    /// The maps still alive; forgets the dropped ones.
    fn live_maps(&self) -> Vec<Arc<dyn Sweep>> {
        let mut maps = self.lock_maps();
        maps.retain(|weak| weak.strong_count() > 0);
        maps.iter().filter_map(Weak::upgrade).collect()
    }

    /// Sweeps every live map; returns whether any still holds expiring entries.
    fn sweep_all(&self) -> bool {
        let mut pending = false;
        for map in self.live_maps() {
            // The map is moved in, so that if this was its last handle, it is dropped
            // (and its values with it) inside the catch too.
            let swept = panic::catch_unwind(AssertUnwindSafe(move || map.sweep_expired()));
            // A map whose user code panicked is tried again next time.
            pending |= swept.unwrap_or(true);
        }
        pending
    }

    fn any_expiring(&self) -> bool {
        let mut any = false;
        for map in self.live_maps() {
            // Moved in, like in `sweep_all`; every map is visited so none is dropped
            // outside the catch.
            any |=
                panic::catch_unwind(AssertUnwindSafe(move || map.has_expiring())).unwrap_or(true);
        }
        any
    }
}

/// A lock of the sweeper's registry, held with forks held off. The fields drop in
/// order: the lock is released before the fork gate.
struct Locked<'a, T> {
    guard: std::sync::MutexGuard<'a, T>,
    _no_fork: fork::NoFork,
}

impl<T> std::ops::Deref for Locked<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

/// Lets the ticker rest if the loop ever ends, so lookups stop trusting the coarse
/// clock.
struct TickingGuard;

impl Drop for TickingGuard {
    fn drop(&mut self) {
        keep_ticking(false);
    }
}

/// [`time::keep_ticking`], with forks held off: its first call starts the ticker
/// thread (a `OnceLock` that a child forked halfway would find forever in progress).
fn keep_ticking(wanted: bool) {
    let _no_fork = fork::hold_off_forks();
    time::keep_ticking(wanted);
}

fn run(sweeper: &'static Sweeper) {
    let _ticking = TickingGuard;
    loop {
        keep_ticking(true);
        if sweeper.sweep_all() {
            thread::sleep(SWEEP_INTERVAL);
            continue;
        }
        // Nothing left to expire anywhere: park until an insert needs us.
        sweeper.idle.store(true, Ordering::SeqCst);
        if sweeper.any_expiring() {
            sweeper.idle.store(false, Ordering::SeqCst);
            thread::sleep(SWEEP_INTERVAL);
            continue;
        }
        keep_ticking(false);
        thread::park_timeout(IDLE_RECHECK);
        sweeper.idle.store(false, Ordering::SeqCst);
    }
}
