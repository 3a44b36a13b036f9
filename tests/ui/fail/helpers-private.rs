mod rates {
    use cache_core::ttl_cached;

    // The function is public; its helpers stay inside `rates`.
    #[ttl_cached(secs = 30, helpers = "private")]
    pub fn rate(currency: &str) -> f64 {
        if currency == "EUR" { 1.08 } else { 1.0 }
    }

    pub fn forget_eur() -> bool {
        rate_invalidate("EUR")
    }
}

fn main() {
    rates::rate("EUR");
    rates::forget_eur();
    rates::rate_cache().clear();
}
