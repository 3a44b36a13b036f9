//! The options inside `#[ttl_cached(...)]`: what each one means, and the errors for
//! values that cannot be right whatever the function is.
//!
//! This module never looks at the function. A bad option does not stop the parse: its
//! error is kept in [`Args::errors`] and the next option is read, so that every mistake
//! in the attribute is reported at once, and the function can still be expanded with
//! the options that were valid.

use proc_macro2::{TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Error, Expr, Ident, Lit, LitBool, Result, Token};

/// The custom keywords naming each option.
mod kw {
    syn::custom_keyword!(secs);
    syn::custom_keyword!(millis);
    syn::custom_keyword!(ttl);
    syn::custom_keyword!(capacity);
    syn::custom_keyword!(key);
    syn::custom_keyword!(refresh);
    syn::custom_keyword!(cache_err);
    syn::custom_keyword!(cache_none);
    syn::custom_keyword!(single_flight);
    syn::custom_keyword!(clock);
    syn::custom_keyword!(helpers);
    syn::custom_keyword!(redis);
    syn::custom_keyword!(version);
    syn::custom_keyword!(jitter);
    syn::custom_keyword!(err_secs);
    syn::custom_keyword!(none_secs);
    syn::custom_keyword!(ttl_from);
    syn::custom_keyword!(stale_if_error);
    syn::custom_keyword!(stale_while_revalidate);
    syn::custom_keyword!(lease_secs);
}

/// Every option name, in the order the documentation lists them.
pub(crate) const OPTION_NAMES: [&str; 20] = [
    "secs",
    "millis",
    "ttl",
    "capacity",
    "key",
    "refresh",
    "cache_err",
    "cache_none",
    "single_flight",
    "clock",
    "helpers",
    "redis",
    "version",
    "jitter",
    "err_secs",
    "none_secs",
    "ttl_from",
    "stale_if_error",
    "stale_while_revalidate",
    "lease_secs",
];

/// The TTL options, of which exactly one must be given.
const TTL_OPTIONS: &str =
    "`secs = <integer>`, `millis = <integer>` or `ttl = <Duration expression>`";

/// An option as written: its name (for error spans) and its value.
pub(crate) struct Given<T> {
    pub(crate) name: Ident,
    pub(crate) value: T,
}

/// How long an entry lives.
pub(crate) enum Ttl {
    /// `secs = N`.
    Secs(u64),
    /// `millis = N`.
    Millis(u64),
    /// `ttl = <expr>`: a `Duration` computed once, on first use.
    Expr(Box<Expr>),
}

/// Which helpers (`_invalidate`, `_clear`, `_cache`, `_uncached`, `_refresh`) are
/// generated, and with what visibility.
pub(crate) enum Helpers {
    /// `helpers = "pub(crate)"` and the like: this visibility.
    Visible(syn::Visibility),
    /// `helpers = "private"`: inherited visibility (private to the module, or to the
    /// `impl` block's module).
    Private,
    /// `helpers = "none"`: none at all.
    None,
}

