//! A child process made by `fork()` inherits the maps but none of the crate's threads
//! (the clock's ticker, the sweeper). It must still never serve an entry past its
//! deadline, and must free expired memory again once it inserts.
#![cfg(unix)]

use cache_core::TtlMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Counts its drops.
#[derive(Clone)]
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// What the child checks; `Err` says what went wrong.
fn in_the_child(map: &TtlMap<u32, u32>, inserted: Instant) -> Result<(), String> {
    // Well past the 400 ms deadline, and past the coarse clock's trust window.
    thread::sleep(Duration::from_millis(700).saturating_sub(inserted.elapsed()));
    if map.get(&1).is_some() || map.contains_key(&1) {
        return Err(format!(
            "served at {:?}, past its deadline",
            inserted.elapsed()
        ));
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let fresh = TtlMap::with_ttl(Duration::from_millis(10));
    for key in 0..50 {
        fresh.insert(key, Tracked(Arc::clone(&drops)));
    }
    let start = Instant::now();
    while drops.load(Ordering::SeqCst) < 50 {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("no sweeper freed expired values in the child".into());
        }
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

#[test]
fn a_forked_child_never_serves_late_and_sweeps_again() {
    let map = TtlMap::with_ttl(Duration::from_millis(400));
    map.insert(0, 0);
    // Let the ticker and the sweeper run in the parent, so the child inherits a coarse
    // clock marked as trusted.
    thread::sleep(Duration::from_millis(250));
    let inserted = Instant::now();
    map.insert(1, 1);
    in_a_child(|| in_the_child(&map, inserted));
}

/// A fork while the sweeper is busy sweeping a big map (holding one shard lock after
/// another): the child must find every shard free to read and write, and the
/// sweeper's registry free for a new map. Several forks at different moments.
#[test]
fn a_child_forked_while_the_sweeper_sweeps_finds_every_lock_free() {
    const KEYS: u32 = 200_000;
    let map = TtlMap::with_ttl(Duration::from_millis(200));
    for round in 0..3 {
        let base = round * KEYS;
        for key in base..base + KEYS {
            map.insert(key, key);
        }
        let expired_before = map.stats().expirations;
        let start = Instant::now();
        while map.stats().expirations == expired_before {
            assert!(start.elapsed() < Duration::from_secs(20), "no sweep began");
            thread::yield_now();
        }
        for _ in 0..4 {
            in_a_child(|| {
                for key in base..base + KEYS {
                    let _ = map.get(&key);
                }
                for key in 0..2_000 {
                    map.insert(u32::MAX - key, key);
                }
                let fresh = TtlMap::with_ttl(Duration::from_secs(1));
                fresh.insert(1, 1);
                Ok(())
            });
        }
    }
}

/// Runs `check` in a forked child and fails the test if it fails, panics or hangs.
fn in_a_child(check: impl FnOnce() -> Result<(), String>) {
    // SAFETY: the child only runs `check` and exits with `_exit`, never returning into
    // the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let outcome = panic::catch_unwind(AssertUnwindSafe(check));
        let code = match outcome {
            Ok(Ok(())) => 0,
            Ok(Err(why)) => {
                eprintln!("child: {why}");
                1
            }
            Err(_) => 2,
        };
        // SAFETY: ends the child at once, as a forked child should.
        unsafe { libc::_exit(code) };
    }
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, with a valid pointer for its status.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(done >= 0, "waitpid failed");
        if done == pid {
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            // SAFETY: kills our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the child hung");
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert!(libc::WIFEXITED(status), "the child did not exit normally");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the child's checks failed (see stderr)"
    );
}
