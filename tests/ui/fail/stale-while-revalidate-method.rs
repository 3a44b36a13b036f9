use cache_core::ttl_cached;

#[derive(Clone)]
struct Repo {
    id: u64,
}

impl Repo {
    // With the body expanded in place, `self` is the caller's: a refresh cannot take it.
    #[ttl_cached(secs = 60, key = self.id, stale_while_revalidate = 30, helpers = "none")]
    fn name(&self) -> String {
        format!("repo {}", self.id)
    }
}

struct Unshared {
    id: u64,
}

impl Unshared {
    // Without, the refresh calls the method on a clone of `self`: it must be `Clone`.
    #[ttl_cached(secs = 60, key = self.id, stale_while_revalidate = 30)]
    fn name(&self) -> String {
        format!("unshared {}", self.id)
    }
}

fn main() {
    Repo { id: 1 }.name();
    Unshared { id: 1 }.name();
}
