//! Parsing `#[leakwatch::test(...)]` and writing the test function.
//!
//! The arguments are `#[tokio::test]`'s, with tokio's meaning, plus
//! leakwatch's `grace`, `ignore`, `fds`, `threads`, `children` and `hunt`. On bad input the item is still emitted,
//! expanded as with no arguments, next to one spanned error: the user sees the
//! mistake and nothing that follows from it.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, Expr, ExprLit, ItemFn, Lit, LitStr, Meta, Path, Token};

/// Every key the attribute takes, for the "unknown key" message.
const KEYS: &str = "`flavor`, `worker_threads`, `start_paused`, `unhandled_panic`, `name`, `crate`, `grace`, `ignore`, `fds`, `threads`, `children`, `hunt`";

/// The runtime an `async fn` test runs on, as `#[tokio::test]` names it.
#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    CurrentThread,
    MultiThread,
    Local,
}

impl Flavor {
    fn from_str(s: &str) -> Result<Flavor, String> {
        match s {
            "current_thread" => Ok(Flavor::CurrentThread),
            "multi_thread" => Ok(Flavor::MultiThread),
            "local" => Ok(Flavor::Local),
            "single_thread" => {
                Err("the single-threaded runtime flavor is called `current_thread`".into())
            }
            _ => Err(format!(
                "no runtime flavor `{s}`: expected `current_thread`, `multi_thread` or `local`"
            )),
        }
    }
}

#[derive(Clone, Copy)]
enum UnhandledPanic {
    Ignore,
    ShutdownRuntime,
}

/// The arguments as given, each with the span of its value.
#[derive(Default)]
struct Config {
    flavor: Option<(Flavor, Span)>,
    worker_threads: Option<(usize, Span)>,
    start_paused: Option<(bool, Span)>,
    unhandled_panic: Option<(UnhandledPanic, Span)>,
    name: Option<LitStr>,
    crate_path: Option<Path>,
    grace: Option<Duration>,
    ignore: Option<LitStr>,
    /// `fds`, `threads`, `children`: which kinds seen outside leakwatch's
    /// wrappers the test is checked for.
    fds: Option<bool>,
    threads: Option<bool>,
    children: Option<bool>,
    /// `hunt = "warmup:measured"`, with the span of its value.
    hunt: Option<(usize, usize, Span)>,
}

pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut input: ItemFn = match syn::parse2(item.clone()) {
        Ok(input) => input,
        Err(err) => return with_error(item, err),
    };
    // Inner attributes (`#![allow(..)]` in the body) cannot stay on a block
    // that becomes a closure's: they apply to the function, so move them out.
    for attr in &mut input.attrs {
        attr.style = AttrStyle::Outer;
    }
    let config = check_item(&input).and_then(|()| parse_args(args, &input));
    match config {
        Ok(config) => expand(&input, &config),
        Err(err) => {
            // A test function with arguments cannot be a `#[test]` either: emit
            // it as written, so the only error is ours.
            let item = if input.sig.inputs.is_empty() {
                expand(&input, &Config::default())
            } else {
                input.into_token_stream()
            };
            with_error(item, err)
        }
    }
}

fn with_error(mut item: TokenStream, err: syn::Error) -> TokenStream {
    item.extend(err.into_compile_error());
    item
}

/// What is wrong with the function itself, whatever the arguments.
fn check_item(input: &ItemFn) -> syn::Result<()> {
    if let Some(attr) = input.attrs.iter().find(|a| is_test_attribute(a)) {
        return Err(syn::Error::new_spanned(
            attr,
            "second test attribute: #[leakwatch::test] adds #[test] (and builds the runtime of an `async fn`), so remove this one",
        ));
    }
    if !input.sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.sig.inputs,
            "a test function takes no arguments (with `rstest` or `test-case`, put #[leakwatch::test] after their attributes)",
        ));
    }
    Ok(())
}

