use cache_core::ttl_cached;

#[derive(Debug)]
pub struct DbError;

#[ttl_cached(secs = 5, cache_err = true)]
fn load(id: u64) -> Result<u64, DbError> {
    Ok(id)
}

fn main() {
    let _ = load(1);
}
