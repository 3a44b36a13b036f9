//! Reading the function: its parameters as parts of a cache key, its return type as
//! the cached value, and the shapes of function that cannot be cached at all.
//!
//! The checks here depend on the function alone; the ones that depend on the options
//! (a receiver needs `key`, say) are in [`crate::valid`]. This module never rewrites
//! anything: it describes the function for [`crate::expand`].

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::visit::{self, Visit};
use syn::{
    AttrStyle, Attribute, Error, FnArg, GenericParam, ItemFn, Pat, Receiver, ReturnType, Stmt,
    Type, TypeImplTrait, TypeReference, Visibility,
};

/// A function that `#[ttl_cached]` can rewrite.
pub(crate) struct CachedFn {
    /// Doc comments and attributes on the function, kept on it.
    pub(crate) outer_attrs: Vec<Attribute>,
    /// `#![...]` attributes inside the body, kept with the body.
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    /// The signature as written.
    pub(crate) sig: syn::Signature,
    /// The body's statements.
    pub(crate) stmts: Vec<Stmt>,
    pub(crate) receiver: Option<Receiver>,
    pub(crate) params: Vec<Param>,
    pub(crate) output: Output,
    pub(crate) call_style: CallStyle,
}

impl CachedFn {
    /// An `async fn`: it stays one, and so do `_uncached` and `_refresh`.
    pub(crate) fn is_async(&self) -> bool {
        self.sig.asyncness.is_some()
    }
}

/// One typed parameter (not the receiver).
pub(crate) struct Param {
    /// The pattern as written: `id`, `mut id`, `(a, b)`.
    pub(crate) pat: Box<Pat>,
    pub(crate) ty: Box<Type>,
    /// The bound name when the pattern is just a name (`mut` allowed).
    pub(crate) name: Option<Ident>,
    /// The key part in borrowed form: `T` for `&T`, the type itself otherwise.
    pub(crate) borrowed: Type,
    /// The parameter is a shared reference `&T`.
    pub(crate) by_ref: bool,
}

impl Param {
    /// The key part in owned form, as users read it in `_cache()`'s type:
    /// `&str` → `String`, `&[T]` → `Vec<T>`, `&T` → `<T as ToOwned>::Owned`, `T` → `T`.
    pub(crate) fn owned_type(&self) -> TokenStream {
        let borrowed = &self.borrowed;
        if !self.by_ref {
            return borrowed.to_token_stream();
        }
        match borrowed {
            Type::Path(path) if path.qself.is_none() && path.path.is_ident("str") => {
                quote!(::std::string::String)
            }
            Type::Slice(slice) => {
                let element = &slice.elem;
                quote!(::std::vec::Vec<#element>)
            }
            _ => quote!(<#borrowed as ::std::borrow::ToOwned>::Owned),
        }
    }
}

/// The return type.
pub(crate) struct Output {
    /// The type, `()` when none is written.
    pub(crate) ty: Type,
    /// The last path segment is `Result` or `Option`.
    pub(crate) fallible: Option<Fallible>,
}

/// Return types whose success part alone is cached by default.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallible {
    Result,
    Option,
}

/// How generated functions name each other.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallStyle {
    /// A free function: siblings are named `fetch_user_uncached`.
    Free,
    /// Inside an `impl` block: siblings are named `Self::fetch_user_uncached`.
    Associated,
}

