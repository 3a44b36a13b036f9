//! The expansion model: one cached function as the generators see it (its options,
//! its signature, the names of everything generated for it), and the few facts about
//! it that more than one generator needs (how siblings name each other, the key and
//! value types as users read them).
//!
//! This module describes; it never generates a whole item. Both [`crate::expand`]
//! (the functions users call) and [`crate::ops`] (the hidden ops function) build on
//! it, and it must never depend on either of them.

use crate::args::{Args, Helpers};
use crate::signature::{CachedFn, CallStyle, Fallible, Param};
use crate::tokens::{unraw, with_elided_lifetimes};
use proc_macro2::{Ident, TokenStream};
use quote::{quote, ToTokens};

/// The names of the generated functions.
pub(crate) struct Names {
    pub(crate) main: Ident,
    pub(crate) invalidate: Ident,
    pub(crate) clear: Ident,
    pub(crate) cache: Ident,
    pub(crate) uncached: Ident,
    pub(crate) refresh: Ident,
    /// Hidden: the generic accessor of the type-erased map.
    pub(crate) map: Ident,
    /// Hidden: every operation on the typed map (see [`crate::ops`]).
    pub(crate) ops: Ident,
    /// Hidden, `key = ...` only: names the key's type where no key is at hand.
    pub(crate) key_type: Ident,
    /// `redis = true` only: the stats of both levels.
    pub(crate) redis_stats: Ident,
    /// Hidden, `redis = true` only: the function's Redis level.
    pub(crate) redis_level: Ident,
}

impl Names {
    /// `hidden_body`: the body's function is not a helper users call (`helpers =
    /// "none"`), so it takes a hidden name.
    fn new(main: &Ident, hidden_body: bool) -> Self {
        // Helpers share the function's span, so "go to definition" and errors about a
        // helper lead to the cached function.
        let base = unraw(main);
        let name = |format: &str| Ident::new(&format.replace("{}", &base), main.span());
        Names {
            main: main.clone(),
            invalidate: name("{}_invalidate"),
            clear: name("{}_clear"),
            cache: name("{}_cache"),
            uncached: if hidden_body {
                name("__ttl_cached_{}_uncached")
            } else {
                name("{}_uncached")
            },
            refresh: name("{}_refresh"),
            map: name("__ttl_cached_{}_map"),
            ops: name("__ttl_cached_{}_ops"),
            key_type: name("__ttl_cached_{}_key_type"),
            redis_stats: name("{}_redis_stats"),
            redis_level: name("__ttl_cached_{}_redis"),
        }
    }
}

/// Everything needed to generate one cached function.
pub(crate) struct Expansion<'a> {
    pub(crate) args: &'a Args,
    pub(crate) func: &'a CachedFn,
    pub(crate) names: Names,
    /// Only the `Ok` / `Some` part of the return value is cached.
    pub(crate) ok_only: bool,
    /// Everything generated is inside the function's body (see [`Self::in_body`]).
    in_body: bool,
    /// `stale_while_revalidate = N`, where it applies (see
    /// [`Self::stale_while_revalidate`]).
    stale_while_revalidate: Option<u64>,
}

impl<'a> Expansion<'a> {
    pub(crate) fn new(args: &'a Args, func: &'a CachedFn) -> Self {
        let ok_only = match func.output.fallible {
            // `err_secs` / `none_secs` cache failures too, as `cache_err` / `cache_none`.
            Some(Fallible::Result) => !Args::is_on(&args.cache_err) && args.err_secs.is_none(),
            Some(Fallible::Option) => !Args::is_on(&args.cache_none) && args.none_secs.is_none(),
            None => false,
        };
        let mut expansion = Expansion {
            args,
            func,
            names: Names::new(
                &func.sig.ident,
                matches!(
                    args.helpers,
                    Some(crate::args::Given {
                        value: Helpers::None,
                        ..
                    })
                ),
            ),
            ok_only,
            in_body: false,
            stale_while_revalidate: args
                .stale_while_revalidate
                .as_ref()
                .filter(|_| crate::valid::stale_while_revalidate(args, func).is_empty())
                .map(|given| given.value),
        };
        expansion.in_body = !expansion.has_helpers()
            && !expansion.redis()
            && func.inner_attrs.is_empty()
            && !crate::signature::types_mention_self(func);
        expansion
    }

