//! Code generation: the cached function and its helpers, from a checked [`CachedFn`](crate::signature::CachedFn).
//!
//! Generated code names only `::cache_core::…`, `::core::…` and `::std::…` paths, and
//! locals prefixed `__ttl_cached_`, so nothing in the user's scope can shadow it. It
//! never holds a lock while the user's body runs: the body is its own function,
//! `<name>_uncached`, which the miss path calls through `__private::compute_after_miss`.
//!
//! An `async fn` stays one, and so do `_uncached` and `_refresh`; its miss path awaits
//! `__private::compute_after_miss_async`, which never blocks a thread and holds no
//! lock across an `.await`. The future the caller awaits holds only the arguments,
//! the owned key, `&'static` references and the body's own future, so it is `Send`
//! exactly when the body's future is (see [`crate::ops`] for how its type stays
//! unnamed yet unboxed). A hit returns before the first `.await`.
//!
//! The functions generated here work with the types as the user wrote them and need
//! no trait bound on them; everything that needs `Hash`, `Eq` or `Clone` is in the one
//! hidden function built by [`crate::ops`], so that a type that lacks one is reported
//! once, at the user's token.
//!
//! # Where the cache lives
//!
//! A free function without `key = ...` keeps its map in a plain typed static,
//! `LazyLock<TtlMap<K, V>>`, inside its ops function (see [`crate::ops`]): no erasure,
//! no `unsafe`.
//!
//! Elsewhere a static cannot name the types: a `static` cannot be an associated item,
//! and a function-local `static` cannot name `Self` or a type inferred from
//! `key = ...`. So there the map lives, type-erased, in a
//! `__private::MapCell` (a `OnceLock<Box<dyn Any + Send + Sync>>` with the `TypeId`
//! read once) inside one hidden generic accessor (`__ttl_cached_<name>_map::<K, V>(init)`),
//! which callers use with the types they know, and which casts back to `TtlMap<K, V>`
//! after comparing the `TypeId`s. A `static` inside a generic function is one static,
//! whatever the type arguments.
//!
//! With `helpers = "none"`, everything is inside the function's body when it can be
//! (see `Expansion::in_body`): the ops function and the accessor as items there, the
//! user's body as a closure (an `async` block for an `async fn`), so that nothing is
//! next to the function and it compiles in a trait impl.
//!
//! A generic function has one map per instantiation of its type parameters: its
//! accessor (`__ttl_cached_<name>_map::<(T, U), K, V>(init)`) holds a
//! `__private::TypeMaps`, a registry of `MapCell`s keyed by the `TypeId` of the tuple
//! of the type parameters, and every generated function takes the type parameters
//! and passes them on.

use crate::args::Args;
use crate::model::Expansion;
use crate::ops;
use crate::signature::{self, CallStyle, Param};
use crate::tokens::{rename_self, replace_idents, respan, spans, unraw, with_elided_lifetimes};
use crate::valid;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{Attribute, Error, ItemFn, LitStr};

/// Parses, checks and expands one `#[ttl_cached(args)] item`.
///
/// On an error in the function itself, emits the function unchanged next to the
/// errors, so that its callers still compile. On an error in the options alone, emits
/// the full expansion as well, so the helpers resolve and only the real mistakes show.
pub(crate) fn ttl_cached(args: TokenStream, item: TokenStream) -> TokenStream {
    let (context, args) = Context::split(args);
    let Parts { main, rest } = parts(args, item, context);
    match context {
        Context::Unknown => quote!(#main #rest),
        Context::ImplMain => main,
        Context::ImplRest => rest,
    }
}

/// Where the attribute is, as far as the macro knows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// A `#[ttl_cached]` on its own: a free function, or a method in an inherent
    /// `impl`, told apart by [`signature::analyze`].
    Unknown,
    /// Written by `#[ttl_cached_impl]` (`__ttl_cached_part = main`) on a method it
    /// leaves in its `impl`: an associated function, receiver or not, of which only
    /// the function users call is emitted.
    ImplMain,
    /// Written by `#[ttl_cached_impl]` (`__ttl_cached_part = rest`) on the copy of the
    /// method it puts in an inherent `impl`: everything else, errors included (so they
    /// are reported once).
    ImplRest,
}

impl Context {
    /// The context marker `#[ttl_cached_impl]` puts before the options, if any, and
    /// the options.
    fn split(args: TokenStream) -> (Context, TokenStream) {
        let tokens: Vec<proc_macro2::TokenTree> = args.clone().into_iter().collect();
        let context = match tokens.as_slice() {
            [proc_macro2::TokenTree::Ident(marker), proc_macro2::TokenTree::Punct(equals), proc_macro2::TokenTree::Ident(part), ..]
                if marker == "__ttl_cached_part" && equals.as_char() == '=' =>
            {
                if part == "main" {
                    Context::ImplMain
                } else {
                    Context::ImplRest
                }
            }
            _ => return (Context::Unknown, args),
        };
        // The marker, and the comma after it.
        (context, tokens.into_iter().skip(4).collect())
    }
}

/// One expansion, split where `#[ttl_cached_impl]` needs it: the function users call
/// (which stays where it was written, in a trait impl too), and everything else (the
/// helpers, the hidden items and the errors), which may go to an inherent `impl`.
pub(crate) struct Parts {
    pub(crate) main: TokenStream,
    pub(crate) rest: TokenStream,
}

