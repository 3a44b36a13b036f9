//! Hostile input: whatever tokens `#[ttl_cached(...)]` is given, the option parser, the
//! checks and the whole expansion return (tokens, or errors for the user) and never
//! panic. A panicking proc macro gives the user "proc macro panicked" with no span,
//! instead of an error at the token that is wrong.
//!
//! Property tests over generated `proc_macro2::TokenStream`s: option lists built from
//! the real option names, with valid and invalid values, unknown names, duplicates,
//! stray punctuation, literals of every kind and nested groups, in any order and with
//! any separators; and token soups with no structure at all. Every run is wrapped in
//! `catch_unwind`, so a panic fails the property with the input printed (after
//! proptest has shrunk it).

use crate::args::{Args, OPTION_NAMES};
use crate::{expand, signature, valid};
use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::ffi::CString;
use std::panic::{self, AssertUnwindSafe};
use std::str::FromStr;

/// Cases per property. Issue 6 asks for at least 2,000; the four properties take
/// about half a minute together in a debug build, most of it in the expansions.
const CASES: u32 = 2_000;

/// How deep generated groups nest: deep enough for `(a, [b, { c }])`, shallow enough
/// that no recursive parser comes near the stack limit (an overflow aborts the test
/// process; it cannot be caught and reported like a panic).
const MAX_DEPTH: u32 = 4;

/// Identifiers that mean something to Rust or to the generated code.
const SPECIAL_IDENTS: [&str; 16] = [
    "self", "Self", "super", "crate", "_", "true", "false", "fn", "async", "await", "let", "move",
    "return", "impl", "dyn", "Duration",
];

/// Words that are keywords, written raw (`r#type`).
const RAW_IDENTS: [&str; 6] = ["type", "match", "fn", "async", "secs", "key"];

/// Every character `Punct` accepts.
const PUNCTS: &[char] = &[
    '=', '<', '>', '!', '~', '+', '-', '*', '/', '%', '^', '&', '|', '@', '.', ',', ';', ':', '#',
    '$', '?', '\'',
];

/// Literal forms that the typed constructors do not produce.
const LITERAL_TEXTS: [&str; 20] = [
    "0x1F",
    "0o17",
    "0b1010",
    "1_000_000",
    "30u8",
    "30usize",
    "30i32",
    "30f64",
    "1e10",
    "2.5e-3f32",
    "1.",
    "30secs",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "r#\"raw \" string\"#",
    "br\"raw bytes\"",
    "c\"c string\"",
    "'\\u{1F600}'",
    "b'\\x7f'",
    "\"\\u{0}\\n\\t\\\\\"",
];

/// Whole expressions, for the values of `key` and `ttl` and for soups.
const SNIPPETS: [&str; 16] = [
    "Duration::from_secs(30)",
    "std::time::Duration::from_millis(5)",
    "(self.tenant.clone(), id)",
    "id",
    "a + b",
    "name.len()",
    "|x| x + 1",
    "{ let x = 1; x }",
    "if id > 0 { 1 } else { 2 }",
    "match id { 0 => 1, _ => 2 }",
    "async move { 1 }",
    "[1, 2, 3][0]",
    "S { a: 1, ..Default::default() }",
    "Self::CONST",
    "#[attr] id",
    "return",
];