    /// Whether everything generated for the function is inside its body, as items and
    /// closures there: no item next to it, so it compiles where only the function may
    /// be, in a trait impl. With `helpers = "none"` (nothing users call but the
    /// function), unless the items would need what an item inside a function cannot
    /// name: `Self` in the parameter or return types, or the Redis level (named after
    /// `Self` in an `impl`). Inner attributes of the body keep it in a function of
    /// its own.
    pub(crate) fn in_body(&self) -> bool {
        self.in_body
    }

    /// `stale_while_revalidate = N`'s window in seconds, for a function it applies
    /// to; elsewhere `valid` reported why, and the function is expanded without it.
    pub(crate) fn stale_while_revalidate(&self) -> Option<u64> {
        self.stale_while_revalidate
    }

    /// Whether the map lives in a typed `static` in the ops function: a free function
    /// without `key = ...`. Elsewhere it lives type-erased in a `MapCell` (see
    /// [`crate::expand`]): inside an `impl` block, a static cannot name `Self`; and the
    /// type of a `key = ...` expression cannot be written.
    pub(crate) fn typed_static(&self) -> bool {
        self.args.key.is_none()
            && (self.func.call_style == CallStyle::Free || self.in_body)
            && !self.is_generic()
    }

    /// The function's type parameters, in order.
    pub(crate) fn type_params(&self) -> Vec<&Ident> {
        self.func
            .sig
            .generics
            .type_params()
            .map(|param| &param.ident)
            .collect()
    }

    /// Whether the function has type parameters: then it has one map per
    /// instantiation of them, in a `TypeMaps` (see [`crate::expand`]).
    pub(crate) fn is_generic(&self) -> bool {
        self.func.sig.generics.type_params().next().is_some()
    }

    /// `::<T, U, extra…>` after a generated function's name, for a generic function
    /// (whose siblings take its type parameters first); `::<extra…>` otherwise; nothing
    /// if both are empty.
    pub(crate) fn turbofish(&self, extra: &[TokenStream]) -> TokenStream {
        let params = self.type_params();
        if params.is_empty() && extra.is_empty() {
            return TokenStream::new();
        }
        quote!(::<#(#params,)* #(#extra),*>)
    }

    /// `(T, U,)`: the instantiation, which tells one map of a generic function from
    /// another.
    pub(crate) fn type_params_tuple(&self) -> TokenStream {
        let params = self.type_params();
        quote!((#(#params,)*))
    }

    /// Whether the function has a Redis level (`redis = true`). A generic function
    /// has none: `redis = true` is refused there (see [`crate::valid`]), and the
    /// function is expanded as if it were absent.
    pub(crate) fn redis(&self) -> bool {
        Args::is_on(&self.args.redis) && !self.is_generic()
    }

    /// Whether the helpers users call are generated (not with `helpers = "none"`).
    pub(crate) fn has_helpers(&self) -> bool {
        !matches!(
            self.args.helpers.as_ref().map(|given| &given.value),
            Some(Helpers::None)
        )
    }

    /// The visibility of the helpers: `helpers = "…"`'s, or the function's. (With
    /// `"none"`, that of the one generated function the body needs, which is hidden:
    /// inherited.)
    pub(crate) fn helper_vis(&self) -> TokenStream {
        match self.args.helpers.as_ref().map(|given| &given.value) {
            None => self.func.vis.to_token_stream(),
            Some(Helpers::Visible(visibility)) => visibility.to_token_stream(),
            Some(Helpers::Private | Helpers::None) => TokenStream::new(),
        }
    }

    /// How one generated function names another.
    pub(crate) fn sibling(&self, name: &Ident) -> TokenStream {
        if self.in_body {
            return quote!(#name);
        }
        match self.func.call_style {
            CallStyle::Free => quote!(#name),
            CallStyle::Associated => quote!(Self::#name),
        }
    }

    /// The stand-in for the body's future type where no body is at hand.
    pub(crate) fn pending_body(&self) -> TokenStream {
        let ret = with_elided_lifetimes(self.func.output.ty.clone());
        quote!(::core::future::Pending<#ret>)
    }

    /// The key type as users read it: `(u64, String)`.
    pub(crate) fn raw_key_type(&self) -> TokenStream {
        let parts = self.func.params.iter().map(Param::owned_type);
        quote!((#(#parts,)*))
    }

    /// The stored value type as users read it: `User`, or `<Result<User, E> as Fallible>::Ok`.
    pub(crate) fn raw_value_type(&self) -> TokenStream {
        let ty = &self.func.output.ty;
        if self.ok_only {
            quote!(<#ty as ::cache_core::__private::Fallible>::Ok)
        } else {
            ty.to_token_stream()
        }
    }
}
