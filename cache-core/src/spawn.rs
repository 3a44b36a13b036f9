//! Where the background refresh of an `async fn` runs (`#[ttl_cached(
//! stale_while_revalidate = N)]`): on the spawner the application installed with
//! [`set_refresh_spawner`]; else, with the `tokio` feature, on the caller's tokio
//! runtime (`Handle::try_current`); else nowhere, and the caller that found the value
//! stale awaits the refresh itself.
//!
//! This module owns that choice, and nothing else: it never runs a future itself,
//! never blocks, and never depends on a runtime in the default build.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

/// A refresh to run in the background, as [`set_refresh_spawner`]'s spawner is given
/// it: it stores its own result, and catches its own panics; run it to completion.
///
/// # Examples
///
/// ```
/// use cache_core::RefreshTask;
///
/// // What a spawner does with one: here, hands it to a thread that polls it.
/// fn run(refresh: RefreshTask) {
///     std::thread::spawn(move || {
///         let waker = std::task::Waker::noop();
///         let mut context = std::task::Context::from_waker(&waker);
///         let mut refresh = refresh;
///         while refresh.as_mut().poll(&mut context).is_pending() {
///             std::thread::yield_now();
///         }
///     });
/// }
/// run(Box::pin(async {}));
/// ```
pub type RefreshTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

type Installed = Box<dyn Fn(RefreshTask) + Send + Sync + 'static>;

static SPAWNER: OnceLock<Installed> = OnceLock::new();

/// The spawner was installed already: [`set_refresh_spawner`] succeeds once per
/// process.
///
/// # Examples
///
/// ```
/// use cache_core::{set_refresh_spawner, SpawnerAlreadySet};
///
/// assert_eq!(set_refresh_spawner(|_| {}), Ok(()));
/// assert_eq!(set_refresh_spawner(|_| {}), Err(SpawnerAlreadySet));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnerAlreadySet;

impl std::fmt::Display for SpawnerAlreadySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a refresh spawner was installed already")
    }
}

impl std::error::Error for SpawnerAlreadySet {}

/// Installs, once per process, what runs the background refreshes of `async fn`s
/// memoized with `#[ttl_cached(stale_while_revalidate = N)]`: `spawn` is given each
/// refresh as a boxed `Send` future, to run to completion on any executor (smol,
/// async-std, a runtime of your own). It takes precedence over the `tokio` feature's
/// `Handle::try_current`.
///
/// Without a spawner (and without the `tokio` feature, or outside a tokio runtime),
/// the caller that finds a value stale awaits its refresh itself, and returns the
/// refreshed value; every other caller gets the stale value at once.
///
/// Sync functions never use it: their refreshes run on the crate's refresh threads.
///
/// # Errors
///
/// [`SpawnerAlreadySet`] if a spawner was installed before (the first one stays).
///
/// # Examples
///
/// ```
/// // Any executor that runs `Send` futures; a thread per refresh here.
/// cache_core::set_refresh_spawner(|refresh| {
///     std::thread::spawn(move || {
///         let waker = std::task::Waker::noop();
///         let mut context = std::task::Context::from_waker(&waker);
///         let mut refresh = refresh;
///         while refresh.as_mut().poll(&mut context).is_pending() {
///             std::thread::yield_now();
///         }
///     });
/// })
/// .unwrap();
/// assert!(cache_core::set_refresh_spawner(|_| {}).is_err(), "once");
/// ```
pub fn set_refresh_spawner(
    spawn: impl Fn(RefreshTask) + Send + Sync + 'static,
) -> Result<(), SpawnerAlreadySet> {
    SPAWNER.set(Box::new(spawn)).map_err(|_| SpawnerAlreadySet)
}

/// Where a refresh can be spawned from this call, if anywhere.
pub(crate) enum Spawner {
    /// The application's ([`set_refresh_spawner`]).
    Installed(&'static (dyn Fn(RefreshTask) + Send + Sync + 'static)),
    /// The caller's tokio runtime.
    #[cfg(feature = "tokio")]
    Tokio(tokio::runtime::Handle),
}

impl Spawner {
    /// The installed spawner, or the caller's tokio runtime (feature `tokio`).
    pub(crate) fn find() -> Option<Self> {
        if let Some(spawner) = SPAWNER.get() {
            return Some(Spawner::Installed(&**spawner));
        }
        #[cfg(feature = "tokio")]
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            return Some(Spawner::Tokio(runtime));
        }
        None
    }

    pub(crate) fn spawn(self, task: RefreshTask) {
        match self {
            Spawner::Installed(spawn) => spawn(task),
            // Detached: the task stores its own result and counts its own failure.
            #[cfg(feature = "tokio")]
            Spawner::Tokio(runtime) => drop(runtime.spawn(task)),
        }
    }
}

/// `future`'s output, or `Err` if polling it panicked (the panic is not resumed: a
/// refresh that panics is a failed refresh).
pub(crate) async fn catch_panic<F: Future>(future: F) -> Result<F::Output, ()> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |context| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            future.as_mut().poll(context)
        })) {
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    })
    .await
}
