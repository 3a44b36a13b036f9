use cache_core::ttl_cached;

#[ttl_cached(secs = 60, stale_while_revalidate = 30)]
async fn greeting(name: String) -> String {
    format!("hello {name}")
}

fn main() {
    let _ = greeting(String::new());
}
