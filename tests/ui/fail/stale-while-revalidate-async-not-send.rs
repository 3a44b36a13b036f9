use cache_core::ttl_cached;
use std::rc::Rc;

async fn pause() {}

/// The body's future holds an `Rc` across an `.await`: it cannot be spawned.
#[ttl_cached(secs = 60, stale_while_revalidate = 30)]
async fn greeting(name: String) -> String {
    let shared = Rc::new(name);
    pause().await;
    format!("hello {shared}")
}

fn main() {
    let _ = greeting(String::new());
}
