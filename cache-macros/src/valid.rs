//! Checks that need both the options and the function: a method or a pattern needs
//! `key`, `cache_err` needs a `Result`, and so on.
//!
//! Two kinds of error, kept apart because they decide what is generated: without a key
//! there is nothing to expand ([`key`]), while a wrong option still leaves a function
//! that can be expanded with the options that are right ([`options`]), so that calls to
//! the generated helpers keep resolving and no error hides behind another.

use crate::args::{Args, Given};
use crate::signature::{find_borrow, CachedFn, Fallible};
use proc_macro2::Span;
use syn::{Error, Ident};

/// Problems that leave the cache without a key: without `key = ...`, every parameter
/// must be a named, owned-able value, and there must be no receiver.
pub(crate) fn key(args: &Args, func: &CachedFn) -> Vec<Error> {
    if args.key.is_some() || args.was_rejected("key") {
        return Vec::new();
    }
    let mut errors = Vec::new();
    if let Some(receiver) = &func.receiver {
        let names: Vec<String> = func
            .params
            .iter()
            .map(|param| match &param.name {
                Some(name) => name.to_string(),
                None => "..".to_owned(),
            })
            .collect();
        let example = std::iter::once("self.id".to_owned())
            .chain(names)
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(Error::new_spanned(
            receiver,
            format!(
                "a cached method needs `key = ...`: its cache is one static shared by every \
                 instance, so the key must say what a result depends on, \
                 e.g. `#[ttl_cached(secs = 60, key = ({example}))]`"
            ),
        ));
    }
    for param in &func.params {
        if param.name.is_none() {
            errors.push(Error::new_spanned(
                &param.pat,
                "a pattern parameter needs `key = ...`: the cache key is made of the \
                 parameters by name; bind this parameter to a name, or give `key = ...`",
            ));
        } else if let Some(borrow) = find_borrow(&param.borrowed) {
            errors.push(Error::new(
                borrow,
                "this parameter's type borrows data, so it cannot be stored in the cache \
                 key: take an owned type, or give `key = ...` with an owned value",
            ));
        }
    }
    errors
}

/// Problems with options that the expansion can go without: they are reported, and
/// the function is expanded as if the option were absent.
pub(crate) fn options(args: &Args, func: &CachedFn) -> Vec<Error> {
    let mut errors = Vec::new();
    let ttl_rejected = ["secs", "millis", "ttl"]
        .into_iter()
        .any(|name| args.was_rejected(name));
    if args.ttl.is_none() && !ttl_rejected {
        errors.push(Error::new(
            Span::call_site(),
            "missing TTL: give one of `secs = <integer>`, `millis = <integer>` or \
             `ttl = <Duration expression>`, e.g. `#[ttl_cached(secs = 60)]`",
        ));
    }
    if let Some(version) = &args.version {
        if !Args::is_on(&args.redis) {
            errors.push(Error::new(
                version.name.span(),
                "`version` applies to `redis = true` functions: it is part of their Redis keys",
            ));
        }
    }
    if let Some(lease) = &args.lease_secs {
        if !Args::is_on(&args.redis) {
            errors.push(Error::new(
                lease.name.span(),
                "`lease_secs` applies to `redis = true` functions: it is how long one process \
                 may compute a key for the others before one of them takes over",
            ));
        } else if matches!(&args.single_flight, Some(given) if !given.value) {
            errors.push(Error::new(
                lease.name.span(),
                "`lease_secs` has no effect with `single_flight = false`: without single \
                 flight, no process takes a lease; remove one of the two",
            ));
        }
    }
    if let (Some(redis), Some(param)) = (&args.redis, func.sig.generics.type_params().next()) {
        if redis.value {
            errors.push(Error::new(
                redis.name.span(),
                format!(
                    "`redis = true` does not apply to a generic function (type parameter \
                     `{}`): its Redis keys would not tell one instantiation from another; \
                     cache a non-generic function for each type you share",
                    param.ident
                ),
            ));
        }
    }
    errors.extend(fallible_option(
        args.cache_err.as_ref().map(|g| &g.name),
        Fallible::Result,
        func,
    ));
    errors.extend(fallible_option(
        args.cache_none.as_ref().map(|g| &g.name),
        Fallible::Option,
        func,
    ));
    errors.extend(fallible_option(
        args.err_secs.as_ref().map(|g| &g.name),
        Fallible::Result,
        func,
    ));
    errors.extend(fallible_option(
        args.none_secs.as_ref().map(|g| &g.name),
        Fallible::Option,
        func,
    ));
    errors.extend(stale_while_revalidate(args, func));
    if let Some(stale_if_error) = &args.stale_if_error {
        if func.output.fallible != Some(Fallible::Result) {
            errors.push(Error::new(
                stale_if_error.name.span(),
                format!(
                    "`stale_if_error` applies to functions returning `Result`: it answers an \
                     `Err` with the key's earlier `Ok` value, and `{}` returns `{}`",
                    func.sig.ident,
                    type_to_string(&func.output.ty)
                ),
            ));
        }
    }
    errors.extend(negative_ttl_conflict(
        &args.err_secs,
        &args.cache_err,
        "Err",
    ));
    errors.extend(negative_ttl_conflict(
        &args.none_secs,
        &args.cache_none,
        "None",
    ));
    errors
}

