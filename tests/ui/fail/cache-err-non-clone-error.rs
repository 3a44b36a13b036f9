use cache_core::ttl_cached;

#[derive(Debug)]
pub struct DbError;

#[ttl_cached(secs = 5, cache_err = true)]
fn load(id: u64) -> Result<u64, DbError> {
    Ok(id)
}

pub struct Row;

// `cache_none = true` caches the whole `Option`: its words say so.
#[ttl_cached(secs = 5, cache_none = true)]
fn find(id: u64) -> Option<Row> {
    let _ = id;
    None
}

fn main() {
    let _ = load(1);
    let _ = find(1);
}
