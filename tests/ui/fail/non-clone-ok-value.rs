use cache_core::ttl_cached;
use std::rc::Rc;

#[ttl_cached(secs = 5)]
fn shared(id: u64) -> Result<Rc<u64>, String> {
    Ok(Rc::new(id))
}

fn main() {
    let _ = shared(1);
}
