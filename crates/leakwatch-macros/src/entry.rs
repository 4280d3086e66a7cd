//! Parsing `#[leakwatch::test(...)]` and writing the test function.
//!
//! On bad input the item is still emitted, with a `#[test]` of its own, next
//! to a spanned error, so one mistake gives one error and not a cascade.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Token};

#[derive(Clone, Copy)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

struct Args {
    flavor: Option<(Flavor, Span)>,
    worker_threads: Option<(usize, Span)>,
    grace: Option<String>,
    ignore: Option<String>,
}

pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let input: ItemFn = match syn::parse2(item.clone()) {
        Ok(input) => input,
        Err(err) => return with_error(item, err),
    };
    match expand(args, &input) {
        Ok(tokens) => tokens,
        Err(err) => with_error(quote!(#[::core::prelude::v1::test] #input), err),
    }
}

fn with_error(item: TokenStream, err: syn::Error) -> TokenStream {
    let err = err.to_compile_error();
    quote!(#err #item)
}

fn expand(args: TokenStream, input: &ItemFn) -> syn::Result<TokenStream> {
    let args = parse_args(args)?;
    if let Some(attr) = input.attrs.iter().find(|a| a.path().is_ident("test")) {
        return Err(syn::Error::new(
            attr.span(),
            "remove this #[test]: #[leakwatch::test] adds it",
        ));
    }
    if !input.sig.inputs.is_empty() {
        return Err(syn::Error::new(
            input.sig.inputs.span(),
            "a test function takes no arguments",
        ));
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = input;
    let name = &sig.ident;
    let grace = match &args.grace {
        Some(g) => quote!(::core::option::Option::Some(#g)),
        None => quote!(::core::option::Option::None),
    };
    let ignore = match &args.ignore {
        Some(rules) => quote!(::core::option::Option::Some(#rules)),
        None => quote!(::core::option::Option::None),
    };
    let test_name = quote!(::core::concat!(
        ::core::module_path!(),
        "::",
        ::core::stringify!(#name)
    ));
    let body = if sig.asyncness.is_some() {
        let flavor = match args.flavor.map(|f| f.0) {
            None | Some(Flavor::CurrentThread) => quote!(CurrentThread),
            Some(Flavor::MultiThread) => quote!(MultiThread),
        };
        if let (Some((_, span)), Some((Flavor::CurrentThread, _)) | None) =
            (args.worker_threads, args.flavor)
        {
            return Err(syn::Error::new(
                span,
                "worker_threads needs flavor = \"multi_thread\"",
            ));
        }
        let workers = match args.worker_threads {
            Some((n, _)) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        quote_spanned! {block.span()=>
            ::leakwatch::__async_test!(#test_name, #flavor, #workers, #grace, #ignore, async move #block)
        }
    } else {
        if let Some(span) = args
            .flavor
            .map(|f| f.1)
            .or(args.worker_threads.map(|w| w.1))
        {
            return Err(syn::Error::new(
                span,
                "flavor and worker_threads apply only to an `async fn` test",
            ));
        }
        quote_spanned! {block.span()=>
            ::leakwatch::__macro_support::run_test(#test_name, #grace, #ignore, move || #block)
        }
    };
    let mut sig = sig.clone();
    sig.asyncness = None;
    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}

fn parse_args(args: TokenStream) -> syn::Result<Args> {
    let mut out = Args {
        flavor: None,
        worker_threads: None,
        grace: None,
        ignore: None,
    };
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    for meta in metas {
        let Meta::NameValue(nv) = &meta else {
            return Err(syn::Error::new(
                meta.span(),
                "expected `key = value`, one of: flavor = \"current_thread\" | \"multi_thread\", worker_threads = N, grace = \"300ms\", ignore = \"kind:task\"",
            ));
        };
        let key = nv
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "flavor" => {
                let value = string(&nv.value)?;
                let flavor = match value.as_str() {
                    "current_thread" => Flavor::CurrentThread,
                    "multi_thread" => Flavor::MultiThread,
                    other => {
                        return Err(syn::Error::new(
                            nv.value.span(),
                            format!(
                                "unknown flavor `{other}`: expected \"current_thread\" or \"multi_thread\""
                            ),
                        ));
                    }
                };
                out.flavor = Some((flavor, nv.value.span()));
            }
            "worker_threads" => {
                let Expr::Lit(ExprLit {
                    lit: Lit::Int(int), ..
                }) = &nv.value
                else {
                    return Err(syn::Error::new(
                        nv.value.span(),
                        "worker_threads takes a whole number, e.g. worker_threads = 2",
                    ));
                };
                let n: usize = int.base10_parse()?;
                if n == 0 {
                    return Err(syn::Error::new(
                        int.span(),
                        "worker_threads must be at least 1",
                    ));
                }
                out.worker_threads = Some((n, nv.value.span()));
            }
            "grace" => out.grace = Some(string(&nv.value)?),
            "ignore" => out.ignore = Some(string(&nv.value)?),
            other => {
                return Err(syn::Error::new(
                    nv.path.span(),
                    format!(
                        "unknown setting `{other}`: expected `flavor`, `worker_threads`, `grace` or `ignore`"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn string(expr: &Expr) -> syn::Result<String> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.value()),
        other => Err(syn::Error::new(other.span(), "expected a string literal")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream) -> String {
        test(args, item).to_string()
    }

    #[track_caller]
    fn assert_error(out: &str, message: &str) {
        assert!(out.contains("compile_error"), "no error in: {out}");
        assert!(out.contains(message), "expected `{message}` in: {out}");
        // The item is still emitted as a test, so one mistake is one error.
        assert!(out.contains("fn t"), "item dropped: {out}");
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
    fn async_test_builds_the_requested_runtime() {
        let out = expand(
            quote!(flavor = "multi_thread", worker_threads = 3),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains(":: leakwatch :: __async_test !"), "{out}");
        assert!(out.contains("MultiThread"), "{out}");
        assert!(out.contains("Some (3usize)"), "{out}");
        assert!(
            !out.contains("async fn t"),
            "the test itself is sync: {out}"
        );
    }

    #[test]
    fn grace_is_passed_through_to_be_checked_at_run_time() {
        let out = expand(
            quote!(grace = "50ms"),
            quote!(
                fn t() {}
            ),
        );
        assert!(out.contains("Some (\"50ms\")"), "{out}");
        assert_error(
            &expand(
                quote!(grace = 50),
                quote!(
                    fn t() {}
                ),
            ),
            "expected a string literal",
        );
    }

    #[test]
    fn bad_settings_are_errors_naming_them() {
        assert_error(
            &expand(
                quote!(skip = "db-conn"),
                quote!(
                    fn t() {}
                ),
            ),
            "unknown setting `skip`",
        );
        assert_error(
            &expand(
                quote!(flavor = "fast"),
                quote!(
                    async fn t() {}
                ),
            ),
            "unknown flavor `fast`",
        );
        assert_error(
            &expand(
                quote!(worker_threads = 0),
                quote!(
                    async fn t() {}
                ),
            ),
            "worker_threads must be at least 1",
        );
        assert_error(
            &expand(
                quote!(worker_threads = "2"),
                quote!(
                    async fn t() {}
                ),
            ),
            "worker_threads takes a whole number",
        );
        assert_error(
            &expand(
                quote!(worker_threads = 2),
                quote!(
                    async fn t() {}
                ),
            ),
            "worker_threads needs flavor = \\\"multi_thread\\\"",
        );
        assert_error(
            &expand(
                quote!(flavor = "multi_thread"),
                quote!(
                    fn t() {}
                ),
            ),
            "apply only to an `async fn` test",
        );
        assert_error(
            &expand(
                quote!(multi_thread),
                quote!(
                    fn t() {}
                ),
            ),
            "expected `key = value`",
        );
    }

    #[test]
    fn a_second_test_attribute_or_arguments_are_errors() {
        assert_error(
            &expand(
                quote!(),
                quote!(
                    #[test]
                    fn t() {}
                ),
            ),
            "remove this #[test]",
        );
        assert_error(
            &expand(
                quote!(),
                quote!(
                    fn t(x: u32) {}
                ),
            ),
            "a test function takes no arguments",
        );
    }
}