/// A token tree, kept as data so that proptest can shrink it and print it.
#[derive(Clone, Debug)]
enum Tree {
    Ident(String),
    RawIdent(&'static str),
    Punct(char, bool),
    Literal(Lit),
    /// A Rust snippet, lexed.
    Snippet(&'static str),
    Group(Delimiter, Vec<Tree>),
}

#[derive(Clone, Debug)]
enum Lit {
    Unsigned(u64),
    Wide(u128),
    Negative(i64),
    SuffixedU16(u16),
    Float(f64),
    SuffixedF32(f32),
    Str(String),
    ByteStr(Vec<u8>),
    Char(char),
    Byte(u8),
    CStr(Vec<u8>),
    Text(&'static str),
}

impl Lit {
    fn to_literal(&self) -> Literal {
        match self {
            Lit::Unsigned(n) => Literal::u64_unsuffixed(*n),
            Lit::Wide(n) => Literal::u128_unsuffixed(*n),
            // A literal token with a minus sign in it, as `macro_rules!` can pass on.
            Lit::Negative(n) => Literal::i64_unsuffixed(*n),
            Lit::SuffixedU16(n) => Literal::u16_suffixed(*n),
            Lit::Float(f) => Literal::f64_unsuffixed(*f),
            Lit::SuffixedF32(f) => Literal::f32_suffixed(*f),
            Lit::Str(s) => Literal::string(s),
            Lit::ByteStr(bytes) => Literal::byte_string(bytes),
            Lit::Char(c) => Literal::character(*c),
            Lit::Byte(b) => Literal::byte_character(*b),
            Lit::CStr(bytes) => {
                let bytes: Vec<u8> = bytes.iter().copied().filter(|b| *b != 0).collect();
                let string = CString::new(bytes).unwrap_or_default();
                Literal::c_string(&string)
            }
            Lit::Text(text) => Literal::from_str(text).unwrap_or_else(|_| Literal::string(text)),
        }
    }
}

impl Tree {
    fn append_to(&self, tokens: &mut TokenStream) {
        let span = Span::call_site();
        let token: TokenTree = match self {
            Tree::Ident(name) => Ident::new(name, span).into(),
            Tree::RawIdent(name) => Ident::new_raw(name, span).into(),
            Tree::Punct(c, joint) => {
                let spacing = if *joint {
                    Spacing::Joint
                } else {
                    Spacing::Alone
                };
                Punct::new(*c, spacing).into()
            }
            Tree::Literal(lit) => lit.to_literal().into(),
            Tree::Snippet(text) => {
                tokens.extend(TokenStream::from_str(text).unwrap_or_default());
                return;
            }
            Tree::Group(delimiter, trees) => Group::new(*delimiter, stream(trees)).into(),
        };
        tokens.extend([token]);
    }
}

fn stream(trees: &[Tree]) -> TokenStream {
    let mut tokens = TokenStream::new();
    for tree in trees {
        tree.append_to(&mut tokens);
    }
    tokens
}

fn ident() -> impl Strategy<Value = Tree> {
    prop_oneof![
        prop::sample::select(&OPTION_NAMES[..]).prop_map(|name| Tree::Ident(name.to_owned())),
        prop::sample::select(&SPECIAL_IDENTS[..]).prop_map(|name| Tree::Ident(name.to_owned())),
        "[a-z][a-z0-9_]{0,10}".prop_map(Tree::Ident),
        "_[a-zA-Z0-9_]{1,6}|[A-Z][A-Za-z]{0,6}|ünï[a-z]{0,3}".prop_map(Tree::Ident),
        prop::sample::select(&RAW_IDENTS[..]).prop_map(Tree::RawIdent),
    ]
}

fn literal() -> impl Strategy<Value = Lit> {
    prop_oneof![
        prop_oneof![Just(0u64), Just(1), Just(30), Just(u64::MAX), any::<u64>()]
            .prop_map(Lit::Unsigned),
        any::<u128>().prop_map(Lit::Wide),
        (i64::MIN..0).prop_map(Lit::Negative),
        any::<u16>().prop_map(Lit::SuffixedU16),
        (prop::num::f64::POSITIVE
            | prop::num::f64::NORMAL
            | prop::num::f64::ZERO
            | prop::num::f64::SUBNORMAL)
            .prop_map(Lit::Float),
        prop::num::f32::NORMAL.prop_map(Lit::SuffixedF32),
        any::<String>().prop_map(Lit::Str),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Lit::ByteStr),
        any::<char>().prop_map(Lit::Char),
        any::<u8>().prop_map(Lit::Byte),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Lit::CStr),
        prop::sample::select(&LITERAL_TEXTS[..]).prop_map(Lit::Text),
    ]
}

fn leaf() -> impl Strategy<Value = Tree> {
    prop_oneof![
        3 => ident(),
        3 => (prop::sample::select(PUNCTS), any::<bool>()).prop_map(|(c, joint)| Tree::Punct(c, joint)),
        3 => literal().prop_map(Tree::Literal),
        1 => prop::sample::select(&SNIPPETS[..]).prop_map(Tree::Snippet),
    ]
}

fn delimiter() -> impl Strategy<Value = Delimiter> {
    prop_oneof![
        Just(Delimiter::Parenthesis),
        Just(Delimiter::Brace),
        Just(Delimiter::Bracket),
        // Invisible groups, as `macro_rules!` makes around `$x:expr`.
        Just(Delimiter::None),
    ]
}

/// Any token tree, groups nested at most [`MAX_DEPTH`] deep.
fn tree() -> impl Strategy<Value = Tree> {
    leaf().prop_recursive(MAX_DEPTH, 48, 6, |inner| {
        (delimiter(), prop::collection::vec(inner, 0..6))
            .prop_map(|(delimiter, trees)| Tree::Group(delimiter, trees))
    })
}

/// One entry of an option list, before separators.
#[derive(Clone, Debug)]
enum Entry {
    /// `name = value`, the value valid or not.
    Option(Tree, Vec<Tree>),
    /// `name` alone.
    Bare(Tree),
    /// `name =` and nothing.
    Unfinished(Tree),
    /// Anything else: literals, punctuation, groups.
    Junk(Vec<Tree>),
}

/// A value that some option accepts, or one that none does.
fn value() -> impl Strategy<Value = Vec<Tree>> {
    let integer = prop_oneof![Just(0u64), Just(1), Just(30), Just(u64::MAX), any::<u64>()]
        .prop_map(|n| vec![Tree::Literal(Lit::Unsigned(n))]);
    let boolean = prop::sample::select(&["true", "false"][..])
        .prop_map(|word| vec![Tree::Ident(word.to_owned())]);
    let negative =
        (1u64..100).prop_map(|n| vec![Tree::Punct('-', false), Tree::Literal(Lit::Unsigned(n))]);
    prop_oneof![
        3 => integer,
        2 => boolean,
        1 => negative,
        2 => prop::sample::select(&SNIPPETS[..]).prop_map(|text| vec![Tree::Snippet(text)]),
        2 => literal().prop_map(|lit| vec![Tree::Literal(lit)]),
        2 => prop::collection::vec(tree(), 1..4),
    ]
}

fn option_name() -> impl Strategy<Value = Tree> {
    prop_oneof![
        4 => prop::sample::select(&OPTION_NAMES[..]).prop_map(|name| Tree::Ident(name.to_owned())),
        1 => ident(),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        8 => (option_name(), value()).prop_map(|(name, value)| Entry::Option(name, value)),
        1 => option_name().prop_map(Entry::Bare),
        1 => option_name().prop_map(Entry::Unfinished),
        1 => prop::collection::vec(tree(), 1..3).prop_map(Entry::Junk),
    ]
}

/// What comes between two entries: mostly a comma.
fn separator() -> impl Strategy<Value = Vec<Tree>> {
    prop_oneof![
        8 => Just(vec![Tree::Punct(',', false)]),
        1 => Just(vec![]),
        1 => Just(vec![Tree::Punct(',', false), Tree::Punct(',', false)]),
        1 => (prop::sample::select(PUNCTS), any::<bool>()).prop_map(|(c, joint)| vec![Tree::Punct(c, joint)]),
    ]
}

/// An option list: entries, separators, and sometimes a trailing separator.
fn option_list() -> impl Strategy<Value = Vec<Tree>> {
    (
        prop::collection::vec((entry(), separator()), 0..8),
        any::<bool>(),
    )
        .prop_map(|(entries, trailing)| {
            let count = entries.len();
            let mut trees = Vec::new();
            for (index, (entry, separator)) in entries.into_iter().enumerate() {
                match entry {
                    Entry::Option(name, value) => {
                        trees.push(name);
                        trees.push(Tree::Punct('=', false));
                        trees.extend(value);
                    }
                    Entry::Bare(name) => trees.push(name),
                    Entry::Unfinished(name) => {
                        trees.push(name);
                        trees.push(Tree::Punct('=', false));
                    }
                    Entry::Junk(junk) => trees.extend(junk),
                }
                if index + 1 < count || trailing {
                    trees.extend(separator);
                }
            }
            trees
        })
}

/// Valid functions of every shape the expansion distinguishes.
const FUNCTIONS: [&str; 6] = [
    "fn fetch_user(id: u64, region: &str) -> String { format!(\"{id}{region}\") }",
    "fn parse<'a, T: FromStr + Clone>(s: &'a str) -> Option<T> where T: Send { s.parse().ok() }",
    "pub async fn fetch(id: u64) -> Result<u64, String> { Ok(id) }",
    "fn load(&self, id: u64) -> Option<u64> { Some(id + self.base) }",
    "pub(crate) async unsafe fn pattern((a, b): (u64, u64)) -> u64 { a + b }",
    "async fn named(tenant: &str) -> Self { Self::new(tenant) }",
];

/// Runs `run`, turning a panic into a failure that shows `input`.
fn without_panic<T>(
    what: &str,
    input: &TokenStream,
    run: impl FnOnce() -> T,
) -> Result<T, TestCaseError> {
    panic::catch_unwind(AssertUnwindSafe(run)).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(not a string)");
        TestCaseError::fail(format!("{what} panicked ({message}) on input `{input}`"))
    })
}

