use cache_core::ttl_cached;
use std::rc::Rc;

/// The key is the id alone, but the refresh needs every argument.
#[ttl_cached(secs = 60, key = id, stale_while_revalidate = 30)]
fn label(id: u64, prefix: Rc<String>) -> String {
    format!("{prefix}{id}")
}

fn main() {
    label(1, Rc::new("#".to_owned()));
}
