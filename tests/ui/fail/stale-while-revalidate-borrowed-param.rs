use cache_core::ttl_cached;

// A plain `&str` is copied to a `String` for the refresh and lent back; a borrow
// inside a parameter cannot be (without `key = ...`, the key's check says so).
#[ttl_cached(secs = 60, stale_while_revalidate = 30, key = names.len())]
fn greeting(names: &[&str]) -> String {
    format!("hello {}", names.join(", "))
}

#[ttl_cached(secs = 60, stale_while_revalidate = 30)]
fn first(name: Option<&str>) -> String {
    name.unwrap_or_default().to_owned()
}

fn main() {
    greeting(&["ana"]);
    first(Some("ana"));
}