/// `#[test]`, `#[core::prelude::*::test]`, `#[std::prelude::*::test]` or
/// another crate's test attribute (`#[tokio::test]`): anything that would
/// make the function a test a second time.
fn is_test_attribute(attr: &Attribute) -> bool {
    let (Meta::Path(path) | Meta::List(syn::MetaList { path, .. })) = &attr.meta else {
        return false;
    };
    path.segments.last().is_some_and(|s| s.ident == "test")
}

/// Whether `test-case` already made this function a `#[test]`: it does so
/// for each case of a sync function (not of an `async fn`, which it leaves to
/// an attribute like this one), before this attribute runs and out of its
/// sight. Its cases are named `test_case_..` and carry its `allow`.
fn made_a_test_by_test_case(input: &ItemFn) -> bool {
    input.sig.asyncness.is_none()
        && input.sig.ident.to_string().starts_with("test_case_")
        && input.attrs.iter().any(|attr| {
            attr.path().is_ident("allow")
                && attr
                    .to_token_stream()
                    .to_string()
                    .contains("bool_assert_comparison")
        })
}

fn is_should_panic(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "should_panic")
}

fn parse_args(args: TokenStream, input: &ItemFn) -> syn::Result<Config> {
    let mut config = Config::default();
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    for meta in metas {
        let nv = match meta {
            Meta::NameValue(nv) => nv,
            Meta::Path(path) => {
                let name = path.to_token_stream().to_string().replace(' ', "");
                let msg = match name.as_str() {
                    "multi_thread" | "current_thread" | "local" => {
                        format!(
                            "set the runtime flavor with #[leakwatch::test(flavor = \"{name}\")]"
                        )
                    }
                    "flavor" | "worker_threads" | "start_paused" | "unhandled_panic" | "name"
                    | "crate" | "grace" | "ignore" | "fds" | "threads" | "children" | "hunt" => {
                        format!("`{name}` needs a value: `{name} = ..`")
                    }
                    _ => format!("unknown key `{name}`: expected one of {KEYS}"),
                };
                return Err(syn::Error::new_spanned(path, msg));
            }
            Meta::List(list) => {
                return Err(syn::Error::new_spanned(
                    list,
                    format!("expected `key = value`, with a key among {KEYS}"),
                ));
            }
        };
        let Some(key) = nv.path.get_ident().map(ToString::to_string) else {
            let path = nv.path.to_token_stream().to_string().replace(' ', "");
            return Err(syn::Error::new_spanned(
                &nv.path,
                format!("unknown key `{path}`: expected one of {KEYS}"),
            ));
        };
        let Expr::Lit(ExprLit { lit, .. }) = &nv.value else {
            return Err(syn::Error::new_spanned(
                &nv.value,
                format!("`{key}` takes a literal"),
            ));
        };
        let span = lit.span();
        let repeated = || syn::Error::new(nv.path.span(), format!("`{key}` set more than once"));
        match key.as_str() {
            "flavor" => {
                if config.flavor.is_some() {
                    return Err(repeated());
                }
                let flavor = Flavor::from_str(&string(lit, &key)?.value())
                    .map_err(|msg| syn::Error::new(span, msg))?;
                config.flavor = Some((flavor, span));
            }
            "worker_threads" => {
                if config.worker_threads.is_some() {
                    return Err(repeated());
                }
                let Lit::Int(int) = lit else {
                    return Err(syn::Error::new(
                        span,
                        "`worker_threads` takes a whole number, such as `worker_threads = 2`",
                    ));
                };
                let n: usize = int.base10_parse()?;
                if n == 0 {
                    return Err(syn::Error::new(span, "`worker_threads` may not be 0"));
                }
                config.worker_threads = Some((n, span));
            }
            "start_paused" => {
                if config.start_paused.is_some() {
                    return Err(repeated());
                }
                let Lit::Bool(b) = lit else {
                    return Err(syn::Error::new(
                        span,
                        "`start_paused` takes `true` or `false`",
                    ));
                };
                config.start_paused = Some((b.value, span));
            }
            "unhandled_panic" => {
                if config.unhandled_panic.is_some() {
                    return Err(repeated());
                }
                let behaviour = match string(lit, &key)?.value().as_str() {
                    "ignore" => UnhandledPanic::Ignore,
                    "shutdown_runtime" => UnhandledPanic::ShutdownRuntime,
                    other => {
                        return Err(syn::Error::new(
                            span,
                            format!(
                                "no unhandled panic behaviour `{other}`: expected `ignore` or `shutdown_runtime`"
                            ),
                        ));
                    }
                };
                config.unhandled_panic = Some((behaviour, span));
            }
            "name" => {
                if config.name.is_some() {
                    return Err(repeated());
                }
                let name = string(lit, &key)?;
                if name.value().trim().is_empty() {
                    return Err(syn::Error::new(span, "`name` may not be empty"));
                }
                config.name = Some(name);
            }
            "crate" => {
                if config.crate_path.is_some() {
                    return Err(repeated());
                }
                let path = string(lit, &key)?;
                config.crate_path = Some(path.parse::<Path>().map_err(|_| {
                    syn::Error::new(
                        span,
                        format!("`crate` takes a path to leakwatch, such as `crate = \"my_leakwatch\"`, not \"{}\"", path.value()),
                    )
                })?);
            }
            "grace" => {
                if config.grace.is_some() {
                    return Err(repeated());
                }
                let grace = string(lit, &key)?;
                let value = leakwatch_core::parse_grace(&grace.value())
                    .map_err(|err| syn::Error::new(span, err))?;
                config.grace = Some(value);
            }
            "ignore" => {
                if config.ignore.is_some() {
                    return Err(repeated());
                }
                let rules = string(lit, &key)?;
                leakwatch_core::Ignore::parse(&rules.value())
                    .map_err(|err| syn::Error::new(span, err))?;
                config.ignore = Some(rules);
            }
            "fds" | "threads" | "children" => {
                let slot = match key.as_str() {
                    "fds" => &mut config.fds,
                    "threads" => &mut config.threads,
                    _ => &mut config.children,
                };
                if slot.is_some() {
                    return Err(repeated());
                }
                let Lit::Bool(b) = lit else {
                    return Err(syn::Error::new(
                        span,
                        format!("`{key}` takes `true` or `false`, such as `{key} = false`"),
                    ));
                };
                *slot = Some(b.value);
            }
            "hunt" => {
                if config.hunt.is_some() {
                    return Err(repeated());
                }
                let rounds = string(lit, &key)?;
                let (warmup, measured) =
                    parse_hunt(&rounds.value()).map_err(|msg| syn::Error::new(span, msg))?;
                if input.attrs.iter().any(is_should_panic) {
                    return Err(syn::Error::new(
                        span,
                        "`hunt` runs the body in rounds and judges what each left behind, which a \
                         #[should_panic] test never finishes: hunt in a test that returns",
                    ));
                }
                config.hunt = Some((warmup, measured, span));
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    &nv.path,
                    format!("unknown key `{key}`: expected one of {KEYS}"),
                ));
            }
        }
    }
    check_runtime(&config, input)?;
    Ok(config)
}

