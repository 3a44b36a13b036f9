//! `async fn` and async methods, with every option: the functions stay `async`, the
//! helpers keep their sync or async nature, and the futures are `Send` when the body's
//! is. No runtime is named: a minimal executor drives the futures.
#![deny(warnings)]

use cache_core::ttl_cached;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Polls `future` to completion on this thread (the futures here never wait).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn assert_send<T: Send>(_: T) {}

#[ttl_cached(secs = 60)]
async fn borrowed(id: u64, region: &str, bytes: &[u8]) -> String {
    format!("{id}/{region}/{}", bytes.len())
}

#[ttl_cached(millis = 500, capacity = 10, refresh = true, single_flight = false)]
pub async fn every_option(n: u32) -> u32 {
    n + 1
}

#[ttl_cached(ttl = Duration::from_secs(5), key = name.len())]
async fn keyed(name: String) -> usize {
    name.len()
}

#[ttl_cached(secs = 5, cache_err = true)]
async fn fallible(n: i32) -> Result<i32, String> {
    if n < 0 {
        Err("negative".to_owned())
    } else {
        Ok(n)
    }
}

#[ttl_cached(secs = 5, cache_none = true)]
async fn optional(n: i32) -> Option<i32> {
    (n > 0).then_some(n)
}

#[ttl_cached(secs = 5)]
async fn only_ok(n: i32) -> std::io::Result<i32> {
    Ok(n)
}

#[ttl_cached(secs = 5, key = a + b)]
async fn pattern((a, b): (u64, u64)) -> u64 {
    a * b
}

#[ttl_cached(secs = 5)]
async unsafe fn unsafe_async(n: u8) -> u8 {
    n
}

/// The body holds an `Rc` across an `.await`: the function still compiles, and its
/// future is simply not `Send`.
#[ttl_cached(secs = 5)]
async fn not_send_body(n: u8) -> u8 {
    let shared = Rc::new(n);
    std::future::ready(()).await;
    *shared
}

/// Recursion: boxed, as in any recursive `async fn`; no lock is held while it runs.
#[ttl_cached(secs = 60)]
async fn fib(n: u32) -> u128 {
    if n < 2 {
        n as u128
    } else {
        Box::pin(fib(n - 1)).await + Box::pin(fib(n - 2)).await
    }
}

struct Repo {
    tenant: String,
}

impl Repo {
    #[ttl_cached(secs = 30, key = (self.tenant.clone(), id))]
    async fn load(&self, id: u64) -> String {
        format!("{}/{id}", self.tenant)
    }

    #[ttl_cached(secs = 30, key = id)]
    async fn load_shared(self: Arc<Self>, id: u64) -> String {
        format!("{}/{id}", self.tenant)
    }

    #[ttl_cached(secs = 30)]
    async fn named(tenant: &str) -> Self {
        Repo {
            tenant: tenant.to_owned(),
        }
    }
}

impl Clone for Repo {
    fn clone(&self) -> Self {
        Repo {
            tenant: self.tenant.clone(),
        }
    }
}

fn main() {
    let region = String::from("eu");
    assert_send(borrowed(1, &region, &[1, 2]));
    assert_eq!(block_on(borrowed(1, &region, &[1, 2])), "1/eu/2");
    assert_eq!(block_on(borrowed(1, &region, &[1, 2])), "1/eu/2");
    let _: &'static cache_core::TtlMap<(u64, String, Vec<u8>), String> = borrowed_cache();
    let _: bool = borrowed_invalidate(1, "eu", &[1, 2]);
    let _: String = block_on(borrowed_refresh(1, "eu", &[1, 2]));
    let _: String = block_on(borrowed_uncached(1, "eu", &[1, 2]));
    borrowed_clear();

    assert_send(every_option(1));
    assert_eq!(block_on(every_option(1)), 2);
    assert_eq!(block_on(keyed("abc".to_owned())), 3);
    assert_eq!(keyed_cache().len(), 1);
    assert!(keyed_invalidate("xyz".to_owned()));
    keyed_clear();
    assert_eq!(block_on(fallible(-1)), Err("negative".to_owned()));
    assert_eq!(block_on(optional(0)), None);
    assert_eq!(block_on(only_ok(3)).ok(), Some(3));
    let _: &'static cache_core::TtlMap<(i32,), i32> = only_ok_cache();
    assert_eq!(block_on(pattern((2, 3))), 6);
    assert_eq!(block_on(unsafe { unsafe_async(4) }), 4);
    assert_eq!(block_on(not_send_body(5)), 5);
    assert_send(fib(10));
    assert_eq!(block_on(fib(150)), 9969216677189303386214405760200);

    let repo = Repo {
        tenant: "acme".to_owned(),
    };
    assert_send(repo.load(1));
    assert_eq!(block_on(repo.load(1)), "acme/1");
    assert!(repo.load_invalidate(1));
    assert_eq!(block_on(repo.load_refresh(1)), "acme/1");
    assert_eq!(block_on(repo.load_uncached(2)), "acme/2");
    Repo::load_clear();
    assert_eq!(Repo::load_cache().len(), 0);
    assert_eq!(block_on(Arc::new(repo.clone()).load_shared(3)), "acme/3");
    assert_eq!(block_on(Repo::named("globex")).tenant, "globex");
}
