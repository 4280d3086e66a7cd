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

mod args;
mod expand;

use args::parse_args;
use expand::expand;

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
        assert_eq!(args::parse_hunt("3:5"), Ok((3, 5)));
        assert_eq!(args::parse_hunt(" 0 : 2 "), Ok((0, 2)));
        for bad in ["3", "a:5", "3:b", "3:0", "3:1", "-1:5", "3:5:7", ""] {
            let err = args::parse_hunt(bad).unwrap_err();
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