/// The runtime keys agree with each other and with the function, as
/// `#[tokio::test]` requires.
fn check_runtime(config: &Config, input: &ItemFn) -> syn::Result<()> {
    if input.sig.asyncness.is_none() {
        let runtime_key = [
            config.flavor.map(|f| f.1),
            config.worker_threads.map(|w| w.1),
            config.start_paused.map(|s| s.1),
            config.unhandled_panic.map(|u| u.1),
            config.name.as_ref().map(LitStr::span),
        ];
        if let Some(span) = runtime_key.into_iter().flatten().next() {
            return Err(syn::Error::new(
                span,
                "this sets up a tokio runtime, which only an `async fn` test has",
            ));
        }
        return Ok(());
    }
    let flavor = config.flavor.map_or(Flavor::CurrentThread, |f| f.0);
    if let (Flavor::CurrentThread | Flavor::Local, Some((_, span))) =
        (flavor, config.worker_threads)
    {
        return Err(syn::Error::new(
            span,
            "`worker_threads` needs the `multi_thread` runtime flavor: #[leakwatch::test(flavor = \"multi_thread\")]",
        ));
    }
    if flavor == Flavor::MultiThread {
        let single = [
            ("start_paused", config.start_paused.map(|s| s.1)),
            ("unhandled_panic", config.unhandled_panic.map(|u| u.1)),
        ];
        if let Some((key, span)) = single.into_iter().find_map(|(k, s)| Some((k, s?))) {
            return Err(syn::Error::new(
                span,
                format!(
                    "`{key}` needs the `current_thread` runtime flavor: #[leakwatch::test(flavor = \"current_thread\")]"
                ),
            ));
        }
    }
    Ok(())
}