/// What keeps `stale_while_revalidate` from applying to the function. A refresh
/// runs the body later, on another thread, after the call that found the value stale
/// has returned: so the body must be callable with arguments moved there, which a
/// receiver, or a borrow inside a parameter, cannot be. (The arguments are moved into
/// the body on every miss, a plain `&T` as its owned form, lent back to the body; each
/// must be `Clone + Send + 'static`: checked at its type when the expansion uses it,
/// see `RefreshArgument` in `cache_core::__private`.)
pub(crate) fn stale_while_revalidate(args: &Args, func: &CachedFn) -> Vec<Error> {
    if args.stale_while_revalidate.is_none() {
        return Vec::new();
    }
    const WHY: &str = "`stale_while_revalidate` runs the body again later, on a background \
                       thread, with the arguments of the call that found the value stale";
    let mut errors = Vec::new();
    if let Some(unsafety) = &func.sig.unsafety {
        errors.push(Error::new(
            unsafety.span,
            format!(
                "{WHY}, which an `unsafe fn` cannot allow: its caller's proof of safety \
                 covers that call only"
            ),
        ));
    }
    // A receiver goes there as a clone of `self` (`&self`) or `self` itself, lent to
    // the body's function; a body expanded in place (`helpers = "none"`) names `self`
    // directly, which cannot be rebound.
    let in_place = matches!(
        args.helpers.as_ref().map(|given| &given.value),
        Some(crate::args::Helpers::None)
    );
    if let Some(receiver) = func.receiver.as_ref().filter(|_| in_place) {
        errors.push(Error::new_spanned(
            receiver,
            format!(
                "{WHY}: with `helpers = \"none\"` the body is expanded in place and names \
                 the caller's `self`, which cannot go there; leave out `helpers = \"none\"` \
                 (the refresh then calls the method on a clone of `self`)"
            ),
        ));
    }
    if let Some(param) = func.sig.generics.type_params().next() {
        errors.push(Error::new(
            param.ident.span(),
            "`stale_while_revalidate` does not support generic functions yet: cache a \
             non-generic function for each type",
        ));
    }
    for param in &func.params {
        // A shared reference to an owned type is moved as its owned form (`&str`
        // as `String`) and lent back to the body; a borrow inside that, or `&mut`, is not.
        let moved = if param.by_ref {
            &param.borrowed
        } else {
            &*param.ty
        };
        // Without `key = ...`, the key's own check reports a borrow inside a parameter.
        if args.key.is_none() {
            continue;
        }
        if let Some(borrow) = find_borrow(moved) {
            errors.push(Error::new(
                borrow,
                format!(
                    "{WHY}: a borrow inside a parameter cannot go there (the call it borrows \
                     from has returned by then, and only a plain `&T` is copied to its owned \
                     form); take an owned type (`String`, `Vec<T>`, `Arc<T>`)"
                ),
            ));
        }
    }
    errors
}

/// `err_secs` caches `Err` results, which `cache_err = false` says not to (the same
/// for `none_secs` and `cache_none = false`).
fn negative_ttl_conflict(
    secs: &Option<Given<u64>>,
    caches: &Option<Given<bool>>,
    variant: &str,
) -> Option<Error> {
    let secs = secs.as_ref()?;
    let caches = caches.as_ref().filter(|given| !given.value)?;
    Some(Error::new(
        secs.name.span(),
        format!(
            "`{}` caches `{variant}` results (for {} s), which `{} = false` forbids: \
             remove one of them",
            secs.name, secs.value, caches.name
        ),
    ))
}

/// `cache_err` applies to a `Result`, `cache_none` to an `Option`.
fn fallible_option(option: Option<&Ident>, expected: Fallible, func: &CachedFn) -> Option<Error> {
    let name = option?;
    if func.output.fallible == Some(expected) {
        return None;
    }
    let (kind, variant) = match expected {
        Fallible::Result => ("Result", "`Err`"),
        Fallible::Option => ("Option", "`None`"),
    };
    Some(Error::new(
        name.span(),
        format!(
            "`{}` applies to functions returning `{kind}` (it caches {variant} too), and `{}` \
             returns `{}`",
            name,
            func.sig.ident,
            type_to_string(&func.output.ty)
        ),
    ))
}

/// A type as written in source, not as spaced tokens: `Option<u64>`.
fn type_to_string(ty: &syn::Type) -> String {
    let spaced = quote::ToTokens::to_token_stream(ty).to_string();
    let mut text = String::with_capacity(spaced.len());
    let mut chars = spaced.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let previous = text.chars().last();
            let next = chars.peek().copied();
            let tight_before = matches!(next, Some('<' | '>' | ',' | ':' | ')' | ']'));
            let tight_after = matches!(previous, Some('<' | ':' | '&' | '(' | '['));
            if tight_before || tight_after {
                continue;
            }
        }
        text.push(c);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::type_to_string;

    #[test]
    fn types_read_as_written() {
        let ty: syn::Type = syn::parse_quote!(Result<Vec<(u64, &'static str)>, io::Error>);
        assert_eq!(
            type_to_string(&ty),
            "Result<Vec<(u64, &'static str)>, io::Error>"
        );
    }
}
