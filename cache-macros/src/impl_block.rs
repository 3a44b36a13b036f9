//! `#[ttl_cached_impl]`: the attribute on an `impl` block (a trait impl above all) that
//! expands the `#[ttl_cached]` methods inside it and moves everything but the methods
//! themselves to an inherent `impl` of the same type.
//!
//! A `#[ttl_cached]` on its own cannot see the `impl` around it, and a trait impl may
//! hold only the trait's items: the helpers (`_invalidate`, `_cache`…) and the hidden
//! items the method calls would each be an error there. An attribute on the block sees
//! it whole, and runs before the attributes inside it: it copies each cached method to
//! an inherent `impl`, and tells each copy's `#[ttl_cached]` which part of the
//! expansion to emit (see [`crate::expand::Context`]). The method stays in the trait
//! impl, and calls the rest as `Self::…`, which finds it in the inherent `impl`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Error, ImplItem, ItemImpl, Meta};

/// Expands `#[ttl_cached_impl] impl … { … }`.
///
/// Input:
/// ```text
/// #[ttl_cached_impl]
/// impl Store for Db {
///     #[ttl_cached(secs = 20, key = id)]
///     fn get(&self, id: u64) -> Row { body }
/// }
/// ```
/// Output:
/// ```text
/// impl Store for Db {
///     fn get(&self, id: u64) -> Row { /* lookup, or Self::get_uncached(self, id) */ }
/// }
/// impl Db {
///     fn get_uncached(&self, id: u64) -> Row { body }
///     fn get_invalidate(&self, id: u64) -> bool { … }
///     // `_clear`, `_cache`, `_refresh`, and the hidden items
/// }
/// ```
pub(crate) fn ttl_cached_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item_impl: ItemImpl = match syn::parse2(item.clone()) {
        Ok(item_impl) => item_impl,
        Err(_) => {
            let error = Error::new(
                Span::call_site(),
                "`#[ttl_cached_impl]` applies to an `impl` block, such as \
                 `impl Store for Db { … }`; on a function, use `#[ttl_cached]`",
            )
            .into_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = TokenStream::new();
    if !args.is_empty() {
        errors.extend(
            Error::new_spanned(
                &args,
                "`#[ttl_cached_impl]` takes no options: give them to each method's \
                 `#[ttl_cached(...)]`",
            )
            .into_compile_error(),
        );
    }
    let mut moved = Vec::new();
    for impl_item in &mut item_impl.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let Some(attr) = method.attrs.iter_mut().find(|attr| is_ttl_cached(attr)) else {
            continue;
        };
        // The method's own `#[ttl_cached]` expands it, told which part to emit: the
        // attribute keeps the path the user wrote, so their `use` of it stays used.
        let Some(main_attr) = with_part(attr, "main") else {
            continue;
        };
        let rest_attr = with_part(attr, "rest");
        *attr = main_attr;
        let mut copy = method.clone();
        if let Some(copy_attr) = copy.attrs.iter_mut().find(|attr| is_ttl_cached(attr)) {
            *copy_attr = rest_attr.unwrap_or_else(|| copy_attr.clone());
        }
        moved.push(copy);
    }
    if moved.is_empty() {
        return quote!(#item_impl #errors);
    }
    let cfgs = item_impl
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"));
    let (impl_generics, _, where_clause) = item_impl.generics.split_for_impl();
    let self_ty = &item_impl.self_ty;
    // Spanned at the type: an inherent `impl` of a type from another crate is refused
    // by rustc (E0116), and that error then points at the type.
    let impl_token = quote_spanned!(self_ty.span()=> impl);
    quote! {
        #item_impl
        #(#cfgs)*
        #impl_token #impl_generics #self_ty #where_clause {
            #(#moved)*
        }
        #errors
    }
}

/// `attr` (a `#[ttl_cached(options)]`) as `#[ttl_cached(__ttl_cached_part = part,
/// options)]`: the part of the expansion to emit (see [`crate::expand::Context`]).
/// `None` for `#[ttl_cached = …]`, which rustc refuses by itself.
fn with_part(attr: &Attribute, part: &str) -> Option<Attribute> {
    let part = Ident::new(part, Span::call_site());
    let marker = quote!(__ttl_cached_part = #part);
    let mut attr = attr.clone();
    match &mut attr.meta {
        Meta::List(list) => {
            let options = &list.tokens;
            list.tokens = quote!(#marker, #options);
        }
        Meta::Path(path) => {
            attr.meta = syn::parse_quote!(#path(#marker));
        }
        Meta::NameValue(_) => return None,
    }
    Some(attr)
}

/// `#[ttl_cached(...)]` or `#[cache_core::ttl_cached(...)]`.
fn is_ttl_cached(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "ttl_cached")
}
