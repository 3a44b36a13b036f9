//! Token-level helpers: spans, identifiers and lifetimes, with no knowledge of what
//! the tokens mean.
//!
//! This is the leaf of the crate's module graph: it imports nothing from the crate,
//! and must never learn about caches, options or the expansion; a helper that needs
//! any of those belongs in [`crate::model`] or in the module that uses it.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::Type;

/// The name of `ident` without the `r#` of a raw identifier.
pub(crate) fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

/// `tokens` with every span set to `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut new_group = Group::new(group.delimiter(), respan(group.stream(), span));
                new_group.set_span(span);
                token = TokenTree::Group(new_group);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// `tokens` with each placeholder identifier replaced by its tokens, whose spans are
/// kept.
pub(crate) fn replace_idents(
    tokens: TokenStream,
    replacements: &[(&str, TokenStream)],
) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|token| match token {
            TokenTree::Ident(ident) => {
                match replacements
                    .iter()
                    .find(|(placeholder, _)| ident == placeholder)
                {
                    Some((_, replacement)) => replacement.clone(),
                    None => TokenTree::Ident(ident).into(),
                }
            }
            TokenTree::Group(group) => {
                let stream = replace_idents(group.stream(), replacements);
                let mut new_group = Group::new(group.delimiter(), stream);
                new_group.set_span(group.span());
                TokenTree::Group(new_group).into()
            }
            other => other.into(),
        })
        .collect()
}

/// `self` → `__ttl_cached_self`, except in paths (`self::module`).
pub(crate) fn rename_self(tokens: TokenStream) -> TokenStream {
    let mut renamed = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Ident(ident) if ident == "self" => {
                let is_path = matches!(
                    tokens.peek(),
                    Some(TokenTree::Punct(punct)) if punct.as_char() == ':'
                );
                if is_path {
                    renamed.push(TokenTree::Ident(ident));
                } else {
                    let span = ident.span();
                    renamed.push(TokenTree::Ident(Ident::new("__ttl_cached_self", span)));
                }
            }
            TokenTree::Group(group) => {
                let mut new_group = Group::new(group.delimiter(), rename_self(group.stream()));
                new_group.set_span(group.span());
                renamed.push(TokenTree::Group(new_group));
            }
            other => renamed.push(other),
        }
    }
    renamed.into_iter().collect()
}

/// `ty` with every named lifetime but `'static` replaced by `'_`, for types in a
/// function that does not declare those lifetimes (closure parameters, fn pointers).
pub(crate) fn with_elided_lifetimes(mut ty: Type) -> Type {
    struct Elide;
    impl VisitMut for Elide {
        fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
            if lifetime.ident != "static" {
                lifetime.ident = Ident::new("_", lifetime.ident.span());
            }
        }
        fn visit_type_mut(&mut self, ty: &mut Type) {
            visit_mut::visit_type_mut(self, ty);
        }
    }
    Elide.visit_type_mut(&mut ty);
    ty
}

/// The spans of the first and the last token of `tokens`.
pub(crate) fn spans(tokens: &impl ToTokens) -> (Span, Span) {
    let mut tokens = tokens.to_token_stream().into_iter();
    let first = tokens
        .next()
        .map_or_else(Span::call_site, |token| token.span());
    let last = tokens.last().map_or(first, |token| token.span());
    (first, last)
}
