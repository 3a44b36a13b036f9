//! `cache_core::set_refresh_spawner`: the background refreshes of `async fn`s with
//! `stale_while_revalidate` run on the executor the application installs (smol's
//! here), whatever runtime the caller is on. A test binary of its own: the spawner is
//! installed once per process.

use cache_core::{ttl_cached, MockClock};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

static SPAWNED: AtomicUsize = AtomicUsize::new(0);

fn install() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        cache_core::set_refresh_spawner(|refresh| {
            SPAWNED.fetch_add(1, Ordering::SeqCst);
            smol::spawn(refresh).detach();
        })
        .expect("installed once");
    });
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

static CLOCK: LazyLock<MockClock> = LazyLock::new(MockClock::new);
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(secs = 10, stale_while_revalidate = 5, clock = CLOCK.clone())]
async fn greeting(name: String) -> String {
    let run = RUNS.fetch_add(1, Ordering::SeqCst);
    format!("hello {name} #{run}")
}

#[test]
fn an_installed_spawner_runs_the_refresh_and_the_caller_gets_the_stale_value() {
    install();
    assert!(
        cache_core::set_refresh_spawner(|_| {}).is_err(),
        "only once"
    );
    smol::block_on(async {
        assert_eq!(greeting("ana".to_owned()).await, "hello ana #0");
        CLOCK.advance(Duration::from_secs(12));
        assert_eq!(greeting("ana".to_owned()).await, "hello ana #0", "stale");
    });
    assert_eq!(SPAWNED.load(Ordering::SeqCst), 1);
    wait_for("the refresh", || {
        greeting_cache().stats().refreshes_succeeded == 1
    });
    // On a tokio runtime too: the installed spawner comes first.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(greeting("ana".to_owned()).await, "hello ana #1");
        CLOCK.advance(Duration::from_secs(12));
        assert_eq!(greeting("ana".to_owned()).await, "hello ana #1", "stale");
    });
    assert_eq!(SPAWNED.load(Ordering::SeqCst), 2);
    wait_for("the second refresh", || {
        greeting_cache().stats().refreshes_succeeded == 2
    });
}
