//! The attribute's arguments, checked against the item.

use super::*;

pub(super) fn parse_args(args: TokenStream, input: &ItemFn) -> syn::Result<Config> {
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
pub(super) fn check_runtime(config: &Config, input: &ItemFn) -> syn::Result<()> {
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
/// cannot tell a leak from a one-off), by the parser the run-time API uses
/// (`leakwatch_core::Rounds`), so the messages are the same.
pub(super) fn parse_hunt(value: &str) -> Result<(usize, usize), String> {
    value
        .parse::<leakwatch_core::Rounds>()
        .map(|rounds| (rounds.warmup(), rounds.measured()))
        .map_err(|err| err.to_string())
}

pub(super) fn string(lit: &Lit, key: &str) -> syn::Result<LitStr> {
    match lit {
        Lit::Str(s) => Ok(s.clone()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{key}` takes a string literal"),
        )),
    }
}
