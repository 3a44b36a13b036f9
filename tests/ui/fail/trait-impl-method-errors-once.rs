use cache_core::{ttl_cached, ttl_cached_impl};

trait Store {
    fn get(&self, id: u64) -> String;
    fn all(&self) -> Vec<String>;
}

struct Db;

#[ttl_cached_impl]
impl Store for Db {
    // A method needs `key`: one error, at the receiver, though the method is expanded
    // in two places.
    #[ttl_cached(secs = 20)]
    fn get(&self, id: u64) -> String {
        id.to_string()
    }

    #[ttl_cached(secs = 20, capacty = 5, key = ())]
    fn all(&self) -> Vec<String> {
        Vec::new()
    }
}

#[ttl_cached_impl(secs = 5)]
impl Db {}

#[ttl_cached_impl]
fn not_an_impl() {}

fn main() {
    Db.get(1);
    Db.all();
    not_an_impl();
}
