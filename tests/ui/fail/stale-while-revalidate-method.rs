use cache_core::ttl_cached;

struct Repo {
    id: u64,
}

impl Repo {
    #[ttl_cached(secs = 60, key = self.id, stale_while_revalidate = 30)]
    fn name(&self) -> String {
        format!("repo {}", self.id)
    }
}

fn main() {
    Repo { id: 1 }.name();
}