/// Describes `item`, or reports every reason it cannot be cached.
pub(crate) fn analyze(item: ItemFn) -> Result<CachedFn, Error> {
    let mut errors = Vec::new();
    let sig = &item.sig;

    if let Some(constness) = &sig.constness {
        errors.push(Error::new_spanned(
            constness,
            "a `const fn` cannot be cached: a cache lookup is not a const operation",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(Error::new_spanned(
            abi,
            "an `extern` function cannot be cached: remove the ABI, or cache a Rust \
             function that calls it",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(Error::new_spanned(
            variadic,
            "a variadic function cannot be cached",
        ));
    }
    // Type parameters are cached one map per instantiation (see `crate::expand`);
    // lifetimes are fine where they stay out of the key and the value, which the key
    // and value checks see to.
    for param in &sig.generics.params {
        if let GenericParam::Const(param) = param {
            errors.push(Error::new_spanned(
                param,
                format!(
                    "a function with a const parameter (`{}`) cannot be cached: make it a \
                     parameter of the function, or cache a function for each value you use",
                    param.ident
                ),
            ));
        }
    }

    let mut receiver = None;
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(found) => {
                if found.reference.is_some() && found.mutability.is_some() {
                    errors.push(Error::new_spanned(
                        found,
                        "a cached method cannot take `&mut self`: a cache hit would skip \
                         the mutation; take `&self`",
                    ));
                }
                receiver = Some(found.clone());
            }
            FnArg::Typed(typed) => match param(&typed.pat, &typed.ty) {
                Ok(param) => params.push(param),
                Err(error) => errors.push(error),
            },
        }
    }

    let output = output(&sig.output);
    errors.extend(output.as_ref().err().cloned());
    if let Some(error) = combine(errors) {
        return Err(error);
    }
    let output = output?;

    let call_style = if receiver.is_some()
        || mentions_self(sig.to_token_stream())
        || mentions_self(item.block.to_token_stream())
    {
        CallStyle::Associated
    } else {
        CallStyle::Free
    };
    let (inner_attrs, outer_attrs) = item
        .attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    Ok(CachedFn {
        outer_attrs,
        inner_attrs,
        vis: item.vis,
        sig: item.sig,
        stmts: item.block.stmts,
        receiver,
        params,
        output,
        call_style,
    })
}

/// One typed parameter, or why it cannot be part of a call that is cached.
fn param(pat: &Pat, ty: &Type) -> Result<Param, Error> {
    if let Some(impl_trait) = find_impl_trait(ty) {
        return Err(Error::new_spanned(
            impl_trait,
            "an `impl Trait` parameter makes the function generic, and a cached function \
             needs concrete types: take a concrete type (e.g. `&str`, `&[T]`, `Box<dyn Trait>`)",
        ));
    }
    let (borrowed, by_ref) = match ty {
        Type::Reference(reference) if reference.mutability.is_some() => {
            return Err(Error::new_spanned(
                ty,
                "a cached function cannot take a `&mut` parameter: a cache hit would skip \
                 the mutation",
            ));
        }
        Type::Reference(reference) => ((*reference.elem).clone(), true),
        _ => (ty.clone(), false),
    };
    let name = match pat {
        Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
            Some(ident.ident.clone())
        }
        _ => None,
    };
    Ok(Param {
        pat: Box::new(pat.clone()),
        ty: Box::new(ty.clone()),
        name,
        borrowed,
        by_ref,
    })
}

/// The return type, or why its values cannot be kept in a cache.
fn output(output: &ReturnType) -> Result<Output, Error> {
    let ty: Type = match output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if let Some(impl_trait) = find_impl_trait(&ty) {
        return Err(Error::new_spanned(
            impl_trait,
            "a cached function cannot return `impl Trait`: cached values are stored in a \
             static, which needs a concrete type; return a concrete type (e.g. `Arc<dyn Trait>`)",
        ));
    }
    if let Some(borrow) = find_borrow(&ty) {
        return Err(Error::new(
            borrow,
            "a cached function must return owned data: the value outlives this call in a \
             static cache; return an owned type (e.g. `String`, `Arc<T>`) or a `'static` reference",
        ));
    }
    let fallible = match &ty {
        Type::Path(path) if path.qself.is_none() => {
            match path.path.segments.last().map(|segment| &segment.ident) {
                Some(ident) if ident == "Result" => Some(Fallible::Result),
                Some(ident) if ident == "Option" => Some(Fallible::Option),
                _ => None,
            }
        }
        _ => None,
    };
    Ok(Output { ty, fallible })
}

/// The first `impl Trait` inside `ty`.
fn find_impl_trait(ty: &Type) -> Option<&TypeImplTrait> {
    struct Finder<'a>(Option<&'a TypeImplTrait>);
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_type_impl_trait(&mut self, found: &'a TypeImplTrait) {
            self.0.get_or_insert(found);
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

/// Where `ty` borrows something that may not live forever: a reference or a lifetime
/// other than `'static`.
pub(crate) fn find_borrow(ty: &Type) -> Option<Span> {
    struct Finder(Option<Span>);
    impl<'a> Visit<'a> for Finder {
        fn visit_type_reference(&mut self, reference: &'a TypeReference) {
            match &reference.lifetime {
                Some(lifetime) if lifetime.ident == "static" => {
                    visit::visit_type_reference(self, reference);
                }
                _ => {
                    self.0.get_or_insert(reference.and_token.span);
                }
            }
        }
        fn visit_lifetime(&mut self, lifetime: &'a syn::Lifetime) {
            if lifetime.ident != "static" {
                self.0.get_or_insert(lifetime.span());
            }
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

/// Whether the types the ops function names (parameters, return type, generics) use
/// `Self`, which an item inside the function's body cannot name.
pub(crate) fn types_mention_self(func: &CachedFn) -> bool {
    func.params
        .iter()
        .any(|param| mentions_self(param.ty.to_token_stream()))
        || mentions_self(func.output.ty.to_token_stream())
        || mentions_self(func.sig.generics.to_token_stream())
        || mentions_self(func.sig.generics.where_clause.to_token_stream())
}

/// Whether `tokens` use `Self` (outside nested `impl` and `trait` blocks), which means
/// the function is inside an `impl` block even without a receiver.
fn mentions_self(tokens: TokenStream) -> bool {
    let mut skipping_item = false;
    for token in tokens {
        match token {
            TokenTree::Ident(ident) if ident == "Self" && !skipping_item => return true,
            TokenTree::Ident(ident) if ident == "impl" || ident == "trait" => {
                // The `impl` of a nested item has its own `Self`; its body is the next
                // brace group. (`impl Trait` in a type ends at a brace group too.)
                skipping_item = true;
            }
            TokenTree::Group(group) => {
                let is_brace = group.delimiter() == proc_macro2::Delimiter::Brace;
                if skipping_item && is_brace {
                    skipping_item = false;
                } else if !skipping_item && mentions_self(group.stream()) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// All of `errors` as one error, if any.
pub(crate) fn combine(errors: impl IntoIterator<Item = Error>) -> Option<Error> {
    errors.into_iter().reduce(|mut all, error| {
        all.combine(error);
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn owned_key_types_read_naturally() {
        let item: ItemFn = parse_quote!(
            fn f(a: &str, b: &[u8], c: &Path, d: u64) {}
        );
        let func = analyze(item).unwrap_or_else(|error| panic!("{error}"));
        let owned: Vec<String> = func
            .params
            .iter()
            .map(|param| param.owned_type().to_string())
            .collect();
        assert_eq!(
            owned,
            [
                ":: std :: string :: String",
                ":: std :: vec :: Vec < u8 >",
                "< Path as :: std :: borrow :: ToOwned > :: Owned",
                "u64"
            ]
        );
    }

    #[test]
    fn self_in_the_body_means_an_impl_block() {
        let item: ItemFn = parse_quote!(
            fn f(n: u64) -> u64 {
                Self::g(n)
            }
        );
        assert!(analyze(item).is_ok_and(|func| func.call_style == CallStyle::Associated));
        let item: ItemFn = parse_quote!(
            fn f(n: u64) -> u64 {
                struct A;
                impl A {
                    fn new() -> Self {
                        A
                    }
                }
                n
            }
        );
        assert!(analyze(item).is_ok_and(|func| func.call_style == CallStyle::Free));
    }

    #[test]
    fn every_unsupported_shape_is_reported_at_once() {
        let item: ItemFn = parse_quote!(
            const fn f<const N: usize>(a: &mut u8, b: impl Copy) -> &str {}
        );
        let error = analyze(item).err().map(|error| error.into_iter().count());
        assert_eq!(error, Some(5));
    }
}