/// The parsed options of one `#[ttl_cached(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `secs`, `millis` or `ttl`; `None` is reported by [`crate::valid`].
    pub(crate) ttl: Option<Given<Ttl>>,
    /// `capacity = N`.
    pub(crate) capacity: Option<Given<usize>>,
    /// `key = <expr>`.
    pub(crate) key: Option<Given<Box<Expr>>>,
    /// `refresh = <bool>`.
    pub(crate) refresh: Option<Given<bool>>,
    /// `cache_err = <bool>`.
    pub(crate) cache_err: Option<Given<bool>>,
    /// `cache_none = <bool>`.
    pub(crate) cache_none: Option<Given<bool>>,
    /// `single_flight = <bool>`.
    pub(crate) single_flight: Option<Given<bool>>,
    /// `clock = <expr>`: a `MockClock` the map reads instead of the process clock.
    pub(crate) clock: Option<Given<Box<Expr>>>,
    /// `helpers = "<visibility>"`; by default the function's visibility.
    pub(crate) helpers: Option<Given<Helpers>>,
    /// `redis = <bool>`: a Redis second level (feature `redis` of cache-core).
    pub(crate) redis: Option<Given<bool>>,
    /// `version = N`: part of the Redis keys.
    pub(crate) version: Option<Given<u64>>,
    /// `jitter = F`: each entry's TTL drawn from `[ttl × (1 − F), ttl]`.
    pub(crate) jitter: Option<Given<f64>>,
    /// `err_secs = N`: `Err` results cached, for `N` seconds at most.
    pub(crate) err_secs: Option<Given<u64>>,
    /// `none_secs = N`: `None` results cached, for `N` seconds at most.
    pub(crate) none_secs: Option<Given<u64>>,
    /// `ttl_from = path`: a `fn(&R) -> Option<Duration>` that says how long each
    /// computed value may live (`None`: not stored).
    pub(crate) ttl_from: Option<Given<syn::Path>>,
    /// `stale_if_error = N`: an `Err` answered with the key's `Ok` value that expired
    /// less than `N` seconds ago.
    pub(crate) stale_if_error: Option<Given<u64>>,
    /// `stale_while_revalidate = N`: for `N` seconds past its TTL, a value is
    /// returned stale while one background refresh recomputes it.
    pub(crate) stale_while_revalidate: Option<Given<u64>>,
    /// `lease_secs = N`: with `redis = true`, how long a fleet-wide flight's lease lasts.
    pub(crate) lease_secs: Option<Given<u64>>,
    /// Problems with single options, reported together with everything else.
    pub(crate) errors: Vec<Error>,
    /// Options named with a value that was rejected (and reported): not missing.
    pub(crate) rejected: Vec<Ident>,
}

impl Args {
    /// Whether an option with this name was given with a value that was rejected.
    pub(crate) fn was_rejected(&self, name: &str) -> bool {
        self.rejected.iter().any(|rejected| rejected == name)
    }

    /// Remembers that `name`'s value was rejected, passing the error on.
    fn value<T>(&mut self, name: &Ident, value: Result<T>) -> Result<T> {
        if value.is_err() {
            self.rejected.push(name.clone());
        }
        value
    }

    /// Whether `name = true` was given for a boolean option.
    pub(crate) fn is_on(option: &Option<Given<bool>>) -> bool {
        option.as_ref().is_some_and(|given| given.value)
    }