/// [`ttl_cached`], in two [`Parts`].
pub(crate) fn parts(args: TokenStream, item: TokenStream, context: Context) -> Parts {
    let item_fn: ItemFn = match syn::parse2(item.clone()) {
        Ok(item_fn) => item_fn,
        Err(_) => {
            let error = Error::new(
                Span::call_site(),
                "`#[ttl_cached]` applies to a function with a body",
            )
            .into_compile_error();
            return Parts {
                main: item,
                rest: error,
            };
        }
    };
    let args: Args = match syn::parse2(args) {
        Ok(args) => args,
        // The parser keeps its errors in `Args::errors`; this is for completeness.
        Err(error) => Args {
            errors: vec![error],
            ..Args::default()
        },
    };
    let original = item_fn.to_token_stream();
    let mut func = match signature::analyze(item_fn) {
        Ok(func) => func,
        Err(error) => {
            let errors = signature::combine(args.errors.into_iter().chain(Some(error)));
            return unexpanded(original, errors);
        }
    };
    if context != Context::Unknown {
        func.call_style = CallStyle::Associated;
    }
    let key_errors = valid::key(&args, &func);
    let option_errors = valid::options(&args, &func);
    // Without a key there is nothing to expand; the function is emitted as written.
    let expandable = key_errors.is_empty() && !args.was_rejected("key");
    let errors = signature::combine(
        args.errors
            .iter()
            .cloned()
            .chain(option_errors)
            .chain(key_errors),
    );
    if !expandable {
        return unexpanded(original, errors);
    }
    let Parts { main, rest } = Expansion::new(&args, &func).expand();
    let errors = errors.map(Error::into_compile_error);
    Parts {
        main,
        rest: quote!(#rest #errors),
    }
}

/// The function as written, and the errors that kept it from being expanded.
fn unexpanded(original: TokenStream, errors: Option<Error>) -> Parts {
    Parts {
        main: original,
        rest: errors.map(Error::into_compile_error).unwrap_or_default(),
    }
}

// The generators of the functions users call. (`Expansion` itself, and what `ops`
// shares with these, is in `crate::model`.)
impl Expansion<'_> {
    /// Everything generated for one cached function: the function users call, and
    /// the rest.
    pub(crate) fn expand(&self) -> Parts {
        if self.in_body() {
            let map = self.map_fn();
            let ops = ops::ops_fn(self, false);
            return Parts {
                main: self.main_fn(quote!(#map #ops)),
                rest: TokenStream::new(),
            };
        }
        let main = self.main_fn(TokenStream::new());
        let uncached = self.uncached_fn();
        let helpers = self.has_helpers();
        let refresh = helpers.then(|| self.refresh_fn());
        let invalidate = helpers.then(|| self.invalidate_fn());
        let clear = helpers.then(|| self.clear_fn());
        let cache = helpers.then(|| self.cache_fn());
        let map = self.map_fn();
        let ops = if self.redis() {
            self.redis_switch()
        } else {
            ops::ops_fn(self, false)
        };
        // Only the helpers name the key's type without a key at hand.
        let key_type = helpers.then(|| self.key_type_fn());
        let rest = quote! {
            #uncached
            #refresh
            #invalidate
            #clear
            #cache
            #map
            #ops
            #key_type
        };
        Parts { main, rest }
    }

    /// The cached function, under the user's name, signature and attributes.
    ///
    /// Input:
    /// ```text
    /// #[ttl_cached(secs = 20)]
    /// pub fn fetch_user(id: u64, region: &str) -> User { body }
    /// ```
    /// Output:
    /// ```text
    /// pub fn fetch_user(id: u64, region: &str) -> User {
    ///     let __ttl_cached_ops = __ttl_cached_fetch_user_ops();
    ///     match (__ttl_cached_ops.lookup)(&id, region) {  // borrowed: a hit allocates nothing
    ///         Ok(value) => value,
    ///         Err(miss) => {  // the hash, and the lead of the computation if the lookup took it
    ///             let key = (ToOwned::to_owned(&id), ToOwned::to_owned(region));
    ///             (__ttl_cached_ops.miss)(miss, key, &mut /* once */ || fetch_user_uncached(id, region))
    ///         }
    ///     }
    /// }
    /// ```
    /// With `key = expr`: `let key = expr;` first, and the lookup is `(ops.lookup)(&key)`.
    ///
    /// An `async fn` returns a hit at once, and otherwise hands the miss (the body's
    /// future, not yet polled) to the ops function, which starts it (see [`crate::ops`]):
    /// ```text
    /// pub async fn fetch_user(id: u64, region: &str) -> User {
    ///     let miss = match (__ttl_cached_fetch_user_ops::<Pending<User>>(None).lookup)(&id, region) {
    ///         Ok(value) => return value,
    ///         Err(miss) => miss,
    ///     };
    ///     let key = (ToOwned::to_owned(&id), ToOwned::to_owned(region));
    ///     match __ttl_cached_fetch_user_ops(Some((miss, key, fetch_user_uncached(id, region)))).miss {
    ///         Some(miss) => miss.await,
    ///         None => unreachable!(),
    ///     }
    /// }
    /// ```
    ///
    /// `items`: what is generated inside the body (see [`Expansion::in_body`]).
    fn main_fn(&self, items: TokenStream) -> TokenStream {
        let attrs = self
            .func
            .outer_attrs
            .iter()
            .map(|attr| expect_as_allow(attr.clone()));
        let head = self.head(&self.names.main, &self.func.sig.output, RunsBody::Yes);
        let body = if self.func.is_async() {
            self.async_body()
        } else {
            self.sync_body()
        };
        // With `key = expr`, the key is needed before the lookup; without, only on a miss.
        let body = match &self.args.key {
            Some(_) => {
                let lookup_key = self.key_before_lookup();
                quote!(#lookup_key #body)
            }
            None => body,
        };
        quote! {
            #(#attrs)*
            #head {
                #items
                #body
            }
        }
    }

    /// The body of an `async fn`: a hit returns before any `.await`; a miss awaits the
    /// single flight that the ops function starts. With `key = expr`, the miss is
    /// spanned at the expression, like every use of the ops function that infers the
    /// key type, so that an unfit key type is reported there, once; the body and the
    /// locals bound outside keep their spans (and so their hygiene).
    fn async_body(&self) -> TokenStream {
        let moves = self.refresh_moves();
        let lookup_ops = self.ops_call(None);
        let lookup_args = self.lookup_args();
        let key = self.key();
        let ops = self.sibling(&self.names.ops);
        let key_type = self.args.key.as_ref().map(|_| quote!(_));
        let types = self.turbofish(&key_type.into_iter().chain([quote!(_)]).collect::<Vec<_>>());
        let start_miss = quote! {
            match #ops #types (::core::option::Option::Some((
                __TTL_CACHED_MISSED,
                __TTL_CACHED_KEY,
                __TTL_CACHED_BODY,
            )))
            .miss
            {
                ::core::option::Option::Some(__ttl_cached_miss) => __ttl_cached_miss.await,
                ::core::option::Option::None => ::core::unreachable!(
                    "the ops function of #[ttl_cached] returns the miss it is given"
                ),
            }
        };
        let start_miss = match self.key_error_span().or_else(|| self.type_param_span()) {
            Some(span) => respan(start_miss, span),
            None => start_miss,
        };
        let start_miss = replace_idents(
            start_miss,
            &[
                ("__TTL_CACHED_MISSED", quote!(__ttl_cached_missed)),
                ("__TTL_CACHED_KEY", quote!(__ttl_cached_key)),
                (
                    "__TTL_CACHED_BODY",
                    if self.stale_while_revalidate().is_some() {
                        self.refresh_call()
                    } else {
                        self.uncached_call()
                    },
                ),
            ],
        );
        quote! {
            let __ttl_cached_missed = match (#lookup_ops.lookup)(#lookup_args) {
                ::core::result::Result::Ok(__ttl_cached_value) => return __ttl_cached_value,
                ::core::result::Result::Err(__ttl_cached_missed) => __ttl_cached_missed,
            };
            #key
            #moves
            #start_miss
        }
    }

    /// With `stale_while_revalidate`, each argument rebound through the
    /// `RefreshArgument` check, spanned at its type: the body may run on another
    /// thread after this call returns, so a type that cannot go there is one error,
    /// at that type.
    fn refresh_moves(&self) -> TokenStream {
        if self.stale_while_revalidate().is_none() {
            return TokenStream::new();
        }
        let moves = self.func.params.iter().enumerate().map(|(index, param)| {
            let name = argument(index, param);
            let ty = &param.ty;
            let (first, last) = spans(ty);
            // A borrowed argument `&T` moves as its owned form (`T::Owned`, as in the
            // key), which the refresh lends back to the body.
            let (moved_ty, value) = if param.by_ref {
                let borrowed = &param.borrowed;
                (
                    quote!(<#borrowed as ::std::borrow::ToOwned>::Owned),
                    quote!(::std::borrow::ToOwned::to_owned(#name)),
                )
            } else {
                (quote!(#ty), quote!(#name))
            };
            let path = quote_spanned!(first=>
                <#moved_ty as ::cache_core::__private::RefreshArgument<_>>::moved);
            let mut arguments = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, value);
            arguments.set_span(last);
            quote!(let #name = #path #arguments;)
        });
        // The receiver: `&self` as a clone of `self`, lent back; `self` (or `self:
        // Arc<Self>` and the like) moved. (`&mut self` is refused for every cached fn.)
        let receiver = self.func.receiver.as_ref().map(|receiver| {
            let self_token = receiver.self_token;
            let span = self_token.span;
            let check = match &receiver.reference {
                Some(_) => quote_spanned!(span=>
                    <Self as ::cache_core::__private::RefreshArgument<_>>::cloned),
                None => {
                    let ty = &receiver.ty;
                    quote_spanned!(span=>
                        <#ty as ::cache_core::__private::RefreshArgument<_>>::moved)
                }
            };
            let mut argument =
                proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, quote!(#self_token));
            argument.set_span(span);
            quote!(let __ttl_cached_self = #check #argument;)
        });
        quote!(#receiver #(#moves)*)
    }

    /// The body of a sync cached function: a hit, or the miss through the runtime.
    ///
    /// With `stale_while_revalidate`, the miss path gets the body boxed with its
    /// arguments moved in (each through the `RefreshArgument` check, at its type),
    /// so that a refresh can run it on another thread after this call returns:
    /// ```text
    /// Err(miss) => {
    ///     let key = (ToOwned::to_owned(&id),);
    ///     let id = <u64 as RefreshArgument<_>>::moved(id);
    ///     (ops.miss)(miss, key, Box::new(move || fetch_user_uncached(id)))
    /// }
    /// ```
    fn sync_body(&self) -> TokenStream {
        let ops = self.ops_call(None);
        let call = self.uncached_call();
        let key = self.key();
        let lookup_args = self.lookup_args();
        if self.stale_while_revalidate().is_some() {
            let moves = self.refresh_moves();
            let call = self.refresh_call();
            return quote! {
                let __ttl_cached_ops = #ops;
                match (__ttl_cached_ops.lookup)(#lookup_args) {
                    ::core::result::Result::Ok(__ttl_cached_value) => __ttl_cached_value,
                    ::core::result::Result::Err(__ttl_cached_missed) => {
                        #key
                        #moves
                        (__ttl_cached_ops.miss)(
                            __ttl_cached_missed,
                            __ttl_cached_key,
                            ::std::boxed::Box::new(move || #call),
                        )
                    }
                }
            };
        }
        quote! {
            let __ttl_cached_ops = #ops;
            match (__ttl_cached_ops.lookup)(#lookup_args) {
                ::core::result::Result::Ok(__ttl_cached_value) => __ttl_cached_value,
                ::core::result::Result::Err(__ttl_cached_missed) => {
                    #key
                    // The body, callable once through `&mut dyn FnMut`: no allocation.
                    let mut __ttl_cached_body = ::core::option::Option::Some(move || #call);
                    (__ttl_cached_ops.miss)(
                        __ttl_cached_missed,
                        __ttl_cached_key,
                        &mut || match ::core::option::Option::take(&mut __ttl_cached_body) {
                            ::core::option::Option::Some(__ttl_cached_call) => __ttl_cached_call(),
                            ::core::option::Option::None => ::core::unreachable!(
                                "#[ttl_cached]: the cache runs the body of a miss once"
                            ),
                        },
                    )
                }
            }
        }
    }

    /// The user's body, under the user's parameters: called on a miss, by `_refresh`,
    /// and by users who want a fresh result without touching the cache.
    ///
    /// Input: `fn fetch_user(id: u64, region: &str) -> User { body }`
    /// Output: `fn fetch_user_uncached(id: u64, region: &str) -> User { body }`
    /// (`async fn` stays `async fn`.)
    fn uncached_fn(&self) -> TokenStream {
        let func = self.func;
        let attrs = func
            .outer_attrs
            .iter()
            .filter(|attr| is_cfg(attr) || lint_level(attr).is_some());
        let doc = if self.has_helpers() {
            doc(&format!(
                "Runs the body of {} without reading or writing its cache.",
                self.link(&self.names.main)
            ))
        } else {
            quote!(#[doc(hidden)])
        };
        let vis = self.helper_vis();
        let asyncness = &func.sig.asyncness;
        let unsafety = &func.sig.unsafety;
        let name = &self.names.uncached;
        let generics = &func.sig.generics;
        let where_clause = &func.sig.generics.where_clause;
        let inputs = &func.sig.inputs;
        let output = &func.sig.output;
        let inner_attrs = &func.inner_attrs;
        let stmts = &func.stmts;
        quote! {
            #(#attrs)*
            #doc
            #[allow(dead_code)]
            #vis #asyncness #unsafety fn #name #generics (#inputs) #output #where_clause {
                #(#inner_attrs)*
                #(#stmts)*
            }
        }
    }

    /// Runs the body and stores its result, replacing any cached one.
    ///
    /// Input: `fn fetch_user(id: u64, region: &str) -> User`
    /// Output:
    /// ```text
    /// fn fetch_user_refresh(id: u64, region: &str) -> User {
    ///     let key = (ToOwned::to_owned(&id), ToOwned::to_owned(region));
    ///     let result = fetch_user_uncached(id, region);
    ///     (__ttl_cached_fetch_user_ops().store)(key, &result);
    ///     result
    /// }
    /// ```
    /// An `async fn`'s `_refresh` is `async` and awaits the body.
    fn refresh_fn(&self) -> TokenStream {
        let doc = doc(&format!(
            "Runs the body of {} and stores the fresh result in its cache, replacing \
             any cached one.",
            self.link(&self.names.main)
        ));
        let attrs = self.helper_attrs();
        let head = self.head(&self.names.refresh, &self.func.sig.output, RunsBody::Yes);
        let key = match &self.args.key {
            Some(_) => self.key_before_lookup(),
            None => self.key(),
        };
        let call = self.uncached_call();
        let call = if self.func.is_async() {
            quote!(#call.await)
        } else {
            call
        };
        let ops = self.ops_call(None);
        quote! {
            #doc
            #attrs
            #head {
                #key
                let __ttl_cached_result = #call;
                (#ops.store)(__ttl_cached_key, &__ttl_cached_result);
                __ttl_cached_result
            }
        }
    }

    /// Removes the entry for one set of arguments.
    ///
    /// Input: `fn fetch_user(id: u64, region: &str) -> User`
    /// Output:
    /// ```text
    /// fn fetch_user_invalidate(id: u64, region: &str) -> bool {
    ///     (__ttl_cached_fetch_user_ops().remove)(&id, region)
    /// }
    /// ```
    fn invalidate_fn(&self) -> TokenStream {
        let doc = doc(&format!(
            "Removes the cached result of {} for these arguments; returns `true` if a \
             live entry was removed.",
            self.link(&self.names.main)
        ));
        let attrs = self.helper_attrs();
        let output = syn::parse_quote!(-> bool);
        let head = self.head(&self.names.invalidate, &output, RunsBody::No);
        let key = match &self.args.key {
            Some(_) => self.key_before_lookup(),
            None => TokenStream::new(),
        };
        let ops = self.ops_call(None);
        let lookup_args = self.lookup_args();
        quote! {
            #doc
            #attrs
            #head {
                #key
                (#ops.remove)(#lookup_args)
            }
        }
    }

    /// Removes every entry.
    ///
    /// Input: `fn fetch_user(id: u64, region: &str) -> User`
    /// Output: `fn fetch_user_clear() { (__ttl_cached_fetch_user_ops().clear)() }`
    fn clear_fn(&self) -> TokenStream {
        let doc = doc(&format!(
            "Removes every cached result of {}.",
            self.link(&self.names.main)
        ));
        let attrs = self.helper_attrs();
        let vis = self.helper_vis();
        let name = &self.names.clear;
        let generics = &self.func.sig.generics;
        let where_clause = &self.func.sig.generics.where_clause;
        let ops = self.ops_call(Some(quote!(__ttl_cached_key_type)));
        let key_type = self.key_type_binding();
        quote! {
            #doc
            #attrs
            #vis fn #name #generics () #where_clause {
                #key_type
                (#ops.clear)()
            }
        }
    }

    /// The map itself, for `len()`, `stats()`, `sweep()`...
    ///
    /// Input: `fn fetch_user(id: u64, region: &str) -> User`
    /// Output:
    /// ```text
    /// fn fetch_user_cache() -> &'static TtlMap<(u64, String), User> {
    ///     (__ttl_cached_fetch_user_ops().map)()
    /// }
    /// ```
    /// With `key = expr`, the key type is `impl Hash + Eq + Send + Sync + 'static`: a
    /// macro cannot write the type of an expression.
    fn cache_fn(&self) -> TokenStream {
        let doc = doc(&format!(
            "The cache behind {}: for `len()`, `stats()`, `sweep()` and the other \
             `TtlMap` methods.",
            self.link(&self.names.main)
        ));
        let attrs = self.helper_attrs();
        let vis = self.helper_vis();
        let name = &self.names.cache;
        let generics = &self.func.sig.generics;
        let where_clause = &self.func.sig.generics.where_clause;
        let value = self.raw_value_type();
        let ops = self.ops_call(Some(quote!(__ttl_cached_key_type)));
        let key = match &self.args.key {
            None => self.raw_key_type(),
            Some(_) => {
                let clone = self
                    .stale_while_revalidate()
                    .map(|_| quote!(+ ::core::clone::Clone));
                quote! {
                    impl ::core::hash::Hash + ::core::cmp::Eq + ::core::marker::Send + ::core::marker::Sync + 'static #clone
                }
            }
        };
        let key_type = self.key_type_binding();
        quote! {
            #doc
            #attrs
            #vis fn #name #generics () -> &'static ::cache_core::TtlMap<#key, #value> #where_clause {
                #key_type
                (#ops.map)()
            }
        }
    }

    /// The one place the map is stored, in an `impl` block or with `key = ...` (a free
    /// function without `key` has a typed static instead; see [`Expansion::typed_static`]).
    ///
    /// Output:
    /// ```text
    /// fn __ttl_cached_fetch_user_map<K: 'static, V: 'static>(init: fn() -> Box<dyn Any + Send + Sync>)
    ///     -> &'static TtlMap<K, V>
    /// {
    ///     // A `OnceLock<Box<dyn Any + Send + Sync>>` that checks the type without a
    ///     // vtable call (see `cache_core`'s `map_cell.rs`).
    ///     static CELL: MapCell = MapCell::new();
    ///     CELL.get::<K, V>(init).unwrap()
    /// }
    /// ```
    fn map_fn(&self) -> TokenStream {
        if self.typed_static() {
            return TokenStream::new();
        }
        let name = &self.names.map;
        let panic_message = LitStr::new(
            &format!(
                "#[ttl_cached] on `{}`: the cache was created for other key or value types. \
                 This happens in a generic `impl` block when the key or the return type \
                 depends on its type parameters, which #[ttl_cached] does not support",
                unraw(&self.names.main)
            ),
            Span::call_site(),
        );
        if self.is_generic() {
            // One map per instantiation: `P` is the tuple of the type parameters.
            return quote! {
                #[doc(hidden)]
                #[allow(dead_code, clippy::all)]
                #[inline]
                fn #name<P: ?::core::marker::Sized + 'static, K: 'static, V: 'static>(
                    init: fn() -> ::std::boxed::Box<dyn ::std::any::Any + ::core::marker::Send + ::core::marker::Sync>,
                ) -> &'static ::cache_core::TtlMap<K, V> {
                    static __TTL_CACHED_MAPS: ::cache_core::__private::TypeMaps =
                        ::cache_core::__private::TypeMaps::new();
                    match __TTL_CACHED_MAPS.get::<P, K, V>(init) {
                        ::core::option::Option::Some(__ttl_cached_map) => __ttl_cached_map,
                        ::core::option::Option::None => ::core::panic!(#panic_message),
                    }
                }
            };
        }
        quote! {
            #[doc(hidden)]
            #[allow(dead_code, clippy::all)]
            #[inline]
            fn #name<K: 'static, V: 'static>(
                init: fn() -> ::std::boxed::Box<dyn ::std::any::Any + ::core::marker::Send + ::core::marker::Sync>,
            ) -> &'static ::cache_core::TtlMap<K, V> {
                static __TTL_CACHED_CELL: ::cache_core::__private::MapCell =
                    ::cache_core::__private::MapCell::new();
                match __TTL_CACHED_CELL.get::<K, V>(init) {
                    ::core::option::Option::Some(__ttl_cached_map) => __ttl_cached_map,
                    ::core::option::Option::None => ::core::panic!(#panic_message),
                }
            }
        }
    }

    /// `redis = true`: the ops function through Redis, the function's level and the
    /// `_redis_stats` helper with the `redis` feature of cache-core; without it, an
    /// error at the option that says how to turn it on, and the plain ops function
    /// (so that nothing else is reported). The macro cannot see cache-core's features:
    /// `if_redis!`, a `macro_rules!` of cache-core, picks the branch.
    ///
    /// Output:
    /// ```text
    /// ::cache_core::__private::if_redis! {
    ///     {
    ///         fn __ttl_cached_fetch_user_ops() -> Ops<..> { /* through Redis */ }
    ///         fn __ttl_cached_fetch_user_redis() -> &'static RedisLevel {
    ///             static LEVEL: RedisLevel =
    ///                 RedisLevel::new(env!("CARGO_PKG_NAME"), module_path!(), "fetch_user", 1, false, 10);
    ///             &LEVEL
    ///         }
    ///         fn fetch_user_redis_stats() -> RedisStats {
    ///             __ttl_cached_fetch_user_redis().stats((__ttl_cached_fetch_user_ops().map)().stats())
    ///         }
    ///     }
    ///     { fn __ttl_cached_fetch_user_ops() -> Ops<..> { /* local only */ } }
    /// }
    /// ```
    fn redis_switch(&self) -> TokenStream {
        let with = ops::ops_fn(self, true);
        let without = ops::ops_fn(self, false);
        let level = self.redis_level_fn();
        let stats = self.has_helpers().then(|| self.redis_stats_fn());
        let span = self
            .args
            .redis
            .as_ref()
            .map_or_else(Span::call_site, |given| given.name.span());
        let switch = respan(quote!(::cache_core::__private::if_redis!), span);
        let mut branches = proc_macro2::Group::new(
            proc_macro2::Delimiter::Brace,
            quote!({ #with #level #stats } { #without }),
        );
        branches.set_span(span);
        quote!(#switch #branches)
    }

    /// The function's Redis level, in a static, built at compile time; an associated
    /// function's is named after its type too, on first use.
    fn redis_level_fn(&self) -> TokenStream {
        let name = &self.names.redis_level;
        let function = LitStr::new(&unraw(&self.names.main), Span::call_site());
        let version = self.args.version.as_ref().map_or(1, |given| given.value);
        let version = proc_macro2::Literal::u64_suffixed(version);
        let sliding = crate::args::Args::is_on(&self.args.refresh);
        let lease = self
            .args
            .lease_secs
            .as_ref()
            .map_or(10, |given| given.value);
        let lease = proc_macro2::Literal::u64_suffixed(lease);
        let level = match self.func.call_style {
            CallStyle::Free => quote!(&__TTL_CACHED_REDIS),
            CallStyle::Associated => {
                quote!(__TTL_CACHED_REDIS.owned_by(::core::any::type_name::<Self>))
            }
        };
        let cfgs = self.func.outer_attrs.iter().filter(|attr| is_cfg(attr));
        quote! {
            #(#cfgs)*
            #[doc(hidden)]
            #[allow(dead_code, clippy::all)]
            fn #name() -> &'static ::cache_core::__private::RedisLevel {
                static __TTL_CACHED_REDIS: ::cache_core::__private::RedisLevel =
                    ::cache_core::__private::RedisLevel::new(
                        ::core::env!("CARGO_PKG_NAME"),
                        ::core::module_path!(),
                        #function,
                        #version,
                        #sliding,
                        #lease,
                    );
                #level
            }
        }
    }

    /// What the function did, in both levels.
    ///
    /// Output:
    /// ```text
    /// fn fetch_user_redis_stats() -> ::cache_core::redis::RedisStats {
    ///     __ttl_cached_fetch_user_redis().stats((__ttl_cached_fetch_user_ops().map)().stats())
    /// }
    /// ```
    fn redis_stats_fn(&self) -> TokenStream {
        let doc = doc(&format!(
            "What {} did: hits served in-process and from Redis, computations, Redis \
             errors, and whether Redis is in use now.",
            self.link(&self.names.main)
        ));
        let attrs = self.helper_attrs();
        let vis = self.helper_vis();
        let name = &self.names.redis_stats;
        let generics = &self.func.sig.generics;
        let where_clause = &self.func.sig.generics.where_clause;
        let level = self.sibling(&self.names.redis_level);
        let ops = self.ops_call(Some(quote!(__ttl_cached_key_type)));
        let key_type = self.key_type_binding();
        quote! {
            #doc
            #attrs
            #vis fn #name #generics () -> ::cache_core::redis::RedisStats #where_clause {
                #key_type
                ::cache_core::__private::RedisLevel::stats(
                    #level(),
                    ::cache_core::TtlMap::stats((#ops.map)()),
                )
            }
        }
    }

    /// With `key = expr` only: names the type of `expr` without evaluating it, for
    /// `_clear()` and `_cache()`, which have no arguments to evaluate it with.
    ///
    /// Input: `#[ttl_cached(secs = 5, key = (self.tenant.clone(), id))] fn load(&self, id: u64)`
    /// Output:
    /// ```text
    /// fn __ttl_cached_load_key_type() -> PhantomData<impl Hash + Eq + Send + Sync + 'static> {
    ///     type_of(|(__ttl_cached_self, id): (&Self, u64)| (__ttl_cached_self.tenant.clone(), id))
    /// }
    /// ```
    /// The closure is never called. (`self` cannot be a closure parameter, hence the
    /// rename.)
    fn key_type_fn(&self) -> TokenStream {
        let Some(key) = &self.args.key else {
            return TokenStream::new();
        };
        let name = &self.names.key_type;
        let mut patterns = Vec::new();
        let mut types = Vec::new();
        if let Some(receiver) = &self.func.receiver {
            patterns.push(quote!(__ttl_cached_self));
            types.push(with_elided_lifetimes((*receiver.ty).clone()));
        }
        for param in &self.func.params {
            patterns.push(param.pat.to_token_stream());
            types.push(with_elided_lifetimes((*param.ty).clone()));
        }
        let key = self.checked_key_expr(rename_self(key.value.to_token_stream()));
        let generics = &self.func.sig.generics;
        let where_clause = &self.func.sig.generics.where_clause;
        // An unfit key type is reported at the expression, here as in the wrappers.
        // `SharedKey`: what Redis needs of a key (`Serialize`), with the feature.
        let shared = self
            .redis()
            .then(|| quote!(+ ::cache_core::__private::SharedKey));
        // A refresh keeps a copy of the key it refreshes (as the ops function's bound).
        let clone = self
            .stale_while_revalidate()
            .map(|_| quote!(+ ::core::clone::Clone));
        let bounds = respan(
            quote! {
                impl ::core::hash::Hash + ::core::cmp::Eq + ::core::marker::Send + ::core::marker::Sync + 'static #shared #clone
            },
            self.key_span(),
        );
        quote! {
            #[doc(hidden)]
            #[allow(dead_code, unused_variables, unused_mut, clippy::all)]
            fn #name #generics () -> ::core::marker::PhantomData<#bounds> #where_clause {
                fn __ttl_cached_type_of<A, K>(
                    _: impl ::core::ops::FnOnce(A) -> K,
                ) -> ::core::marker::PhantomData<K> {
                    ::core::marker::PhantomData
                }
                __ttl_cached_type_of(|(#(#patterns,)*): (#(#types,)*)| #key)
            }
        }
    }

    // ----------------------------------------------------------------------------
    // Pieces
    // ----------------------------------------------------------------------------

    /// `#vis #asyncness #unsafety fn #name #generics (#inputs) #output #where`, with
    /// the parameters that wrappers take: the user's, with `mut` dropped and patterns
    /// replaced by `__ttl_cached_arg<i>` (bound again in [`Self::key_before_lookup`]).
    /// Only a function that runs the body keeps the user's `async` and `unsafe`.
    fn head(&self, name: &Ident, output: &syn::ReturnType, runs_body: RunsBody) -> TokenStream {
        let vis = if *name == self.names.main {
            self.func.vis.to_token_stream()
        } else {
            self.helper_vis()
        };
        let (asyncness, unsafety) = match runs_body {
            RunsBody::Yes => (self.func.sig.asyncness, self.func.sig.unsafety),
            RunsBody::No => (None, None),
        };
        let generics = &self.func.sig.generics;
        let where_clause = &self.func.sig.generics.where_clause;
        let receiver = self.func.receiver.as_ref().map(|receiver| {
            let mut receiver = receiver.clone();
            if receiver.reference.is_none() {
                receiver.mutability = None;
            }
            quote!(#receiver,)
        });
        let params = self.func.params.iter().enumerate().map(|(index, param)| {
            let name = argument(index, param);
            let ty = &param.ty;
            quote!(#name: #ty)
        });
        quote! {
            #vis #asyncness #unsafety fn #name #generics (#receiver #(#params),*) #output #where_clause
        }
    }

    /// Attributes of every generated helper: the user's `cfg`s and lint levels, and
    /// quiet lints for helpers the user may never call.
    fn helper_attrs(&self) -> TokenStream {
        let cfgs = self.func.outer_attrs.iter().filter(|attr| is_cfg(attr));
        let lints = self
            .func
            .outer_attrs
            .iter()
            .filter(|attr| lint_level(attr).is_some())
            .map(|attr| expect_as_allow(attr.clone()));
        quote! {
            #(#cfgs)*
            #(#lints)*
            #[allow(dead_code, unused_variables, unused_unsafe, clippy::all)]
        }
    }

    /// An intra-doc link to a sibling.
    fn link(&self, name: &Ident) -> String {
        match self.func.call_style {
            CallStyle::Free => format!("[`{0}`]({0})", unraw(name)),
            CallStyle::Associated => format!("[`{0}`](Self::{0})", unraw(name)),
        }
    }

    /// A call of the ops function. With `key = expr`, its key type is inferred from
    /// the use of the result, or tied to `key_type` (a `PhantomData<K>`) if given; the
    /// call is spanned at the expression, where an unfit key type is reported.
    fn ops_call(&self, key_type: Option<TokenStream>) -> TokenStream {
        match (&self.args.key, key_type) {
            (None, _) | (Some(_), None) => self.ops_invocation(self.key_error_span()),
            (Some(_), Some(key_type)) => {
                let ops = self.ops_invocation(None);
                quote! {
                    {
                        fn __ttl_cached_ops_for<L, M, S, R, K, V>(
                            _: ::core::marker::PhantomData<K>,
                            ops: ::cache_core::__private::Ops<L, M, S, R, K, V>,
                        ) -> ::cache_core::__private::Ops<L, M, S, R, K, V> {
                            ops
                        }
                        __ttl_cached_ops_for(#key_type, #ops)
                    }
                }
            }
        }
    }

    /// `ops()`; for an `async fn`, `ops::<Pending<R>>(None)`: the operations, with no
    /// miss to start (see [`Self::async_body`] for the call that starts one). Without
    /// a body, the body's future type cannot be inferred, and any future with the
    /// right output fits. With `span`, the call is spanned there.
    fn ops_invocation(&self, span: Option<Span>) -> TokenStream {
        let ops = self.sibling(&self.names.ops);
        let key = self.args.key.as_ref().map(|_| quote!(_));
        let call = if self.func.is_async() {
            let body = self.pending_body();
            let types = self.turbofish(&key.into_iter().chain([body]).collect::<Vec<_>>());
            quote!(#ops #types (::core::option::Option::None))
        } else {
            let types = if self.is_generic() {
                self.turbofish(&key.into_iter().collect::<Vec<_>>())
            } else {
                TokenStream::new()
            };
            quote!(#ops #types ())
        };
        match span.or_else(|| self.type_param_span()) {
            Some(span) => respan(call, span),
            None => call,
        }
    }

    /// For a generic function, its first type parameter: calls of the ops function,
    /// which needs its type parameters `'static`, are spanned there, where rustc
    /// reports one that is not, once (and suggests the bound).
    fn type_param_span(&self) -> Option<Span> {
        self.type_params().first().map(|param| param.span())
    }

    /// With `key = expr`, the span at which an unfit key type is reported.
    fn key_error_span(&self) -> Option<Span> {
        self.args.key.as_ref().map(|_| self.key_span())
    }

    /// `let __ttl_cached_key_type = __ttl_cached_<name>_key_type();` with `key = expr`.
    fn key_type_binding(&self) -> TokenStream {
        if self.args.key.is_none() {
            return TokenStream::new();
        }
        let key_type = self.sibling(&self.names.key_type);
        let types = self.turbofish(&[]);
        quote!(let __ttl_cached_key_type = #key_type #types ();)
    }

    /// What the lookup and removal take: the borrowed parameters, or `&key`.
    fn lookup_args(&self) -> TokenStream {
        if self.args.key.is_some() {
            return quote!(&__ttl_cached_key);
        }
        let borrowed = self.func.params.iter().map(|param| {
            let name = &param.name;
            if param.by_ref {
                quote!(#name)
            } else {
                quote!(&#name)
            }
        });
        quote!(#(#borrowed),*)
    }

    /// Binds `__ttl_cached_key`, the owned key, from the parameters (default mode).
    fn key(&self) -> TokenStream {
        if self.args.key.is_some() {
            return TokenStream::new();
        }
        let parts = self.func.params.iter().map(|param| {
            let name = &param.name;
            if param.by_ref {
                quote!(::std::borrow::ToOwned::to_owned(#name))
            } else {
                quote!(::std::borrow::ToOwned::to_owned(&#name))
            }
        });
        quote!(let __ttl_cached_key = (#(#parts,)*);)
    }

    /// Binds `__ttl_cached_key` to the `key` expression, after binding the patterns of
    /// pattern parameters (from clones: the arguments go on to the body).
    fn key_before_lookup(&self) -> TokenStream {
        let Some(key) = &self.args.key else {
            return TokenStream::new();
        };
        let patterns = self
            .func
            .params
            .iter()
            .enumerate()
            .filter(|(_, param)| param.name.is_none())
            .map(|(index, param)| {
                let pat = &param.pat;
                let argument = argument(index, param);
                quote! {
                    #[allow(unused_variables, unused_mut)]
                    let #pat = ::core::clone::Clone::clone(&#argument);
                }
            });
        let expr = self.checked_key_expr(key.value.to_token_stream());
        quote! {
            #(#patterns)*
            let __ttl_cached_key = #expr;
        }
    }

    /// `<_ as CacheKey<_>>::key(expr)`, spanned at the `key` expression: a key type
    /// that the cache cannot use is one error there, worded by the check trait (see
    /// `cache_core::__private::CacheKey`), and an error type afterwards, which the
    /// bounds of the ops function then meet without another error.
    fn checked_key_expr(&self, expr: TokenStream) -> TokenStream {
        let (first, last) = spans(&self.args.key.as_ref().map(|key| &key.value));
        let check = match (self.redis(), self.stale_while_revalidate().is_some()) {
            (false, false) => "CacheKey",
            (true, false) => "SharedCacheKey",
            // A refresh keeps a copy of the key: `Clone` too.
            (false, true) => "RefreshedCacheKey",
            (true, true) => "SharedRefreshedCacheKey",
        };
        let check = Ident::new(check, first);
        let path = quote_spanned!(first=> <_ as ::cache_core::__private::#check<_>>::key);
        let mut arguments = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, expr);
        arguments.set_span(last);
        quote!(#path #arguments)
    }

    /// Where errors about the `key` expression's type point: its first token.
    fn key_span(&self) -> Span {
        self.args.key.as_ref().map_or_else(Span::call_site, |key| {
            key.value
                .to_token_stream()
                .into_iter()
                .next()
                .map_or_else(|| key.name.span(), |token| token.span())
        })
    }

    /// `fetch_user_uncached(self, id, region)`, in `unsafe { }` for an `unsafe fn`.
    /// In the body (see [`Expansion::in_body`]), the body itself, in a closure that
    /// binds the parameters (so that `return` and `?` stay the body's), called; for an
    /// `async fn`, in an `async` block, its output typed (which `?` needs).
    fn uncached_call(&self) -> TokenStream {
        self.body_call(false)
    }

    /// [`Self::uncached_call`] for a `stale_while_revalidate` refresh, whose borrowed
    /// arguments were moved in owned (see [`Self::refresh_moves`]): each lent back to
    /// the body as the `&T` it takes. An `async fn`'s call goes in an `async move`
    /// block, so that the future owns what it lends (the refresh outlives the call).
    fn refresh_call(&self) -> TokenStream {
        let call = self.body_call(true);
        let lends = self.func.params.iter().any(|param| param.by_ref)
            || self
                .func
                .receiver
                .as_ref()
                .is_some_and(|receiver| receiver.reference.is_some());
        if self.func.is_async() && lends && !self.in_body() {
            quote!(async move { #call.await })
        } else {
            call
        }
    }

    /// Argument `index` as the body takes it: with `lend`, a borrowed parameter's owned
    /// form, borrowed.
    fn body_argument(index: usize, param: &Param, lend: bool) -> TokenStream {
        let name = argument(index, param);
        if lend && param.by_ref {
            let borrowed = &param.borrowed;
            quote!(<_ as ::core::borrow::Borrow<#borrowed>>::borrow(&#name))
        } else {
            quote!(#name)
        }
    }

    /// See [`Self::uncached_call`] and [`Self::refresh_call`].
    fn body_call(&self, lend: bool) -> TokenStream {
        if self.in_body() {
            let rebinds = self.func.params.iter().enumerate().map(|(index, param)| {
                let pat = &param.pat;
                let argument = Self::body_argument(index, param, lend);
                quote!(let #pat = #argument;)
            });
            let stmts = &self.func.stmts;
            let ret = &self.func.output.ty;
            let call = if self.func.is_async() {
                quote! {
                    ::cache_core::__private::body_future::<#ret, _>(async move {
                        #(#rebinds)*
                        #(#stmts)*
                    })
                }
            } else {
                quote! {
                    (move || -> #ret {
                        #(#rebinds)*
                        #(#stmts)*
                    })()
                }
            };
            return match self.func.sig.unsafety {
                Some(unsafety) => quote!(#unsafety { #call }),
                None => call,
            };
        }
        let path = self.sibling(&self.names.uncached);
        let receiver = self.func.receiver.as_ref().map(|receiver| {
            let self_token = receiver.self_token;
            match (lend, &receiver.reference) {
                (false, _) => quote!(#self_token,),
                (true, Some(_)) => quote!(&__ttl_cached_self,),
                (true, None) => quote!(__ttl_cached_self,),
            }
        });
        let arguments = self
            .func
            .params
            .iter()
            .enumerate()
            .map(|(index, param)| Self::body_argument(index, param, lend));
        let types = self.turbofish(&[]);
        let call = quote!(#path #types (#receiver #(#arguments),*));
        match self.func.sig.unsafety {
            Some(unsafety) => quote!(#unsafety { #call }),
            None => call,
        }
    }
}

/// Whether a generated function may run the user's body. One that does keeps the
/// function's `async` and `unsafe`; one that does not (`_invalidate`; `_clear` and
/// `_cache` take no parameters and have their own heads) is never `async`, and never
/// `unsafe`: the body's safety contract is not its caller's concern.
#[derive(Clone, Copy)]
enum RunsBody {
    Yes,
    No,
}

/// The name a wrapper gives parameter `index`: the user's name, or for a pattern,
/// `__ttl_cached_arg<index>`.
fn argument(index: usize, param: &Param) -> Ident {
    match &param.name {
        Some(name) => name.clone(),
        None => format_ident!("__ttl_cached_arg{}", index),
    }
}

fn doc(text: &str) -> TokenStream {
    quote!(#[doc = #text])
}

fn is_cfg(attr: &Attribute) -> bool {
    attr.path().is_ident("cfg")
}

/// `allow`, `warn`, `deny`, `forbid` or `expect`.
fn lint_level(attr: &Attribute) -> Option<&'static str> {
    ["allow", "warn", "deny", "forbid", "expect"]
        .into_iter()
        .find(|level| attr.path().is_ident(level))
}

/// `#[expect(lint)]` becomes `#[allow(lint)]` on generated code, where the lint may
/// not fire (the body it was about lives in `_uncached`).
fn expect_as_allow(mut attr: Attribute) -> Attribute {
    if lint_level(&attr) == Some("expect") {
        if let syn::Meta::List(list) = &mut attr.meta {
            list.path = syn::parse_quote!(allow);
        }
    }
    attr
}

#[cfg(test)]
mod tests {
    use super::ttl_cached;
    use quote::quote;

    fn expand(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        ttl_cached(args, item).to_string()
    }

    #[test]
    fn a_free_function_without_key_keeps_its_map_in_a_typed_static() {
        let sync = expand(
            quote!(secs = 5),
            quote!(
                fn f(id: u64, name: &str) -> u64 {
                    id
                }
            ),
        );
        let asynchronous = expand(
            quote!(secs = 5),
            quote!(
                async fn f(id: u64) -> u64 {
                    id
                }
            ),
        );
        for expansion in [sync, asynchronous] {
            assert!(expansion.contains("static __TTL_CACHED_MAP"), "{expansion}");
            assert!(!expansion.contains("MapCell"), "{expansion}");
            assert!(!expansion.contains("Any"), "{expansion}");
        }
    }

    #[test]
    fn with_redis_a_lookup_does_no_redis_io_and_both_forms_are_emitted() {
        let expansion = expand(
            quote!(secs = 5, redis = true),
            quote!(
                fn f(id: u64) -> u64 {
                    id
                }
            ),
        );
        assert!(expansion.contains("if_redis"), "{expansion}");
        assert!(
            expansion.contains("redis_compute_after_miss"),
            "{expansion}"
        );
        assert!(expansion.contains("f_redis_stats"), "{expansion}");
        for lookup in expansion.split("lookup :").skip(1) {
            let lookup = lookup.split("miss :").next().unwrap();
            assert!(
                !lookup.contains("redis"),
                "a lookup through Redis: {lookup}"
            );
        }
    }

    #[test]
    fn a_map_whose_types_a_static_cannot_name_stays_in_a_map_cell() {
        let keyed = expand(
            quote!(secs = 5, key = id),
            quote!(
                fn f(id: u64) -> u64 {
                    id
                }
            ),
        );
        let method = expand(
            quote!(secs = 5, key = self.id),
            quote!(
                fn f(&self) -> u64 {
                    self.id
                }
            ),
        );
        let associated = expand(
            quote!(secs = 5),
            quote!(
                fn f(id: u64) -> Self {
                    Self(id)
                }
            ),
        );
        for expansion in [keyed, method, associated] {
            assert!(expansion.contains("MapCell"), "{expansion}");
            assert!(!expansion.contains("__TTL_CACHED_MAP"), "{expansion}");
        }
    }
}
