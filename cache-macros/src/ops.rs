//! The one generated function that touches the typed map, and the checks that make a
//! type unfit for the cache a single error at the user's token.
//!
//! `__ttl_cached_<name>_ops()` returns the cache's operations, named
//! (`cache_core::__private::Ops { lookup, miss, store, remove, clear, map }`), as
//! plain function pointers whose signatures use the types as written
//! (`fn(&u64, &str) -> Result<User, Miss>`), which need no trait bounds. The
//! closures behind them are the only code that needs `Hash`, `Eq`, `Clone`, `Send`,
//! `Sync` of the key and the value. That code is
//! type-checked once, so a missing bound is reported once, and never by the functions
//! users call. (Without key = ..., all of it is in this one function. With key = ...,
//! the key's own type is known only where the expression is, so its bounds are on this
//! function's type parameter and are checked where it is called, at the expression.)
//!
//! # How a missing bound is one error
//!
//! Key parts and values go through check traits defined once in
//! `cache_core::__private` (`KeyPart` for each parameter; for the return value
//! `CachedValue`, or `CachedOk` / `CachedSome` when only its success part is cached)
//! that have two impls: the real one, bounded by what the cache needs, and one that no
//! type can satisfy. With two candidate impls, rustc checks the bounds while selecting
//! one, so for `f64` the projection `<f64 as KeyPart<_>>::Owned` fails outright: one
//! error, spanned at the parameter's type and worded by the trait's
//! `#[diagnostic::on_unimplemented]`, and an error type afterwards, about which rustc
//! reports nothing more. Raw types never meet a bounded function: they are converted
//! through the same traits first. The expansion declares no trait of its own: which
//! value trait applies (the only thing `cache_err` and `cache_none` change) is chosen
//! here, by name.
//!
//! # `async fn`: a miss is started, not returned as a function
//!
//! The async miss path is generic over the body's future: its own future must hold
//! the body's future unboxed, so that it is `Send` exactly when the body's is (a
//! `Box<dyn Future + Send>` would refuse bodies that are not `Send`, one without `Send`
//! would make every call non-`Send`). A function pointer cannot be generic, and its
//! return type cannot be an unnamed future. So for an `async fn` the ops function is
//! generic over the body's future type (`__TtlCachedBody`), takes the miss to start
//! (`Option<(hash, key, body)>`), and returns it started as
//! `Option<impl Future<Output = R>>`, in the `miss` field: the
//! future's type stays opaque, and its auto traits leak to the caller as those of any
//! `impl Future` do. Calls that start no miss pass `None` and name the body type as
//! `Pending<R>`. The bounds stay here, checked once, whatever the body type.
//!
//! # Freshness options
//!
//! What a miss stores is a `Landing` (the value, and at most how long it lives):
//! `ttl_from = path` is called on the result there, and its `Some(d)` becomes the
//! landing's cap (`None`: nothing stored). `stale_if_error = N` reads the key's earlier
//! value before the body runs (`stale_snapshot`), and after it returns `Err`, returns
//! that value instead if it expired less than `N` s before (`serve_over`, counted),
//! storing nothing for that `Err`. `stale_while_revalidate = N` changes the miss's
//! type: the body comes boxed with its arguments (`RefreshBody<R>`; for an `async
//! fn`, the body's future, bounded `Send + 'static`), so that `refresh_or_compute`
//! can return a stale value and run the body later, on the refresh pool (or a
//! spawner), or else take the ordinary miss path generated here.
//!
//! This module must never make the functions in [`crate::expand`] need a bound.

use crate::args::{Args, Ttl};
use crate::model::Expansion;
use crate::signature::Fallible;
use crate::tokens::{respan, spans, with_elided_lifetimes};
use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

/// The hidden ops function.
///
/// Input: `#[ttl_cached(secs = 20)] fn fetch_user(id: u64, region: &str) -> User`
/// Output (checks elided):
/// ```text
/// fn __ttl_cached_fetch_user_ops() -> Ops<
///     fn(&u64, &str) -> Result<User, Miss>,         // lookup
///     fn(Miss, (u64, String), &mut dyn FnMut() -> User) -> User, // miss
///     fn((u64, String), &User),                               // store
///     fn(&u64, &str) -> bool,                                 // remove
///     (u64, String),                                          // the key type, for `map`
///     User,                                                   // the value type, for `map`
/// > {
///     const __TTL_CACHED_CHECKED: bool = /* the checks */;
///     static __TTL_CACHED_MAP: LazyLock<TtlMap<(u64, String), User>> =  // see `typed_static`
///         LazyLock::new(|| new_map(Duration::from_secs(20), None, false, None, None, None));
///     Ops {
///         lookup: |id, region| {
///             let map = LazyLock::force(&__TTL_CACHED_MAP);
///             let hash = hash_key(map, &(id, region));
///             match lookup(map, hash, |stored| stored.0 == *id && stored.1 == *region) {
///                 Ok(value) => Ok(value),
///                 Err(miss) => Err(miss),
///             }
///         },
///         miss: |miss, key, compute| compute_after_miss(map, miss, key, compute, to_value, from_value),
///         store: |key, result| { map.insert(key, result.clone()); },
///         remove: |id, region| remove_hashed(map, hash_key(map, &(id, region)), ...).is_some(),
///         clear: || map.clear(),
///         map: || LazyLock::force(&__TTL_CACHED_MAP),
///     }
/// }
/// ```
/// In an `impl` block or with `key = expr`, there is no static: each operation asks
/// the hidden accessor, `__ttl_cached_fetch_user_map::<K, V>(init)` (see
/// [`crate::expand`]), with `init` being
/// `|| Box::new(new_map::<K, V>(Duration::from_secs(20), None, false, None))`.
/// `Ops` is `cache_core::__private::Ops`, one struct for every cached function; its
/// type parameters are the fields whose types differ from one function to another.
/// With `key = expr`, the function is generic over the key type `K` (named
/// `__TtlCachedKey`, which no user type in the signature can shadow), and the lookup
/// and removal take `&K`.
///
/// For an `async fn` (see the module documentation):
/// ```text
/// fn __ttl_cached_fetch_user_ops<__TtlCachedBody>(
///     miss: Option<(Miss, (u64, String), __TtlCachedBody)>,
/// ) -> Ops<
///     fn(&u64, &str) -> Result<User, Miss>,
///     Option<impl Future<Output = User>>,
///     ...
/// >
/// where
///     __TtlCachedBody: Future<Output = User>,
/// {
///     Ops {
///         miss: miss.map(|(miss, key, body)| {
///             compute_after_miss_async(map, miss, key, move || body, to_value, from_value)
///         }),
///         ...
///     }
/// }
/// ```
///
/// With `redis = true` (and `through_redis`), the checks add serde's bounds
/// (`SharedKeyPart`, `SharedValue`…), the miss path reads Redis before running the
/// body (`redis_compute_after_miss`), and `store`, `remove` and `clear` act on Redis
/// too, through the function's level (`__ttl_cached_<name>_redis()`, see
/// [`crate::expand`]). The expansion emits both forms (see `if_redis` there).
pub(crate) fn ops_fn(expansion: &Expansion, through_redis: bool) -> TokenStream {
    OpsFn::new(expansion, through_redis).function()
}