    /// Parses one `name = value` option into its slot.
    fn parse_option(&mut self, input: ParseStream) -> Result<()> {
        if input.peek(kw::secs) {
            let name = option_name(input)?;
            let secs = self.value(&name, positive_integer(input, &name, "seconds"))?;
            set_once(&mut self.ttl, name, Ttl::Secs(secs))
        } else if input.peek(kw::millis) {
            let name = option_name(input)?;
            let millis = self.value(&name, positive_integer(input, &name, "milliseconds"))?;
            set_once(&mut self.ttl, name, Ttl::Millis(millis))
        } else if input.peek(kw::ttl) {
            let name = option_name(input)?;
            let expr = self.value(&name, expression(input, &name))?;
            set_once(&mut self.ttl, name, Ttl::Expr(expr))
        } else if input.peek(kw::capacity) {
            let name = option_name(input)?;
            let capacity = positive_integer(input, &name, "entries")?;
            let capacity = usize::try_from(capacity).map_err(|_| {
                Error::new_spanned(&name, "`capacity` does not fit in `usize` on this target")
            })?;
            set_once(&mut self.capacity, name, capacity)
        } else if input.peek(kw::key) {
            let name = option_name(input)?;
            let expr = self.value(&name, expression(input, &name))?;
            set_once(&mut self.key, name, expr)
        } else if input.peek(kw::refresh) {
            let name = option_name(input)?;
            let on = boolean(input, &name)?;
            set_once(&mut self.refresh, name, on)
        } else if input.peek(kw::cache_err) {
            let name = option_name(input)?;
            let on = boolean(input, &name)?;
            set_once(&mut self.cache_err, name, on)
        } else if input.peek(kw::cache_none) {
            let name = option_name(input)?;
            let on = boolean(input, &name)?;
            set_once(&mut self.cache_none, name, on)
        } else if input.peek(kw::single_flight) {
            let name = option_name(input)?;
            let on = boolean(input, &name)?;
            set_once(&mut self.single_flight, name, on)
        } else if input.peek(kw::clock) {
            let name = option_name(input)?;
            let expr = self.value(&name, expression(input, &name))?;
            set_once(&mut self.clock, name, expr)
        } else if input.peek(kw::helpers) {
            let name = option_name(input)?;
            let helpers = helpers(input, &name)?;
            set_once(&mut self.helpers, name, helpers)
        } else if input.peek(kw::redis) {
            let name = option_name(input)?;
            let on = boolean(input, &name)?;
            set_once(&mut self.redis, name, on)
        } else if input.peek(kw::version) {
            let name = option_name(input)?;
            let version = self.value(&name, integer(input, &name))?;
            set_once(&mut self.version, name, version)
        } else if input.peek(kw::err_secs) {
            let name = option_name(input)?;
            let secs = self.value(&name, positive_integer(input, &name, "seconds"))?;
            set_once(&mut self.err_secs, name, secs)
        } else if input.peek(kw::none_secs) {
            let name = option_name(input)?;
            let secs = self.value(&name, positive_integer(input, &name, "seconds"))?;
            set_once(&mut self.none_secs, name, secs)
        } else if input.peek(kw::stale_while_revalidate) {
            let name = option_name(input)?;
            let secs = self.value(&name, positive_integer(input, &name, "seconds"))?;
            set_once(&mut self.stale_while_revalidate, name, secs)
        } else if input.peek(kw::stale_if_error) {
            let name = option_name(input)?;
            let secs = self.value(&name, positive_integer(input, &name, "seconds"))?;
            set_once(&mut self.stale_if_error, name, secs)
        } else if input.peek(kw::ttl_from) {
            let name = option_name(input)?;
            let path = self.value(&name, function_path(input, &name))?;
            set_once(&mut self.ttl_from, name, path)
        } else if input.peek(kw::lease_secs) {
            let name = option_name(input)?;
            let secs = self.value(&name, positive_integer(input, &name, "seconds"))?;
            set_once(&mut self.lease_secs, name, secs)
        } else if input.peek(kw::jitter) {
            let name = option_name(input)?;
            let fraction = self.value(&name, fraction(input, &name))?;
            set_once(&mut self.jitter, name, fraction)
        } else if input.peek(syn::LitInt) {
            // `#[ttl_cached(30)]`: a TTL without its name. Not "missing" as well.
            let literal: syn::LitInt = input.parse()?;
            self.rejected.push(Ident::new("secs", literal.span()));
            Err(Error::new(
                literal.span(),
                format!("a bare number is not an option: write `secs = {literal}` or `millis = {literal}`"),
            ))
        } else {
            let (error, suggestion) = unknown_option(input);
            // A misspelled option is that option, rejected: not also missing (no
            // "missing TTL" after `sec = 5`, no "needs `key`" after `kye = id`).
            if let Some(suggestion) = suggestion {
                self.rejected.push(suggestion);
            }
            Err(error)
        }
    }
}

impl Parse for Args {
    fn parse(input: ParseStream) -> Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            if let Err(error) = args.parse_option(input) {
                args.errors.push(error);
                skip_to_next_option(input);
            }
            if input.is_empty() {
                break;
            }
            if let Err(error) = input.parse::<Token![,]>() {
                args.errors.push(Error::new(
                    error.span(),
                    "expected `,` between options, as in `secs = 30, capacity = 100`",
                ));
                skip_to_next_option(input);
                // The comma that ends the skipped tokens, if any.
                let _ = input.parse::<Option<Token![,]>>();
            }
        }
        Ok(args)
    }
}

