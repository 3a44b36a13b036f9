//! Attributes, visibility, lifetimes, `unsafe`, `mut` and patterns are kept.
#![deny(warnings)]

mod api {
    use cache_core::ttl_cached;

    /// Documented, public, and `#[must_use]`: all kept.
    #[must_use]
    #[inline]
    #[ttl_cached(secs = 60)]
    pub fn public(id: u64) -> u64 {
        id + 1
    }

    #[ttl_cached(secs = 60)]
    pub(crate) fn with_lifetime<'a>(text: &'a str) -> usize {
        text.len()
    }

    /// # Safety
    /// None needed; this only shows that `unsafe` is kept.
    #[ttl_cached(secs = 60)]
    pub unsafe fn unsafe_lookup(id: u64) -> u64 {
        id
    }

    #[cfg(all())]
    #[ttl_cached(secs = 60)]
    pub fn configured(id: u64) -> u64 {
        id
    }

    #[ttl_cached(secs = 60, key = a + b)]
    pub fn pattern_with_key((a, b): (u64, u64), mut scale: u64) -> u64 {
        scale *= 2;
        (a + b) * scale
    }

    /// A user type named like a type parameter could be.
    #[derive(Clone)]
    pub struct K(pub u64);

    #[ttl_cached(secs = 60, key = id)]
    pub fn returns_a_type_named_k(id: u64) -> K {
        K(id)
    }

    #[ttl_cached(secs = 60)]
    pub fn r#match(id: u64) -> u64 {
        id
    }
}

fn main() {
    let _ = api::public(1);
    let _ = api::public_cache().len();
    api::with_lifetime("abc");
    // SAFETY: `unsafe_lookup` has no safety requirement.
    unsafe {
        api::unsafe_lookup(1);
    }
    api::configured(1);
    api::pattern_with_key((1, 2), 3);
    api::r#match(1);
    api::match_clear();
    let _: api::K = api::returns_a_type_named_k(2);
}