/// One of [`FUNCTIONS`].
fn function() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&FUNCTIONS[..])
}

/// Parses `tokens` as options and checks them against `function`: all of it must
/// return, and the parser must collect its errors rather than fail as a whole (so
/// that every error is reported at once).
fn parse_and_check(tokens: &TokenStream, function: &str) -> Result<(), TestCaseError> {
    let parsed = without_panic("parsing the options", tokens, || {
        syn::parse2::<Args>(tokens.clone())
    })?;
    let args = parsed.map_err(|error| {
        TestCaseError::fail(format!(
            "the parser failed as a whole ({error}) on input `{tokens}`"
        ))
    })?;
    let item: syn::ItemFn = syn::parse_str(function).expect("a valid function");
    let func = signature::analyze(item).map_err(|error| TestCaseError::fail(error.to_string()))?;
    without_panic("the option checks", tokens, || valid::options(&args, &func))?;
    without_panic("the key checks", tokens, || valid::key(&args, &func))?;
    Ok(())
}

/// Expands `#[ttl_cached(options)] function`: the expansion must return, and what it
/// returns must parse as Rust items (the function, its helpers, and
/// `compile_error!`s), so that the user sees our errors rather than a parse error.
fn expand_to_items(options: &TokenStream, function: &str) -> Result<(), TestCaseError> {
    let item = TokenStream::from_str(function).expect("a valid function");
    let output = without_panic("the expansion", options, || {
        expand::ttl_cached(options.clone(), item)
    })?;
    match syn::parse2::<syn::File>(output.clone()) {
        Ok(_) => Ok(()),
        Err(error) => Err(TestCaseError::fail(format!(
            "the expansion of `#[ttl_cached({options})] {function}` does not parse \
             ({error}): `{output}`"
        ))),
    }
}