/// The one place that refuses an option given twice. Options that share a slot (the
/// three TTL options) conflict instead of repeating.
fn set_once<T>(slot: &mut Option<Given<T>>, name: Ident, value: T) -> Result<()> {
    if let Some(earlier) = slot {
        let message = if earlier.name == name {
            format!("duplicate option `{name}`: each option may be given once")
        } else {
            format!(
                "`{name}` conflicts with `{}`: give exactly one of {TTL_OPTIONS}",
                earlier.name
            )
        };
        return Err(Error::new(name.span(), message));
    }
    *slot = Some(Given { name, value });
    Ok(())
}

/// Reads the option name that a keyword peek has already recognised.
fn option_name(input: ParseStream) -> Result<Ident> {
    input.call(Ident::parse_any)
}

/// Reads the `=` after an option name, with an example of the option in the error.
fn equals(input: ParseStream, name: &Ident, example: &str) -> Result<()> {
    if input.peek(Token![=]) {
        let equals: Token![=] = input.parse()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(Error::new(
                equals.span,
                format!("expected a value after `{name} =`, as in `{example}`"),
            ));
        }
        Ok(())
    } else {
        Err(Error::new(
            name.span(),
            format!("expected a value for `{name}`, as in `{example}`"),
        ))
    }
}

/// `= <expression>`.
fn expression(input: ParseStream, name: &Ident) -> Result<Box<Expr>> {
    let example = if name == "ttl" {
        "ttl = Duration::from_secs(30)"
    } else if name == "clock" {
        "clock = test_clock()"
    } else {
        "key = id"
    };
    equals(input, name, example)?;
    value_expression(input).map(Box::new)
}

/// `= "<visibility>"`, `= "private"` or `= "none"`.
fn helpers(input: ParseStream, name: &Ident) -> Result<Helpers> {
    const EXPECTED: &str = "expected `helpers = \"pub\"`, `\"pub(crate)\"`, `\"pub(super)\"`, \
         `\"pub(in path)\"`, `\"private\"` (inherited visibility) or `\"none\"` (no helpers)";
    equals(input, name, "helpers = \"pub(crate)\"")?;
    if input.peek(Token![pub]) {
        let visibility: syn::Visibility = input.parse()?;
        let written = quote::ToTokens::to_token_stream(&visibility).to_string();
        let written = written
            .replace(" (", "(")
            .replace("( ", "(")
            .replace(" )", ")");
        return Err(Error::new_spanned(
            visibility,
            format!("write the visibility as a string: `helpers = \"{written}\"`"),
        ));
    }
    let value = value_expression(input)?;
    let literal = match &value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(literal),
            ..
        }) => literal,
        other => return Err(Error::new_spanned(other, EXPECTED)),
    };
    match literal.value().trim() {
        "none" => Ok(Helpers::None),
        "private" => Ok(Helpers::Private),
        written => match syn::parse_str::<syn::Visibility>(written) {
            Ok(syn::Visibility::Inherited) | Err(_) => Err(Error::new(literal.span(), EXPECTED)),
            Ok(visibility) => Ok(Helpers::Visible(respan_visibility(
                visibility,
                literal.span(),
            ))),
        },
    }
}

/// The visibility, with every token at `span` (the user's string literal).
fn respan_visibility(visibility: syn::Visibility, span: proc_macro2::Span) -> syn::Visibility {
    let tokens = crate::tokens::respan(quote::ToTokens::to_token_stream(&visibility), span);
    syn::parse2(tokens).unwrap_or(visibility)
}

