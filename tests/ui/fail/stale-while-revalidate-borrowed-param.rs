use cache_core::ttl_cached;

#[ttl_cached(secs = 60, stale_while_revalidate = 30)]
fn greeting(name: &str) -> String {
    format!("hello {name}")
}

fn main() {
    greeting("ana");
}
