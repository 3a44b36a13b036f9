//! Placeholder: the `#[ttl_cached]` attribute is being written (issue 3).
use proc_macro::TokenStream;

/// Placeholder that returns the function unchanged until the real macro lands.
#[proc_macro_attribute]
pub fn ttl_cached(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
