//! The sweeper: one background thread for the whole process that removes expired
//! entries from every map and advances the coarse clock.
//!
//! - Started lazily, by the first map that stores an expiring entry; maps register
//!   once, weakly, so a dropped map is simply skipped and forgotten.
//! - Every [`SWEEP_INTERVAL`] it advances the coarse clock and sweeps each map, in
//!   batches of at most [`SWEEP_BATCH`](crate::map::SWEEP_BATCH) entries per shard lock
//!   (advancing the clock between rounds of batches, so a long sweep never lets it lag).
//!   Work is proportional to what expired, not to map size: each shard's deadline
//!   index hands out only the records that are due. Ten wake-ups a second.
//! - When no registered map holds an expiring entry it parks, and costs nothing, until
//!   an insert of an expiring entry unparks it. While parked, lookups do not trust the
//!   coarse clock.
//! - It never panics: a panic from user code it runs (`Drop` of a value, `Hash` of a
//!   key) is caught and that map is swept again next time; other maps go on.
//! - It never keeps the process alive: Rust does not wait for spawned threads at exit.

use crate::clock;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
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
    thread: Option<Thread>,
}

fn sweeper() -> &'static Sweeper {
    static SWEEPER: OnceLock<Sweeper> = OnceLock::new();
    SWEEPER.get_or_init(|| {
        let spawned = thread::Builder::new()
            .name(SWEEPER_THREAD_NAME.into())
            .spawn(|| run(sweeper()));
        Sweeper {
            maps: Mutex::new(Vec::new()),
            idle: AtomicBool::new(false),
            // If the OS refuses a thread, maps still work: expiry stays passive
            // (lookups, `len`, `sweep`) and lookups read the precise clock.
            thread: spawned.ok().map(|handle| handle.thread().clone()),
        }
    })
}

/// Called after a map stores an expiring entry: registers the map the first time, and
/// wakes the sweeper if it is parked.
pub(crate) fn schedule<M: Sweep + 'static>(map: &Arc<M>, registered: &AtomicBool) {
    let sweeper = sweeper();
    if !registered.load(Ordering::Relaxed) && !registered.swap(true, Ordering::AcqRel) {
        let weak: Weak<dyn Sweep> = Arc::downgrade(map) as Weak<dyn Sweep>;
        sweeper.lock_maps().push(weak);
    }
    // SeqCst pairs with the sweeper's store-then-recheck in `run`: either it sees
    // this map's new entry, or this load sees it idle and unparks it.
    if sweeper.idle.load(Ordering::SeqCst) {
        sweeper.idle.store(false, Ordering::SeqCst);
        if let Some(thread) = &sweeper.thread {
            thread.unpark();
        }
    }
}

impl Sweeper {
    fn lock_maps(&self) -> std::sync::MutexGuard<'_, Vec<Weak<dyn Sweep>>> {
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
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
            let swept = panic::catch_unwind(AssertUnwindSafe(|| map.sweep_expired()));
            // A map whose user code panicked is tried again next time.
            pending |= swept.unwrap_or(true);
        }
        pending
    }

    fn any_expiring(&self) -> bool {
        self.live_maps()
            .iter()
            .any(|map| panic::catch_unwind(AssertUnwindSafe(|| map.has_expiring())).unwrap_or(true))
    }
}

/// Clears the "ticking" flag if the loop ever ends, so lookups stop trusting the
/// coarse clock.
struct TickingGuard;

impl Drop for TickingGuard {
    fn drop(&mut self) {
        clock::set_ticking(false);
    }
}

fn run(sweeper: &'static Sweeper) {
    let _ticking = TickingGuard;
    loop {
        clock::set_ticking(true);
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
        clock::set_ticking(false);
        thread::park_timeout(IDLE_RECHECK);
        sweeper.idle.store(false, Ordering::SeqCst);
    }
}