/// `= <path>`: the name of a function, as in `ttl_from = max_age` or
/// `ttl_from = http::max_age`.
fn function_path(input: ParseStream, name: &Ident) -> Result<syn::Path> {
    let example = format!("{name} = max_age");
    equals(input, name, &example)?;
    let value = value_expression(input)?;
    match value {
        Expr::Path(syn::ExprPath {
            qself: None,
            path,
            attrs,
        }) if attrs.is_empty() => Ok(path),
        other => Err(Error::new_spanned(
            &other,
            format!(
                "`{name}` takes the path of a function `fn(&R) -> Option<Duration>` (`R` the \
                 return type), as in `{example}`: write a closure or an expression as a \
                 function of its own"
            ),
        )),
    }
}

/// `= <integer literal greater than zero>`; `unit` names what it counts.
fn positive_integer(input: ParseStream, name: &Ident, unit: &str) -> Result<u64> {
    let example = format!("{name} = 30");
    equals(input, name, &example)?;
    let value = value_expression(input)?;
    let literal = match &value {
        Expr::Lit(expr) => &expr.lit,
        _ => {
            let hint = if name == "capacity" || name == "lease_secs" {
                String::new()
            } else {
                "; for a computed TTL use `ttl = <Duration expression>`".to_owned()
            };
            return Err(Error::new_spanned(
                &value,
                format!("`{name}` takes an integer literal ({unit}), as in `{example}`{hint}"),
            ));
        }
    };
    let integer = match literal {
        Lit::Int(integer) => integer,
        Lit::Float(_) if name == "secs" => {
            return Err(Error::new_spanned(
                literal,
                "`secs` takes a whole number of seconds; use `millis = ...` or \
                 `ttl = Duration::from_secs_f64(...)` for fractions",
            ));
        }
        _ => {
            return Err(Error::new_spanned(
                literal,
                format!("`{name}` takes an integer literal ({unit}), as in `{example}`"),
            ));
        }
    };
    let number: u64 = integer.base10_parse()?;
    if number == 0 {
        let message = if name == "capacity" {
            "`capacity` must be at least 1".to_owned()
        } else if name.to_string().starts_with("stale_") {
            format!(
                "`{name}` must be greater than 0: it is how long past its TTL an entry may \
                 still be served; leave it out to serve nothing stale"
            )
        } else if name == "lease_secs" {
            "`lease_secs` must be greater than 0: the process computing a key for the \
             others holds its lease for that long"
                .to_owned()
        } else {
            format!("`{name}` must be greater than 0: an entry must live for some time")
        };
        return Err(Error::new_spanned(integer, message));
    }
    Ok(number)
}

/// An option's value, parsed on its own.
///
/// syn reports tokens left inside a group (`secs = (>)`, `key = v[a b]`) by failing
/// the whole `parse2` once parsing ends, whatever the parser did with the error, and
/// even when the expression itself parsed. A bad value must stay that one option's
/// error. So a fork finds where the value ends, `input` takes the value's tokens a
/// tree at a time (which never looks inside a group), and they are parsed again as
/// a token stream of their own, where tokens left in a group are an ordinary error.
fn value_expression(input: ParseStream) -> Result<Expr> {
    let fork = input.fork();
    let parsed = fork.parse::<Expr>();
    let end = fork.cursor();
    let mut tokens = TokenStream::new();
    while !input.is_empty() && input.cursor() != end {
        tokens.extend([input.parse::<TokenTree>()?]);
    }
    parsed?;
    syn::parse2(tokens)
}

/// `= <integer literal>` (zero allowed).
fn integer(input: ParseStream, name: &Ident) -> Result<u64> {
    let example = format!("{name} = 2");
    equals(input, name, &example)?;
    let value = value_expression(input)?;
    match &value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(integer),
            ..
        }) => integer.base10_parse(),
        _ => Err(Error::new_spanned(
            &value,
            format!("`{name}` takes an integer literal, as in `{example}`"),
        )),
    }
}

