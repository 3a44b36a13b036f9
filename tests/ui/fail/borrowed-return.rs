use cache_core::ttl_cached;

#[ttl_cached(secs = 5)]
fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

fn main() {
    first_word("hello world");
}
