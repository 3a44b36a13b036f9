//! The refresh pool: the threads that recompute stale values in the background
//! (`TtlMap::get_or_refresh_with`), so that the caller who found a value stale gets it
//! at once.
//!
//! This module owns those threads: started on first need, at most one per core, named
//! [`REFRESH_THREAD_NAME`], kept for the life of the process. It runs each task as
//! given; a task catches its own panics (the map counts a failed refresh). It must
//! never run a task on the sweeper's thread, nor hold its lock while a task runs.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::thread;

/// The name of the refresh pool's threads.
pub(crate) const REFRESH_THREAD_NAME: &str = "ttl-cached-refresh";

type Task = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    tasks: VecDeque<Task>,
    /// Threads started, and how many of them wait for a task now.
    threads: usize,
    idle: usize,
}

struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
    most_threads: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        queue: Mutex::default(),
        ready: Condvar::new(),
        most_threads: thread::available_parallelism().map_or(1, |cores| cores.get()),
    })
}

/// Runs `task` on a refresh thread, starting one if none is idle and the pool has
/// room; else it waits its turn. If no thread can be started at all, runs it here.
pub(crate) fn spawn(task: impl FnOnce() + Send + 'static) {
    let pool = pool();
    let mut queue = pool.queue.lock().unwrap_or_else(PoisonError::into_inner);
    queue.tasks.push_back(Box::new(task));
    if queue.idle == 0 && queue.threads < pool.most_threads {
        let started = thread::Builder::new()
            .name(REFRESH_THREAD_NAME.to_owned())
            .spawn(move || work(pool));
        if started.is_ok() {
            queue.threads += 1;
        } else if queue.threads == 0 {
            // No thread to run it, ever: the caller does.
            let task = queue.tasks.pop_back();
            drop(queue);
            if let Some(task) = task {
                task();
            }
            return;
        }
    }
    drop(queue);
    pool.ready.notify_one();
}

fn work(pool: &'static Pool) {
    let mut queue = pool.queue.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(task) = queue.tasks.pop_front() {
            drop(queue);
            task();
            queue = pool.queue.lock().unwrap_or_else(PoisonError::into_inner);
        } else {
            queue.idle += 1;
            queue = pool
                .ready
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
            queue.idle -= 1;
        }
    }
}
