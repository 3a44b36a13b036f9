use cache_core::ttl_cached;

struct Repo {
    tenant: String,
}

impl Repo {
    #[ttl_cached(secs = 5)]
    fn load(&self, id: u64) -> String {
        format!("{}/{id}", self.tenant)
    }
}

fn main() {
    let repo = Repo { tenant: "acme".into() };
    repo.load(1);
}