/// `= F`, a float literal strictly between 0 and 1.
fn fraction(input: ParseStream, name: &Ident) -> Result<f64> {
    let example = format!("{name} = 0.1");
    equals(input, name, &example)?;
    let value = value_expression(input)?;
    let message = format!(
        "`{name}` takes a fraction of the TTL strictly between 0 and 1 (a float literal), \
         as in `{example}`: each entry's TTL is drawn from [ttl × (1 − {name}), ttl]"
    );
    let fraction = match &value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(float),
            ..
        }) => float.base10_parse::<f64>().ok(),
        _ => None,
    };
    // At least 2^-32: the smallest share the map's jitter can draw.
    match fraction {
        Some(fraction) if (1.0 / 4_294_967_296.0..1.0).contains(&fraction) => Ok(fraction),
        _ => Err(Error::new_spanned(&value, message)),
    }
}

/// `= true` or `= false`.
fn boolean(input: ParseStream, name: &Ident) -> Result<bool> {
    let example = format!("{name} = true");
    equals(input, name, &example)?;
    let value = value_expression(input)?;
    match &value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(LitBool { value, .. }),
            ..
        }) => Ok(*value),
        _ => Err(Error::new_spanned(
            &value,
            format!("`{name}` takes `true` or `false`, as in `{example}`"),
        )),
    }
}

/// The error for a name that is not an option, and the closest option if it looks like
/// a typo of one (spanned at the name written).
fn unknown_option(input: ParseStream) -> (Error, Option<Ident>) {
    let name = match input.call(Ident::parse_any) {
        Ok(name) => name,
        Err(_) => {
            let error = Error::new(
                input.span(),
                "expected an option such as `secs = 30`; see the `ttl_cached` documentation",
            );
            return (error, None);
        }
    };
    let written = name.unraw().to_string();
    match closest_option(&written) {
        Some(suggestion) => (
            Error::new(
                name.span(),
                format!("unknown option `{written}`; did you mean `{suggestion}`?"),
            ),
            Some(Ident::new(suggestion, name.span())),
        ),
        None => (
            Error::new(
                name.span(),
                format!(
                    "unknown option `{written}`; expected one of {}",
                    OPTION_NAMES.map(|option| format!("`{option}`")).join(", ")
                ),
            ),
            None,
        ),
    }
}

/// The option nearest to `written` by edit distance, if near enough to be a typo.
fn closest_option(written: &str) -> Option<&'static str> {
    // A typo is a few edits; further than that, the list of options helps more.
    let limit = (written.chars().count() / 3).max(2);
    OPTION_NAMES
        .iter()
        .map(|option| (edit_distance(written, option), *option))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, option)| option)
}

