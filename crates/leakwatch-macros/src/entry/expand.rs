//! The test function the attribute writes.

use super::*;

pub(super) fn expand(input: &ItemFn, config: &Config) -> TokenStream {
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