/// The generator of the ops function.
struct OpsFn<'e, 'a> {
    expansion: &'e Expansion<'a>,
    /// Only with `key = ...`: the key is the type parameter `__TtlCachedKey`.
    keyed: bool,
    /// The Redis form (see [`ops_fn`]).
    redis: bool,
}

impl<'e, 'a> OpsFn<'e, 'a> {
    fn new(expansion: &'e Expansion<'a>, redis: bool) -> Self {
        OpsFn {
            expansion,
            keyed: expansion.args.key.is_some(),
            redis,
        }
    }

    /// The function's Redis level: `&'static RedisLevel`.
    fn level(&self) -> TokenStream {
        let level = self.expansion.sibling(&self.expansion.names.redis_level);
        quote!(#level())
    }

    /// The check trait of a key part (see the module documentation).
    fn key_check(&self) -> &'static str {
        if self.redis {
            "SharedKeyPart"
        } else {
            "KeyPart"
        }
    }

    fn args(&self) -> &Args {
        self.expansion.args
    }

    fn function(&self) -> TokenStream {
        let expansion = self.expansion;
        let name = &expansion.names.ops;
        let cfgs = expansion
            .func
            .outer_attrs
            .iter()
            .filter(|attr| attr.path().is_ident("cfg"));
        let ret = self.return_type();
        let is_async = expansion.func.is_async();
        let miss_ticket = quote!(::cache_core::__private::Miss);
        // A generic function's: its own parameters, with their bounds, come first.
        let mut generics: Vec<TokenStream> = expansion
            .func
            .sig
            .generics
            .params
            .iter()
            .map(ToTokens::to_token_stream)
            .collect();
        let mut bounds: Vec<TokenStream> = expansion
            .func
            .sig
            .generics
            .where_clause
            .iter()
            .flat_map(|clause| clause.predicates.iter().map(ToTokens::to_token_stream))
            .collect();
        // The map of one instantiation is found by the `TypeId` of its type parameters.
        // Spanned at each: a parameter that is not `'static` is reported there, by the
        // calls of this function (see `Expansion::type_param_span`).
        bounds.extend(
            expansion
                .type_params()
                .into_iter()
                .map(|param| quote_spanned!(param.span()=> #param: 'static)),
        );
        let (borrowed, key) = if self.keyed {
            generics.push(quote!(__TtlCachedKey));
            let serialize = self
                .redis
                .then(|| quote!(+ ::cache_core::__private::SharedKey));
            // A refresh keeps a copy of the key it refreshes.
            let clone = expansion
                .stale_while_revalidate()
                .map(|_| quote!(+ ::core::clone::Clone));
            bounds.push(quote! {
                __TtlCachedKey: ::core::hash::Hash + ::core::cmp::Eq + ::core::marker::Send + ::core::marker::Sync + 'static #serialize #clone
            });
            (quote!(&__TtlCachedKey), quote!(__TtlCachedKey))
        } else {
            let borrowed = self.expansion.func.params.iter().map(|param| {
                let ty = with_elided_lifetimes(param.borrowed.clone());
                quote!(&#ty)
            });
            (quote!(#(#borrowed),*), expansion.raw_key_type())
        };
        let (parameter, miss_type) = if is_async {
            generics.push(quote!(__TtlCachedBody));
            // A refresh may spawn the body's future on another thread, after the call.
            let spawnable = expansion
                .stale_while_revalidate()
                .map(|_| quote!(+ ::core::marker::Send + 'static));
            bounds.push(quote!(__TtlCachedBody: ::core::future::Future<Output = #ret> #spawnable));
            (
                quote!(__ttl_cached_miss: ::core::option::Option<(#miss_ticket, #key, __TtlCachedBody)>),
                quote!(::core::option::Option<impl ::core::future::Future<Output = #ret>>),
            )
        } else if expansion.stale_while_revalidate().is_some() {
            (
                TokenStream::new(),
                quote!(fn(#miss_ticket, #key, ::cache_core::__private::RefreshBody<#ret>) -> #ret),
            )
        } else {
            (
                TokenStream::new(),
                quote!(fn(#miss_ticket, #key, &mut dyn ::core::ops::FnMut() -> #ret) -> #ret),
            )
        };
        let generics = if generics.is_empty() {
            TokenStream::new()
        } else {
            quote!(<#(#generics),*>)
        };
        let where_clause = if bounds.is_empty() {
            TokenStream::new()
        } else {
            quote!(where #(#bounds,)*)
        };
        let lookup = self.lookup();
        let miss = self.miss();
        let store = self.store();
        let remove = self.remove();
        let clear = self.clear();
        let map = self.map_op();
        let value = expansion.raw_value_type();
        let typed_static = self.typed_static();
        quote! {
            #(#cfgs)*
            #[doc(hidden)]
            #[inline]
            #[allow(dead_code, unused_variables, clippy::all)]
            fn #name #generics (#parameter) -> ::cache_core::__private::Ops<
                fn(#borrowed) -> ::core::result::Result<#ret, #miss_ticket>,
                #miss_type,
                fn(#key, &#ret),
                fn(#borrowed) -> bool,
                #key,
                #value,
            >
            #where_clause
            {
                #typed_static
                ::cache_core::__private::Ops {
                    lookup: #lookup,
                    miss: #miss,
                    store: #store,
                    remove: #remove,
                    clear: #clear,
                    map: #map,
                }
            }
        }
    }

    /// `fn(&B0, &B1) -> Result<R, Miss>`.
    fn lookup(&self) -> TokenStream {
        let map = self.map();
        let from_value = self.result_of(quote!(__ttl_cached_value));
        let (params, hashed, is_key) = self.key_lookup();
        // With `stale_while_revalidate`, a value that is not live is the miss path's
        // to count: served stale, or computed.
        let lookup = if self.expansion.stale_while_revalidate().is_some() {
            quote!(lookup_live)
        } else {
            quote!(lookup)
        };
        quote! {
            |#params| {
                let __ttl_cached_map = #map;
                let __ttl_cached_hash = ::cache_core::__private::hash_key(__ttl_cached_map, #hashed);
                match ::cache_core::__private::#lookup(
                    __ttl_cached_map,
                    __ttl_cached_hash,
                    #is_key,
                ) {
                    ::core::result::Result::Ok(__ttl_cached_value) => {
                        ::core::result::Result::Ok(#from_value)
                    }
                    ::core::result::Result::Err(__ttl_cached_missed) => {
                        ::core::result::Result::Err(__ttl_cached_missed)
                    }
                }
            }
        }
    }

    /// `fn(Miss, K, &mut dyn FnMut() -> R) -> R`, or for an `async fn` the started
    /// miss ([`Self::miss_async`]).
    ///
    /// With `stale_if_error = N`, the key's earlier value is read before the body
    /// runs (`stale_snapshot`), and returned instead of an `Err` if it expired less
    /// than `N` s before (`serve_over`); such an `Err` is not stored.
    fn miss(&self) -> TokenStream {
        if self.expansion.func.is_async() {
            return self.miss_async();
        }
        if self.expansion.stale_while_revalidate().is_some() {
            return self.miss_or_refresh();
        }
        self.sync_miss(self.checked_key())
    }

    /// With `stale_while_revalidate`: `fn(Miss, K, RefreshBody<R>) -> R`, the body
    /// boxed with its arguments, so that it can run on the refresh pool. A value
    /// within the stale window is returned, and one refresh started; otherwise the
    /// ordinary miss path ([`Self::sync_miss`], given the key already checked).
    ///
    /// Output:
    /// ```text
    /// |missed, key, body| refresh_or_compute(
    ///     map, missed, checked(key), body,
    ///     |result| /* what a refresh stores: nothing for a failure */,
    ///     |value| /* R from V */,
    ///     |missed, key, compute| /* the ordinary miss path */,
    /// )
    /// ```
    fn miss_or_refresh(&self) -> TokenStream {
        let map = self.map();
        let key = self.checked_key();
        let from_value = self.result_of(quote!(__ttl_cached_value));
        let refresh_landing = self.refresh_landing();
        let compute = self.sync_miss(quote!(__ttl_cached_key));
        quote! {
            |__ttl_cached_missed, __ttl_cached_key, __ttl_cached_body| {
                let __ttl_cached_map = #map;
                ::cache_core::__private::refresh_or_compute(
                    __ttl_cached_map,
                    __ttl_cached_missed,
                    #key,
                    __ttl_cached_body,
                    |__ttl_cached_result| #refresh_landing,
                    |__ttl_cached_value| #from_value,
                    #compute,
                )
            }
        }
    }

    /// What a refresh stores of `__ttl_cached_result` (a `&R`): nothing for a failed
    /// result, which leaves the stale value, whatever `cache_err`, `err_secs` and the
    /// like would store for a call.
    fn refresh_landing(&self) -> TokenStream {
        let landing = self.landing_of(quote!(__ttl_cached_result));
        if self.expansion.func.output.fallible.is_none() {
            return landing;
        }
        quote! {
            if ::cache_core::__private::is_failure(__ttl_cached_result) {
                ::core::option::Option::None
            } else {
                #landing
            }
        }
    }

    /// The ordinary sync miss path, `key` being the checked key (from the raw
    /// `__ttl_cached_key`).
    fn sync_miss(&self, key: TokenStream) -> TokenStream {
        let map = self.map();
        let snapshot = self.stale_snapshot();
        let landing = self.guarded_landing(quote!(__ttl_cached_result));
        let serve_over = self.serve_over();
        if self.redis || self.single_flight() {
            let from_value = self.result_of(quote!(__ttl_cached_value));
            let (path, level) = self.miss_path(false);
            quote! {
                |__ttl_cached_missed, __ttl_cached_key, __ttl_cached_compute| {
                    let __ttl_cached_map = #map;
                    let __ttl_cached_key = #key;
                    #snapshot
                    let __ttl_cached_result = #path(
                        __ttl_cached_map,
                        #level
                        __ttl_cached_missed,
                        __ttl_cached_key,
                        || __ttl_cached_compute(),
                        |__ttl_cached_result| #landing,
                        |__ttl_cached_value| #from_value,
                    );
                    #serve_over
                }
            }
        } else {
            quote! {
                |__ttl_cached_missed, __ttl_cached_key, __ttl_cached_compute| {
                    let __ttl_cached_map = #map;
                    let __ttl_cached_key = #key;
                    #snapshot
                    ::cache_core::__private::count_computation(
                        __ttl_cached_map,
                        &__ttl_cached_missed,
                    );
                    let __ttl_cached_result = __ttl_cached_compute();
                    if let ::core::option::Option::Some(__ttl_cached_landing) = {
                        let __ttl_cached_result = &__ttl_cached_result;
                        #landing
                    } {
                        ::cache_core::__private::store_landing(
                            __ttl_cached_map,
                            __ttl_cached_key,
                            __ttl_cached_landing,
                        );
                    }
                    #serve_over
                }
            }
        }
    }

    /// `Option<impl Future<Output = R>>`: the miss given, started. Nothing is awaited
    /// here but the body (and, with single flight, another caller's flight); no lock
    /// is held across either.
    fn miss_async(&self) -> TokenStream {
        let start = match self.expansion.stale_while_revalidate() {
            Some(_) => self.async_miss_or_refresh(),
            None => self.async_miss(self.checked_key()),
        };
        quote!(::core::option::Option::map(__ttl_cached_miss, #start))
    }

    /// With `stale_while_revalidate`, for an `async fn`: [`Self::miss_or_refresh`]
    /// with futures (`refresh_or_compute_async`); the body's future, which a refresh
    /// may spawn, is `Send + 'static` (a bound of the ops function).
    fn async_miss_or_refresh(&self) -> TokenStream {
        let map = self.map();
        let key = self.checked_key();
        let from_value = self.result_of(quote!(__ttl_cached_value));
        let refresh_landing = self.refresh_landing();
        let compute = self.async_miss(quote!(__ttl_cached_key));
        quote! {
            |(__ttl_cached_missed, __ttl_cached_key, __ttl_cached_body)| async move {
                let __ttl_cached_map = #map;
                ::cache_core::__private::refresh_or_compute_async(
                    __ttl_cached_map,
                    __ttl_cached_missed,
                    #key,
                    __ttl_cached_body,
                    |__ttl_cached_result| #refresh_landing,
                    |__ttl_cached_value| #from_value,
                    |__ttl_cached_missed, __ttl_cached_key, __ttl_cached_body| {
                        (#compute)((__ttl_cached_missed, __ttl_cached_key, __ttl_cached_body))
                    },
                )
                .await
            }
        }
    }

    /// The ordinary async miss, started: a closure of `(Miss, K, body)`, `key` being
    /// the checked key (from the raw `__ttl_cached_key`).
    fn async_miss(&self, key: TokenStream) -> TokenStream {
        let map = self.map();
        let snapshot = self.stale_snapshot();
        let landing = self.guarded_landing(quote!(__ttl_cached_result));
        let serve_over = self.serve_over();
        if self.redis || self.single_flight() {
            let from_value = self.result_of(quote!(__ttl_cached_value));
            let (path, level) = self.miss_path(true);
            quote! {
                |(__ttl_cached_missed, __ttl_cached_key, __ttl_cached_body)| async move {
                    let __ttl_cached_map = #map;
                    let __ttl_cached_key = #key;
                    #snapshot
                    let __ttl_cached_result = #path(
                        __ttl_cached_map,
                        #level
                        __ttl_cached_missed,
                        __ttl_cached_key,
                        move || __ttl_cached_body,
                        |__ttl_cached_result| #landing,
                        |__ttl_cached_value| #from_value,
                    )
                    .await;
                    #serve_over
                }
            }
        } else {
            quote! {
                |(__ttl_cached_missed, __ttl_cached_key, __ttl_cached_body)| async move {
                    let __ttl_cached_map = #map;
                    let __ttl_cached_key = #key;
                    #snapshot
                    ::cache_core::__private::count_computation(
                        __ttl_cached_map,
                        &__ttl_cached_missed,
                    );
                    let __ttl_cached_result = __ttl_cached_body.await;
                    if let ::core::option::Option::Some(__ttl_cached_landing) = {
                        let __ttl_cached_result = &__ttl_cached_result;
                        #landing
                    } {
                        ::cache_core::__private::store_landing(
                            __ttl_cached_map,
                            __ttl_cached_key,
                            __ttl_cached_landing,
                        );
                    }
                    #serve_over
                }
            }
        }
    }

    /// `stale_if_error = N`'s window, for a function it applies to (a `Result` one;
    /// on others `valid` reported it, once).
    fn stale_if_error(&self) -> Option<u64> {
        let given = self.args().stale_if_error.as_ref()?;
        (self.expansion.func.output.fallible == Some(Fallible::Result)).then_some(given.value)
    }

    /// With `stale_if_error`: `let __ttl_cached_stale = …;`, the key's earlier `Ok`
    /// value, read from the map before the body runs (`__ttl_cached_key` is the
    /// checked key).
    fn stale_snapshot(&self) -> TokenStream {
        if self.stale_if_error().is_none() {
            return TokenStream::new();
        }
        // An `Ok`: all of it when only `Ok` values are stored; else ask the `Result`.
        let usable = if self.expansion.ok_only {
            quote!(|_| true)
        } else {
            quote!(|__ttl_cached_value| !::cache_core::__private::is_failure(__ttl_cached_value))
        };
        quote! {
            let __ttl_cached_stale = ::cache_core::__private::stale_snapshot(
                __ttl_cached_map,
                &__ttl_cached_missed,
                |__ttl_cached_stored| *__ttl_cached_stored == __ttl_cached_key,
                #usable,
            );
        }
    }

    /// [`Self::landing_of`] `result` (a `&R`), or with `stale_if_error`, nothing for
    /// an `Err` that an earlier value will be served over: that value stays.
    fn guarded_landing(&self, result: TokenStream) -> TokenStream {
        let landing = self.landing_of(result.clone());
        let Some(window) = self.stale_if_error() else {
            return landing;
        };
        let window = Literal::u64_suffixed(window);
        quote! {
            if ::cache_core::__private::is_failure(#result)
                && ::cache_core::__private::may_serve_over(
                    __ttl_cached_map,
                    &__ttl_cached_stale,
                    ::cache_core::__private::Duration::from_secs(#window),
                )
            {
                ::core::option::Option::None
            } else {
                #landing
            }
        }
    }

    /// What the miss returns: `__ttl_cached_result`, or with `stale_if_error`, the
    /// earlier value instead of an `Err` if it may be served over it.
    fn serve_over(&self) -> TokenStream {
        let Some(window) = self.stale_if_error() else {
            return quote!(__ttl_cached_result);
        };
        let window = Literal::u64_suffixed(window);
        let from_value = self.result_of(quote!(__ttl_cached_value));
        quote! {
            if ::cache_core::__private::is_failure(&__ttl_cached_result) {
                if let ::core::option::Option::Some(__ttl_cached_value) =
                    ::cache_core::__private::serve_over(
                        __ttl_cached_map,
                        __ttl_cached_stale,
                        ::cache_core::__private::Duration::from_secs(#window),
                    )
                {
                    return #from_value;
                }
            }
            __ttl_cached_result
        }
    }

    /// Unless `single_flight = false`.
    fn single_flight(&self) -> bool {
        !matches!(&self.args().single_flight, Some(given) if !given.value)
    }

    /// The runtime's miss path, and the level argument it takes (with a comma after
    /// it) if it goes through Redis. Without Redis, `single_flight = false` inlines
    /// its own path instead (see [`Self::miss`]).
    fn miss_path(&self, is_async: bool) -> (TokenStream, TokenStream) {
        let name = match (self.redis, self.single_flight(), is_async) {
            (false, _, false) => "compute_after_miss",
            (false, _, true) => "compute_after_miss_async",
            (true, true, false) => "redis_compute_after_miss",
            (true, true, true) => "redis_compute_after_miss_async",
            (true, false, false) => "redis_compute_unshared",
            (true, false, true) => "redis_compute_unshared_async",
        };
        let name = Ident::new(name, Span::call_site());
        let level = if self.redis {
            let level = self.level();
            quote!(#level,)
        } else {
            TokenStream::new()
        };
        (quote!(::cache_core::__private::#name), level)
    }

    /// `fn(K, &R)`.
    fn store(&self) -> TokenStream {
        let map = self.map();
        let key = self.checked_key();
        let landing = self.landing_of(quote!(__ttl_cached_result));
        let insert = if self.redis {
            let level = self.level();
            quote! {
                ::cache_core::__private::redis_store(
                    __ttl_cached_map,
                    #level,
                    __ttl_cached_key,
                    __ttl_cached_landing,
                );
            }
        } else {
            quote! {
                ::cache_core::__private::store_landing(
                    __ttl_cached_map,
                    __ttl_cached_key,
                    __ttl_cached_landing,
                );
            }
        };
        quote! {
            |__ttl_cached_key, __ttl_cached_result| {
                let __ttl_cached_map = #map;
                let __ttl_cached_key = #key;
                if let ::core::option::Option::Some(__ttl_cached_landing) = #landing {
                    #insert
                }
            }
        }
    }

    /// `fn(&B0, &B1) -> bool`.
    fn remove(&self) -> TokenStream {
        let map = self.map();
        let (params, hashed, is_key) = self.key_lookup();
        let in_redis = self.redis.then(|| {
            let level = self.level();
            let key = self.owned_key_of_arguments();
            quote!(::cache_core::__private::redis_remove(#level, #key);)
        });
        quote! {
            |#params| {
                let __ttl_cached_map = #map;
                #in_redis
                let __ttl_cached_hash = ::cache_core::__private::hash_key(__ttl_cached_map, #hashed);
                ::cache_core::__private::remove_hashed(__ttl_cached_map, __ttl_cached_hash, #is_key)
                    .is_some()
            }
        }
    }

    /// `fn()`.
    fn clear(&self) -> TokenStream {
        let map = self.map();
        if self.redis {
            let level = self.level();
            return quote! {
                || {
                    // Redis's half first: it refuses the values in flight, which
                    // would otherwise land after the map's clear.
                    ::cache_core::__private::redis_clear(#level);
                    #map.clear();
                }
            };
        }
        quote!(|| #map.clear())
    }

    /// `fn() -> &'static TtlMap<K, V>`, with the types as written: the hidden accessor
    /// (see [`crate::expand`]) takes them from the field's type, which meets no bound;
    /// the map is built with the checked types, behind the `Box<dyn Any>`.
    /// For a typed static (see [`Self::typed_static`]), the static, typed as written.
    fn map_op(&self) -> TokenStream {
        let expansion = self.expansion;
        if expansion.typed_static() {
            return quote!(|| ::std::sync::LazyLock::force(&__TTL_CACHED_MAP));
        }
        let accessor = self.accessor_turbofish(quote!(_), quote!(_));
        let new_map = self.new_map(false);
        quote! {
            || #accessor(|| ::std::boxed::Box::new(#new_map))
        }
    }

    /// A block that builds the map: the `ttl = expr` expression is evaluated here,
    /// once, when the map is first used.
    /// With `typed`, the types are those the map is given to (the typed static's);
    /// otherwise, the checked ones.
    fn new_map(&self, typed: bool) -> TokenStream {
        let args = self.args();
        let ttl = match args.ttl.as_ref().map(|given| &given.value) {
            Some(Ttl::Secs(secs)) => {
                let secs = Literal::u64_unsuffixed(*secs);
                quote!(::cache_core::__private::Duration::from_secs(#secs))
            }
            Some(Ttl::Millis(millis)) => {
                let millis = Literal::u64_unsuffixed(*millis);
                quote!(::cache_core::__private::Duration::from_millis(#millis))
            }
            Some(Ttl::Expr(expr)) => {
                // A typed binding at the expression: a wrong type is reported there.
                let duration = respan(quote!(::cache_core::__private::Duration), first_span(expr));
                return self.new_map_with(quote!(let __ttl_cached_ttl: #duration = #expr;), typed);
            }
            // Missing: reported by `valid::options`; any value lets the rest compile.
            None => quote!(::cache_core::__private::Duration::from_secs(1)),
        };
        self.new_map_with(
            quote!(let __ttl_cached_ttl: ::cache_core::__private::Duration = #ttl;),
            typed,
        )
    }

    fn new_map_with(&self, ttl: TokenStream, typed: bool) -> TokenStream {
        let args = self.args();
        let capacity = match &args.capacity {
            Some(capacity) => {
                let capacity = Literal::usize_unsuffixed(capacity.value);
                quote!(::core::option::Option::Some(#capacity))
            }
            None => quote!(::core::option::Option::None),
        };
        let refresh = Args::is_on(&args.refresh);
        let jitter = match &args.jitter {
            Some(jitter) => {
                let fraction = Literal::f64_suffixed(jitter.value);
                quote!(::core::option::Option::Some(#fraction))
            }
            None => quote!(::core::option::Option::None),
        };
        // Failures kept for less time than successes: a cap on those values' TTL.
        // Only for the return type it fits (else `valid` reported it, once).
        let fallible = self.expansion.func.output.fallible;
        let err_secs = args
            .err_secs
            .as_ref()
            .filter(|_| fallible == Some(Fallible::Result));
        let none_secs = args
            .none_secs
            .as_ref()
            .filter(|_| fallible == Some(Fallible::Option));
        let value_ttl = match (err_secs, none_secs) {
            (Some(secs), _) => {
                let secs = Literal::u64_suffixed(secs.value);
                quote!(::core::option::Option::Some(|__ttl_cached_value| {
                    if ::core::result::Result::is_err(__ttl_cached_value) {
                        ::core::option::Option::Some(::cache_core::__private::Duration::from_secs(#secs))
                    } else {
                        ::core::option::Option::None
                    }
                }))
            }
            (None, Some(secs)) => {
                let secs = Literal::u64_suffixed(secs.value);
                quote!(::core::option::Option::Some(|__ttl_cached_value| {
                    if ::core::option::Option::is_none(__ttl_cached_value) {
                        ::core::option::Option::Some(::cache_core::__private::Duration::from_secs(#secs))
                    } else {
                        ::core::option::Option::None
                    }
                }))
            }
            (None, None) => quote!(::core::option::Option::None),
        };
        let stale_if_error = match self.stale_if_error() {
            Some(secs) => {
                let secs = Literal::u64_suffixed(secs);
                quote!(::core::option::Option::Some(::cache_core::__private::Duration::from_secs(#secs)))
            }
            None => quote!(::core::option::Option::None),
        };
        let stale_while_revalidate = match self.expansion.stale_while_revalidate() {
            Some(secs) => {
                let secs = Literal::u64_suffixed(secs);
                quote!(::core::option::Option::Some(::cache_core::__private::Duration::from_secs(#secs)))
            }
            None => quote!(::core::option::Option::None),
        };
        let freshness = quote! {
            ::cache_core::__private::Freshness {
                stale_while_revalidate: #stale_while_revalidate,
                stale_if_error: #stale_if_error,
            }
        };
        let clock = match &args.clock {
            Some(clock) => {
                // A typed binding at the expression: a wrong type is reported there.
                let expr = &clock.value;
                let mock_clock = respan(quote!(::cache_core::MockClock), first_span(expr));
                quote! {{
                    let __ttl_cached_clock: #mock_clock = #expr;
                    ::core::option::Option::Some(__ttl_cached_clock)
                }}
            }
            None => quote!(::core::option::Option::None),
        };
        let types = if typed {
            TokenStream::new()
        } else {
            let key = self.checked_key_type();
            let value = self.checked_value_type();
            quote!(::<#key, #value>)
        };
        quote! {
            {
                #ttl
                ::cache_core::__private::new_map #types (
                    __ttl_cached_ttl,
                    #capacity,
                    #refresh,
                    #clock,
                    #jitter,
                    #value_ttl,
                    #freshness,
                )
            }
        }
    }

    // ----------------------------------------------------------------------------
    // Pieces
    // ----------------------------------------------------------------------------

    /// The closure parameters of a lookup or removal, what is hashed, and the
    /// equality against a stored key: borrowed parts, or `&K`.
    fn key_lookup(&self) -> (TokenStream, TokenStream, TokenStream) {
        if self.keyed {
            return (
                quote!(__ttl_cached_key),
                quote!(__ttl_cached_key),
                quote!(|__ttl_cached_stored| __ttl_cached_stored == __ttl_cached_key),
            );
        }
        let params = self.expansion.func.params.iter();
        let arguments: Vec<Ident> = (0..params.len())
            .map(|index| format_ident!("__ttl_cached_arg{}", index))
            .collect();
        let parts: Vec<TokenStream> = params
            .zip(&arguments)
            .map(|(param, argument)| {
                let borrowed = param.borrowed.to_token_stream();
                spanned_call(&borrowed, self.key_check(), "key_part", quote!(#argument))
            })
            .collect();
        let is_key = if parts.is_empty() {
            quote!(|_| true)
        } else {
            let comparisons = parts.iter().enumerate().map(|(index, part)| {
                let index = syn::Index::from(index);
                quote!(::cache_core::__private::key_part_eq(&__ttl_cached_stored.#index, #part))
            });
            quote!(|__ttl_cached_stored| #(#comparisons)&&*)
        };
        (quote!(#(#arguments),*), quote!(&(#(#parts,)*)), is_key)
    }

    /// `__ttl_cached_key` (raw, as the caller built it) in the checked key type.
    fn checked_key(&self) -> TokenStream {
        if self.keyed {
            return quote!(__ttl_cached_key);
        }
        self.owned_key(|index| {
            let index = syn::Index::from(index);
            quote!(__ttl_cached_key.#index)
        })
    }

    /// The checked owned key, from each part as the caller made it (`raw(index)`).
    fn owned_key(&self, raw: impl Fn(usize) -> TokenStream) -> TokenStream {
        let parts = self
            .expansion
            .func
            .params
            .iter()
            .enumerate()
            .map(|(index, param)| {
                let borrowed = param.borrowed.to_token_stream();
                spanned_call(&borrowed, self.key_check(), "owned_part", raw(index))
            });
        quote!((#(#parts,)*))
    }

    /// The map, typed through the checks, from the hidden accessor (see
    /// [`crate::expand`]). Not from `ops().map`: that one is typed as written, and the
    /// written types would be inferred for the checked ones, which must stay errors
    /// when a check fails.
    /// For a typed static (see [`Self::typed_static`]), the static: its types are the
    /// checked ones.
    fn map(&self) -> TokenStream {
        let expansion = self.expansion;
        if expansion.typed_static() {
            let key = self.checked_key_type();
            let value = self.checked_value_type();
            return quote! {
                {
                    let __ttl_cached_map: &'static ::cache_core::TtlMap<#key, #value> =
                        ::std::sync::LazyLock::force(&__TTL_CACHED_MAP);
                    __ttl_cached_map
                }
            };
        }
        let accessor = self.accessor_turbofish(self.checked_key_type(), self.checked_value_type());
        let new_map = self.new_map(false);
        quote!(#accessor(|| ::std::boxed::Box::new(#new_map)))
    }

    /// The hidden accessor with its type arguments: `::<K, V>`, and for a generic
    /// function the instantiation first, `::<(T,), K, V>`.
    /// Its instantiation key is the `TypeId` of the type parameters, which must be
    /// `'static`: the accessor and the tuple are spanned at the first type parameter,
    /// where rustc then reports one that is not (and suggests the bound).
    fn accessor_turbofish(&self, key: TokenStream, value: TokenStream) -> TokenStream {
        let accessor = self.expansion.sibling(&self.expansion.names.map);
        match self.expansion.type_params().first() {
            Some(first) => {
                let accessor = respan(accessor, first.span());
                let params = respan(self.expansion.type_params_tuple(), first.span());
                quote!(#accessor::<#params, #key, #value>)
            }
            None => quote!(#accessor::<#key, #value>),
        }
    }

    /// Where the map of a free function without `key = ...` lives: a typed static,
    /// in this function, built on first use. Empty for other functions, whose map is
    /// in the hidden accessor's `MapCell`.
    ///
    /// Output:
    /// ```text
    /// const __TTL_CACHED_CHECKED: bool = {
    ///     let _ = PhantomData::<(<u64 as KeyPart<_>>::Owned, <str as KeyPart<_>>::Owned)>;
    ///     let _ = PhantomData::<<User as CachedValue<_>>::Value>;
    ///     true
    /// };
    /// static __TTL_CACHED_MAP: LazyLock<TtlMap<
    ///     (<u64 as KeyPart<Checked<{ __TTL_CACHED_CHECKED }>>>::Owned,
    ///      <str as KeyPart<Checked<{ __TTL_CACHED_CHECKED }>>>::Owned),
    ///     <User as CachedValue<Checked<{ __TTL_CACHED_CHECKED }>>>::Value,
    /// >> = LazyLock::new(|| new_map::<(u64, String), User>(Duration::from_secs(20), None, false));
    /// ```
    /// The static's type must be written, and an item's type cannot contain `_`, so
    /// it cannot ask the check traits with two candidate impls, as the closures do;
    /// nor can it use the types as written (`(u64, String)`, `User`): a static must be
    /// `Sync`, and `Rc<u64>` would be a second error, at the static. So it names the
    /// real impls through `__TTL_CACHED_CHECKED`, a constant whose body makes the same
    /// checks as the closures (at the same tokens: rustc reports each once). If one
    /// fails, the constant is an error, and so is every type that names it: nothing
    /// about the static is reported. Otherwise it is `true`, and the types are the
    /// ones written.
    fn typed_static(&self) -> TokenStream {
        if !self.expansion.typed_static() {
            return TokenStream::new();
        }
        let checked = quote!(::cache_core::__private::Checked<{ __TTL_CACHED_CHECKED }>);
        let key_check = Ident::new(self.key_check(), Span::call_site());
        let key = self.expansion.func.params.iter().map(|param| {
            let borrowed = &param.borrowed;
            quote!(<#borrowed as ::cache_core::__private::#key_check<#checked>>::Owned)
        });
        let ty = self.return_type();
        let check = Ident::new(self.value_check(), Span::call_site());
        let value = quote!(<#ty as ::cache_core::__private::#check<#checked>>::Value);
        let checked_key = self.checked_key_type();
        let checked_value = self.checked_value_type();
        let new_map = self.new_map(true);
        quote! {
            const __TTL_CACHED_CHECKED: bool = {
                let _ = ::core::marker::PhantomData::<#checked_key>;
                let _ = ::core::marker::PhantomData::<#checked_value>;
                true
            };
            static __TTL_CACHED_MAP: ::std::sync::LazyLock<
                ::cache_core::TtlMap<(#(#key,)*), #value>,
            > = ::std::sync::LazyLock::new(|| #new_map);
        }
    }

    /// `(<u64 as KeyPart<_>>::Owned, ...)`, or `__TtlCachedKey`.
    fn checked_key_type(&self) -> TokenStream {
        if self.keyed {
            return quote!(__TtlCachedKey);
        }
        let parts = self.expansion.func.params.iter().map(|param| {
            let borrowed = &param.borrowed;
            let (first, _) = spans(borrowed);
            let key_check = Ident::new(self.key_check(), first);
            quote_spanned!(first=> <#borrowed as ::cache_core::__private::#key_check<_>>::Owned)
        });
        quote!((#(#parts,)*))
    }

    fn return_type(&self) -> TokenStream {
        // (Lifetimes here can only be `'static`: the signature checks refuse others.)
        with_elided_lifetimes(self.expansion.func.output.ty.clone()).to_token_stream()
    }

    fn checked_value_type(&self) -> TokenStream {
        let ty = self.return_type();
        let (first, _) = spans(&ty);
        let check = Ident::new(self.value_check(), first);
        quote_spanned!(first=> <#ty as ::cache_core::__private::#check<_>>::Value)
    }

    /// `Option<V>` to store for `&R` `result`.
    fn value_of(&self, result: TokenStream) -> TokenStream {
        let ty = self.return_type();
        spanned_call(&ty, self.value_check(), "to_value", result)
    }

    /// `Option<Landing<V>>` to store for `&R` `result`: what [`Self::value_of`]
    /// picks, for the map's TTL; with `ttl_from = path`, for at most what `path`
    /// says, and nothing if it says `None`. `path` is bound to a typed
    /// `fn(&R) -> Option<Duration>` spanned at it, so a function of the wrong type is
    /// one error there.
    fn landing_of(&self, result: TokenStream) -> TokenStream {
        let value = self.value_of(result.clone());
        let Some(ttl_from) = &self.args().ttl_from else {
            return quote! {
                ::core::option::Option::map(#value, ::cache_core::__private::Landing::new)
            };
        };
        let path = &ttl_from.value;
        let ret = self.return_type();
        let span = path
            .segments
            .first()
            .map_or_else(|| ttl_from.name.span(), |segment| segment.ident.span());
        let fn_type = quote_spanned! {span=>
            fn(&#ret) -> ::core::option::Option<::cache_core::__private::Duration>
        };
        quote! {{
            let __ttl_cached_ttl_from: #fn_type = #path;
            match __ttl_cached_ttl_from(#result) {
                ::core::option::Option::Some(__ttl_cached_at_most) => ::core::option::Option::map(
                    #value,
                    |__ttl_cached_value| ::cache_core::__private::Landing::at_most(
                        __ttl_cached_value,
                        __ttl_cached_at_most,
                    ),
                ),
                ::core::option::Option::None => ::core::option::Option::None,
            }
        }}
    }

    /// The `R` for a stored `value`.
    fn result_of(&self, value: TokenStream) -> TokenStream {
        let ty = self.return_type();
        spanned_call(&ty, self.value_check(), "from_value", value)
    }

    /// The check trait of the return type: all of it is cached, or its success part.
    fn value_check(&self) -> &'static str {
        match (
            self.redis,
            self.expansion.ok_only,
            self.expansion.func.output.fallible,
        ) {
            // Cached whole though fallible: `cache_err` / `cache_none` is why the whole
            // type must be cloneable, and the error says so.
            (false, false, Some(Fallible::Result)) => "CachedResult",
            (false, false, Some(Fallible::Option)) => "CachedOption",
            (false, false, None) => "CachedValue",
            (false, true, Some(Fallible::Option)) => "CachedSome",
            (false, true, _) => "CachedOk",
            (true, false, _) => "SharedValue",
            (true, true, Some(Fallible::Option)) => "SharedSome",
            (true, true, _) => "SharedOk",
        }
    }

    /// In a removal's closure (see [`Self::key_lookup`]), a reference to the owned key
    /// of the arguments, as the miss path stores it: what Redis keys are made of.
    fn owned_key_of_arguments(&self) -> TokenStream {
        if self.keyed {
            return quote!(__ttl_cached_key);
        }
        let key = self.owned_key(|index| {
            let argument = format_ident!("__ttl_cached_arg{}", index);
            quote!(::std::borrow::ToOwned::to_owned(#argument))
        });
        quote!(&#key)
    }
}

/// `<ty as Trait<_>>::method(argument)`, spanned from the first token of `ty` to its
/// last, as the projection `<ty as Trait<_>>::...` is: every obligation the call makes
/// is then reported at the same place as the projection's, and rustc shows it once.
fn spanned_call(
    ty: &impl ToTokens,
    trait_name: &str,
    method: &str,
    argument: TokenStream,
) -> TokenStream {
    let (first, last) = spans(ty);
    let trait_name = Ident::new(trait_name, first);
    let method = Ident::new(method, first);
    let path = quote_spanned!(first=> <#ty as ::cache_core::__private::#trait_name<_>>::#method);
    let mut arguments = Group::new(Delimiter::Parenthesis, argument);
    arguments.set_span(last);
    quote!(#path #arguments)
}

/// The span of an expression's first token, where a typed binding of it reports a
/// wrong type.
fn first_span(expr: &syn::Expr) -> Span {
    expr.to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}