/// `#[ttl_cached_impl]` on a trait impl holding `#[ttl_cached(options)] function`, and
/// the two parts of the method's expansion that it asks for: each must return, and
/// parse as what it replaces (items; the items of an `impl`).
fn expand_in_impl(options: &TokenStream, function: &str) -> Result<(), TestCaseError> {
    let function = TokenStream::from_str(function).expect("a valid function");
    let block = quote::quote!(impl Store for Db { #[ttl_cached(#options)] #function });
    let output = without_panic("the impl-block expansion", options, || {
        crate::impl_block::ttl_cached_impl(TokenStream::new(), block.clone())
    })?;
    if let Err(error) = syn::parse2::<syn::File>(output.clone()) {
        return Err(TestCaseError::fail(format!(
            "the expansion of `#[ttl_cached_impl] {block}` does not parse ({error}): `{output}`"
        )));
    }
    for part in ["main", "rest"] {
        let part = proc_macro2::Ident::new(part, proc_macro2::Span::call_site());
        let marked = quote::quote!(__ttl_cached_part = #part, #options);
        let output = without_panic("a part of the expansion", options, || {
            expand::ttl_cached(marked.clone(), function.clone())
        })?;
        let items = quote::quote!(impl Db { #output });
        if let Err(error) = syn::parse2::<syn::ItemImpl>(items) {
            return Err(TestCaseError::fail(format!(
                "the `{part}` part of `#[ttl_cached({options})] {function}` does not parse \
                 as `impl` items ({error}): `{output}`"
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn option_lists_parse_and_check_without_panic(list in option_list(), function in function()) {
        parse_and_check(&stream(&list), function)?;
    }

    #[test]
    fn token_soups_parse_and_check_without_panic(
        soup in prop::collection::vec(tree(), 0..24),
        function in function(),
    ) {
        parse_and_check(&stream(&soup), function)?;
    }

    #[test]
    fn option_lists_expand_to_items_without_panic(list in option_list(), function in function()) {
        expand_to_items(&stream(&list), function)?;
    }

    #[test]
    fn option_lists_expand_in_an_impl_block_without_panic(
        list in option_list(),
        function in function(),
    ) {
        expand_in_impl(&stream(&list), function)?;
    }

    #[test]
    fn token_soups_expand_to_items_without_panic(
        soup in prop::collection::vec(tree(), 0..16),
        function in function(),
    ) {
        expand_to_items(&stream(&soup), function)?;
    }
}