/// Levenshtein distance: insertions, deletions and substitutions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// After a bad option, skips what is left of it so the next option can be read.
fn skip_to_next_option(input: ParseStream) {
    while !input.is_empty() && !input.peek(Token![,]) {
        if input.parse::<TokenTree>().is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: TokenStream) -> Args {
        syn::parse2(tokens).expect("the parser collects errors instead of failing")
    }

    #[test]
    fn options_in_any_order_are_read() {
        let args = parse(quote::quote!(
            capacity = 10,
            refresh = true,
            secs = 5,
            key = id
        ));
        assert!(matches!(args.ttl.map(|t| t.value), Some(Ttl::Secs(5))));
        assert_eq!(args.capacity.map(|c| c.value), Some(10));
        assert!(Args::is_on(&args.refresh));
        assert!(args.key.is_some());
        assert!(args.errors.is_empty());
    }

    #[test]
    fn every_bad_option_is_reported() {
        let args = parse(quote::quote!(
            secs = 0,
            capacity = "many",
            sec = 1,
            millis = 5
        ));
        let messages: Vec<String> = args.errors.iter().map(Error::to_string).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("greater than 0"));
        assert!(messages[1].contains("integer literal"));
        assert!(messages[2].contains("did you mean `secs`"));
        // The valid option after the bad ones is still read.
        assert!(matches!(args.ttl.map(|t| t.value), Some(Ttl::Millis(5))));
    }

    #[test]
    fn a_bare_number_asks_for_a_name_and_is_not_also_missing() {
        let args = parse(quote::quote!(30));
        assert!(args.errors[0].to_string().contains("write `secs = 30`"));
        assert!(args.was_rejected("secs"));
    }

    #[test]
    fn an_option_without_value_says_so() {
        let args = parse(quote::quote!(secs =, key =));
        assert_eq!(args.errors.len(), 2);
        assert!(args.errors[0]
            .to_string()
            .contains("expected a value after `secs =`"));
        assert!(args.was_rejected("key"));
    }

    #[test]
    fn a_broken_group_stays_the_error_of_its_option() {
        let args = parse(quote::quote!(
            capacity = (>),
            secs = 5,
            key = v[a b]
        ));
        assert_eq!(args.errors.len(), 2, "{:?}", args.errors);
        assert!(args.was_rejected("key"));
        assert!(matches!(args.ttl.map(|t| t.value), Some(Ttl::Secs(5))));
    }

    #[test]
    fn a_misspelled_option_is_rejected_not_missing() {
        let args = parse(quote::quote!(sec = 5, kye = id));
        assert_eq!(args.errors.len(), 2);
        assert!(args.was_rejected("secs"));
        assert!(args.was_rejected("key"));
        // Not a typo of anything: not taken for an option.
        let args = parse(quote::quote!(secs = 5, timeout = 3));
        assert!(args.rejected.is_empty());
    }

    #[test]
    fn a_second_ttl_option_conflicts() {
        let args = parse(quote::quote!(secs = 1, millis = 5));
        assert!(args.errors[0].to_string().contains("conflicts with `secs`"));
    }

    #[test]
    fn a_repeated_option_is_a_duplicate() {
        let args = parse(quote::quote!(secs = 1, capacity = 2, capacity = 3));
        assert!(args.errors[0]
            .to_string()
            .contains("duplicate option `capacity`"));
    }

    #[test]
    fn redis_and_version_are_read() {
        let args = parse(quote::quote!(secs = 5, redis = true, version = 3));
        assert!(Args::is_on(&args.redis));
        assert_eq!(args.version.map(|v| v.value), Some(3));
        assert!(args.errors.is_empty());
    }

    #[test]
    fn a_version_that_is_not_an_integer_is_rejected() {
        let args = parse(quote::quote!(secs = 5, redis = true, version = "2"));
        assert!(args.errors[0].to_string().contains("integer literal"));
        assert!(args.was_rejected("version"));
    }

    #[test]
    fn ttl_from_takes_a_path_only() {
        let args = parse(quote::quote!(secs = 5, ttl_from = headers::max_age));
        assert!(args.errors.is_empty(), "{:?}", args.errors);
        assert!(args.ttl_from.is_some());
        let args = parse(quote::quote!(secs = 5, ttl_from = |r| None));
        assert!(args.errors[0]
            .to_string()
            .contains("the path of a function"));
        assert!(args.was_rejected("ttl_from"));
    }

    #[test]
    fn lease_secs_is_read_and_zero_is_rejected() {
        let args = parse(quote::quote!(secs = 5, redis = true, lease_secs = 3));
        assert_eq!(args.lease_secs.map(|given| given.value), Some(3));
        let args = parse(quote::quote!(secs = 5, redis = true, lease_secs = 0));
        assert!(args.errors[0].to_string().contains("lease"));
    }

    #[test]
    fn suggestions_are_for_typos_only() {
        assert_eq!(closest_option("cache_error"), Some("cache_err"));
        assert_eq!(closest_option("single_flights"), Some("single_flight"));
        assert_eq!(closest_option("ttls"), Some("ttl"));
        assert_eq!(closest_option("timeout"), None);
    }
}