/// `"warmup:measured"`: two whole numbers, at least 2 measured rounds (one
/// cannot tell a leak from a one-off), as `leakwatch::hunting::Rounds`
/// takes them.
fn parse_hunt(value: &str) -> Result<(usize, usize), String> {
    const FORM: &str = "expected \"WARMUP:MEASURED\" rounds, such as `hunt = \"3:5\"`";
    let Some((warmup, measured)) = value.split_once(':') else {
        return Err(format!("`hunt = \"{value}\"` is not valid: {FORM}"));
    };
    let count = |part: &str, what: &str| {
        part.trim().parse::<usize>().map_err(|_| {
            format!(
                "`hunt = \"{value}\"` is not valid: the {what} count `{part}` is not a whole \
                 number; {FORM}"
            )
        })
    };
    let (warmup, measured) = (count(warmup, "warm-up")?, count(measured, "measured")?);
    if measured < 2 {
        return Err(format!(
            "`hunt = \"{value}\"` is not valid: it needs at least 2 measured rounds to tell \
             growth from a one-off, such as `hunt = \"3:5\"`"
        ));
    }
    Ok((warmup, measured))
}

fn string(lit: &Lit, key: &str) -> syn::Result<LitStr> {
    match lit {
        Lit::Str(s) => Ok(s.clone()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{key}` takes a string literal"),
        )),
    }
}

fn expand(input: &ItemFn, config: &Config) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = input;
    let ident = &sig.ident;
    // The calls below are located at the test's name: a failing test's panic
    // points there, and so does a type error in the return value. (A span
    // of the macro's own would be traced back to the attribute's line.)
    let at = ident.span();
    let krate = match &config.crate_path {
        Some(path) => path.to_token_stream(),
        None => quote_spanned!(at=> ::leakwatch),
    };
    let support = quote_spanned!(at=> #krate::__macro_support);
    let grace = match config.grace {
        Some(grace) => {
            let (secs, nanos) = (grace.as_secs(), grace.subsec_nanos());
            quote!(::core::option::Option::Some(::core::time::Duration::new(#secs, #nanos)))
        }
        None => quote!(::core::option::Option::None),
    };
    let ignore = match &config.ignore {
        Some(rules) => quote!(::core::option::Option::Some(#rules)),
        None => quote!(::core::option::Option::None),
    };
    let detect = |on: Option<bool>| match on {
        Some(on) => quote!(::core::option::Option::Some(#on)),
        None => quote!(::core::option::Option::None),
    };
    let (fds, threads, children) = (
        detect(config.fds),
        detect(config.threads),
        detect(config.children),
    );
    // libtest passes a `#[should_panic]` test on any panic, so such a test
    // must fail its leaks without one: it has runners of its own.
    let should_panic = attrs.iter().any(is_should_panic);
    let test = quote! {
        #support::Test {
            name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
            grace: #grace,
            ignore: #ignore,
            fds: #fds,
            threads: #threads,
            children: #children,
        }
    };
    // What the body returned, when it is an `Err`: reported beside a leak.
    // (A `#[should_panic]` test returns `()`.)
    let error_of = (!should_panic).then(|| {
        quote! {
            , |out| {
                #[allow(unused_imports)]
                use #support::{ErrorOf as _, NotAnError as _};
                (&#support::Outcome(out)).error()
            }
        }
    });
    let body = if sig.asyncness.is_some() {
        let flavor = match config.flavor.map_or(Flavor::CurrentThread, |f| f.0) {
            Flavor::CurrentThread => quote!(CurrentThread),
            Flavor::MultiThread => quote!(MultiThread),
            Flavor::Local => quote!(Local),
        };
        let tokio = quote!(#support::tokio);
        let mut knobs = TokenStream::new();
        if let Some((n, _)) = config.worker_threads {
            knobs.extend(quote!(builder.worker_threads(#n);));
        }
        if let Some((paused, span)) = config.start_paused {
            // Needs tokio's `test-util` feature, as with `#[tokio::test]`.
            knobs.extend(quote_spanned!(span=> builder.start_paused(#paused);));
        }
        if let Some((behaviour, span)) = config.unhandled_panic {
            // Needs `--cfg tokio_unstable`, as with `#[tokio::test]`.
            let behaviour = match behaviour {
                UnhandledPanic::Ignore => quote!(Ignore),
                UnhandledPanic::ShutdownRuntime => quote!(ShutdownRuntime),
            };
            knobs.extend(quote_spanned!(span=>
                builder.unhandled_panic(#tokio::runtime::UnhandledPanic::#behaviour);
            ));
        }
        if let Some(name) = &config.name {
            knobs.extend(quote!(builder.name(#name);));
        }
        let configure = if knobs.is_empty() {
            quote!(|_: &mut #tokio::runtime::Builder| {})
        } else {
            quote!(|builder: &mut #tokio::runtime::Builder| { #knobs })
        };
        if let Some((warmup, measured, _)) = config.hunt {
            // A future per round, on the one runtime.
            quote_spanned! {at=>
                #krate::__async_test! {
                    #support::run_async_hunt_test(
                        #test,
                        #warmup,
                        #measured,
                        #support::Flavor::#flavor,
                        #configure,
                        move || async move #block
                        #error_of
                    )
                }
            }
        } else {
            let run = if should_panic {
                quote_spanned!(at=> run_async_should_panic_test)
            } else {
                quote_spanned!(at=> run_async_test)
            };
            quote_spanned! {at=>
                #krate::__async_test! {
                    #support::#run(
                        #test,
                        #support::Flavor::#flavor,
                        #configure,
                        async move #block
                        #error_of
                    )
                }
            }
        }
    } else if let Some((warmup, measured, _)) = config.hunt {
        quote_spanned! {at=>
            #support::run_hunt_test(#test, #warmup, #measured, move || #block #error_of)
        }
    } else {
        let run = if should_panic {
            quote_spanned!(at=> run_should_panic_test)
        } else {
            quote_spanned!(at=> run_test)
        };
        quote_spanned! {at=>
            #support::#run(#test, move || #block #error_of)
        }
    };
    let mut sig = sig.clone();
    sig.asyncness = None;
    // Not when the function is a test already: by `test-case`, or by a
    // second test attribute, which is an error of its own.
    let is_a_test = made_a_test_by_test_case(input) || attrs.iter().any(is_test_attribute);
    let test_attr = (!is_a_test).then(|| quote!(#[::core::prelude::v1::test]));
    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            #body
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream) -> String {
        test(args, item).to_string()
    }

    #[test]
    fn sync_test_runs_in_a_checked_scope() {
        let out = expand(
            quote!(),
            quote!(
                fn t() {
                    body();
                }
            ),
        );
        assert!(out.contains(":: core :: prelude :: v1 :: test"), "{out}");
        assert!(
            out.contains(":: leakwatch :: __macro_support :: run_test"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn async_test_configures_the_runtime_as_tokio_does() {
        let out = expand(
            quote!(flavor = "multi_thread", worker_threads = 3, name = "rt"),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains(":: leakwatch :: __async_test !"), "{out}");
        assert!(out.contains("Flavor :: MultiThread"), "{out}");
        assert!(out.contains("builder . worker_threads (3usize)"), "{out}");
        assert!(out.contains("builder . name (\"rt\")"), "{out}");
        assert!(
            !out.contains("async fn t"),
            "the test itself is sync: {out}"
        );
        let out = expand(
            quote!(start_paused = true, unhandled_panic = "shutdown_runtime"),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains("builder . start_paused (true)"), "{out}");
        assert!(out.contains("UnhandledPanic :: ShutdownRuntime"), "{out}");
        let out = expand(
            quote!(flavor = "local"),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains("Flavor :: Local"), "{out}");
    }

    #[test]
    fn grace_is_parsed_at_compile_time() {
        let out = expand(
            quote!(grace = "1.5s"),
            quote!(
                fn t() {}
            ),
        );
        assert!(
            out.contains("Duration :: new (1u64 , 500000000u32)"),
            "{out}"
        );
    }

    #[test]
    fn detectors_switched_off_are_passed_on_and_the_rest_left_to_the_environment() {
        let out = expand(
            quote!(fds = false, children = true),
            quote!(
                fn t() {}
            ),
        );
        assert!(
            out.contains("fds : :: core :: option :: Option :: Some (false)"),
            "{out}"
        );
        assert!(
            out.contains("threads : :: core :: option :: Option :: None"),
            "{out}"
        );
        assert!(
            out.contains("children : :: core :: option :: Option :: Some (true)"),
            "{out}"
        );
    }

    #[test]
    fn hunt_runs_the_body_in_rounds_sync_or_async() {
        let out = expand(
            quote!(hunt = "3:5"),
            quote!(
                fn t() {}
            ),
        );
        assert!(
            out.contains("run_hunt_test (:: leakwatch :: __macro_support :: Test"),
            "{out}"
        );
        assert!(out.contains("3usize , 5usize , move ||"), "{out}");
        let out = expand(
            quote!(hunt = "0:2", flavor = "multi_thread"),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains("run_async_hunt_test"), "{out}");
        assert!(out.contains("move || async move"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn hunt_rounds_are_checked_at_compile_time() {
        assert_eq!(parse_hunt("3:5"), Ok((3, 5)));
        assert_eq!(parse_hunt(" 0 : 2 "), Ok((0, 2)));
        for bad in ["3", "a:5", "3:b", "3:0", "3:1", "-1:5", "3:5:7", ""] {
            let err = parse_hunt(bad).unwrap_err();
            assert!(
                err.starts_with(&format!("`hunt = \"{bad}\"` is not valid: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn crate_names_the_path_to_leakwatch() {
        let out = expand(
            quote!(crate = "lw"),
            quote!(
                fn t() {}
            ),
        );
        assert!(out.contains("lw :: __macro_support :: run_test"), "{out}");
        assert!(!out.contains(":: leakwatch ::"), "{out}");
    }

    #[test]
    fn should_panic_is_passed_on() {
        let out = expand(
            quote!(),
            quote!(
                #[should_panic]
                fn t() {}
            ),
        );
        assert!(out.contains("run_should_panic_test"), "{out}");
        assert!(!out.contains("Outcome"), "{out}");
    }

    #[test]
    fn inner_attributes_move_out_of_the_body() {
        let out = expand(
            quote!(),
            quote!(
                fn t() {
                    #![allow(unused)]
                }
            ),
        );
        assert!(out.contains("# [allow (unused)] fn t"), "{out}");
    }

    // Each error's message and span is pinned by the UI tests in
    // tests-build/; here only that the item is still emitted beside it.
    #[test]
    fn on_an_error_the_item_is_still_a_test() {
        let out = expand(
            quote!(grace = "soon"),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("run_async_test"), "{out}");
        assert!(!out.contains("async fn"), "{out}");
        let out = expand(
            quote!(),
            quote!(
                fn t(x: u32) {}
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(!out.contains("v1 :: test"), "{out}");
    }
}
