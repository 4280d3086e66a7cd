//! Ignore rules: known background work that a check should not report.
//!
//! goleak's `IgnoreCurrent` (everything alive before the test) needs no rule
//! here: a scope only ever sees what was opened in it, so what existed before
//! is never reported. Rules are for work a test starts on purpose and leaves
//! running, such as a metrics flusher or a connection pool's reaper.
//!
//! ```
//! use leakwatch_core::{Ignore, Scope, Tag};
//!
//! let rules = Ignore::parse("kind:metrics-flusher, name:reaper")?;
//! let scope = Scope::new("with-background-work").ignoring(rules);
//! let kept = scope.run(|| (Tag::new("metrics-flusher"), Tag::with_detail("task", "'reaper'")));
//! assert!(scope.check_now().is_ok());
//! # drop(kept);
//! # Ok::<(), leakwatch_core::ConfigError>(())
//! ```

use std::fmt;

use crate::config::ConfigError;
use crate::snapshot::Item;

/// One rule: an item it matches is left out of checks and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignore {
    /// Items of exactly this kind (`kind:task`).
    Kind(String),
    /// Items opened at a site whose `file:line` contains this text
    /// (`site:src/metrics.rs`, `site:pool.rs:88`).
    Site(String),
    /// Items whose detail (a path, an address, a task or thread name)
    /// contains this text (`detail:/var/log`).
    Detail(String),
    /// Items whose name contains this text (`name:reaper`): a task's or
    /// thread's name is its detail. A thread's whole name also matches the
    /// 15 bytes of it that Linux keeps and reports show
    /// (`name:tokio-runtime-worker` matches `'tokio-runtime-w'`).
    Name(String),
    /// Items opened or spawned in this crate (`crate:bb8`): their site is a
    /// file of the package of that name, a dependency's (its `name-version`
    /// folder in Cargo's registry, or its git checkout) or a workspace
    /// member's (the `Cargo.toml` nearest above the file). `-` and `_` are
    /// alike. Items whose site is not known match no such rule.
    Crate(String),
    /// Items with this function anywhere in their creation stack
    /// (`fn:bb8::inner::Reaper::run`), generic arguments left out on both
    /// sides; a path names the function itself and everything inside it
    /// (its closures, the methods of a type). Creation stacks are taken at
    /// `LEAKWATCH=stacks`; a leaked task's await chain is matched as well
    /// where the check takes task dumps (`leakwatch::tokio::dump`).
    Fn(String),
}

impl Ignore {
    /// Parses comma-separated rules, each `kind:`, `site:`, `name:`,
    /// `detail:`, `crate:` or `fn:` followed by its text (`name:` and
    /// `detail:` match the same items). Each rule prints as it was written.
    ///
    /// # Errors
    ///
    /// A rule with another prefix or no text, naming it.
    ///
    /// ```
    /// use leakwatch_core::Ignore;
    ///
    /// let rules = Ignore::parse("kind:task, site:src/pool.rs")?;
    /// assert_eq!(rules, [Ignore::Kind("task".into()), Ignore::Site("src/pool.rs".into())]);
    /// assert!(Ignore::parse("task").is_err());
    /// # Ok::<(), leakwatch_core::ConfigError>(())
    /// ```
    pub fn parse(spec: &str) -> Result<Vec<Ignore>, ConfigError> {
        spec.split(',')
            .map(str::trim)
            .filter(|rule| !rule.is_empty())
            .map(|rule| {
                let bad = || ConfigError::new(
                    "ignore",
                    rule,
                    "expected `kind:`, `site:`, `name:`, `detail:`, `crate:` or `fn:` and a text, such as `kind:task`",
                );
                let (prefix, text) = rule.split_once(':').ok_or_else(bad)?;
                let text = text.trim().to_owned();
                if text.is_empty() {
                    return Err(bad());
                }
                match prefix.trim() {
                    "kind" => Ok(Ignore::Kind(text)),
                    "site" => Ok(Ignore::Site(text)),
                    "name" => Ok(Ignore::Name(text)),
                    "detail" => Ok(Ignore::Detail(text)),
                    "crate" => Ok(Ignore::Crate(text)),
                    "fn" => Ok(Ignore::Fn(text)),
                    _ => Err(bad()),
                }
            })
            .collect()
    }

    /// Parses rules one per line, as a suppressions file holds them
    /// (`cargo leakwatch test --suppressions FILE`): blank lines and text
    /// after `#` are skipped.
    ///
    /// # Errors
    ///
    /// The first bad line, numbered from 1, with its error: a rule
    /// [`Ignore::parse`] refuses, or more than one rule on a line.
    ///
    /// ```
    /// use leakwatch_core::Ignore;
    ///
    /// let rules = Ignore::parse_lines("# known\nkind:thread\n\nfn:pool::reaper  # its reaper\n")?;
    /// assert_eq!(rules, [Ignore::Kind("thread".into()), Ignore::Fn("pool::reaper".into())]);
    /// assert_eq!(Ignore::parse_lines("kind:fd\nthread").unwrap_err().0, 2);
    /// # Ok::<(), (usize, leakwatch_core::ConfigError)>(())
    /// ```
    pub fn parse_lines(text: &str) -> Result<Vec<Ignore>, (usize, ConfigError)> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            match Ignore::parse(line) {
                Ok(parsed) if parsed.len() == 1 => rules.extend(parsed),
                Ok(_) => {
                    return Err((
                        n + 1,
                        ConfigError::new("ignore", line, "expected one rule per line"),
                    ));
                }
                Err(err) => return Err((n + 1, err)),
            }
        }
        Ok(rules)
    }

    /// Whether this rule leaves `item` out.
    ///
    /// ```
    /// use leakwatch_core::{Ignore, Scope, Tag};
    ///
    /// let scope = Scope::new("s");
    /// let tag = scope.run(|| Tag::new("task"));
    /// for item in scope.snapshot().items() {
    ///     assert!(Ignore::Kind("task".into()).matches(item));
    /// }
    /// # drop(tag);
    /// ```
    pub fn matches(&self, item: &Item) -> bool {
        match self {
            Ignore::Kind(kind) => item.kind() == kind,
            Ignore::Site(text) => {
                let site = item.site();
                if site.is_known() {
                    format!("{}:{}", site.file(), site.line()).contains(text.as_str())
                } else {
                    site.file().contains(text.as_str())
                }
            }
            Ignore::Detail(text) => item.detail().is_some_and(|d| d.contains(text.as_str())),
            Ignore::Name(text) => item
                .detail()
                .is_some_and(|d| d.contains(text.as_str()) || cut_name_of(d, text)),
            Ignore::Crate(name) => {
                item.site().is_known()
                    && crate::stack::crate_name_of_file(item.site().file())
                        .is_some_and(|found| same_crate(&found, name))
            }
            Ignore::Fn(path) => item.stack().is_some_and(|stack| {
                stack
                    .frames()
                    .iter()
                    .any(|frame| Ignore::names_function(path, &frame.function))
            }),
        }
    }

    /// Whether `function`, as a symbol or an await chain names it, is the
    /// function `path` or inside it: generic arguments (`Reaper<M>`) and a
    /// trait impl's brackets (`<T as Trait>`) are left out before comparing,
    /// and `path` must end at a `::` boundary of `function`.
    ///
    /// ```
    /// use leakwatch_core::Ignore;
    ///
    /// let path = "bb8::inner::Reaper::run";
    /// assert!(Ignore::names_function(path, "bb8::inner::Reaper<M>::run::{{closure}}"));
    /// assert!(!Ignore::names_function(path, "bb8::inner::Reaper<M>::run_once"));
    /// ```
    pub fn names_function(path: &str, function: &str) -> bool {
        let path = without_generics(path);
        let function = without_generics(function);
        function
            .strip_prefix(path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    }
}

/// Cargo treats `-` and `_` in a package name alike, and so does a rule.
fn same_crate(found: &str, rule: &str) -> bool {
    found.len() == rule.len()
        && found
            .bytes()
            .zip(rule.bytes())
            .all(|(a, b)| a == b || (a == b'-' && b == b'_') || (a == b'_' && b == b'-'))
}

/// `name` without what angle brackets enclose: `a::B<T>::f` as `a::B::f`,
/// `<a::B as c::D>::f` as `a::B as c::D::f`'s outer form `a::B::f`.
fn without_generics(name: &str) -> String {
    let name = name.trim();
    // `<Type as Trait>::f`: the type's path is what a reader names.
    if let Some(inner) = name.strip_prefix('<')
        && let Some((ty, rest)) = inner.split_once(" as ")
        && let Some((_, after)) = rest.split_once('>')
    {
        return without_generics(&format!("{ty}{after}"));
    }
    let mut out = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// How many bytes of a thread's name Linux keeps (`TASK_COMM_LEN` less
/// its terminator): `/proc` and so a thread's detail show no more.
const KEPT_NAME: usize = 15;

/// Whether `detail` is a thread's as the system names it (`'name' ...`)
/// with its name cut to [`KEPT_NAME`] bytes from `name`: a rule on the
/// whole name (`name:tokio-runtime-worker`) matches the thread that shows
/// as `'tokio-runtime-w'`.
fn cut_name_of(detail: &str, name: &str) -> bool {
    let Some(shown) = detail
        .strip_prefix('\'')
        .and_then(|rest| rest.split_once('\''))
        .map(|(shown, _)| shown)
    else {
        return false;
    };
    shown.len() == KEPT_NAME && name.len() > KEPT_NAME && name.starts_with(shown)
}

impl fmt::Display for Ignore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignore::Kind(text) => write!(f, "kind:{text}"),
            Ignore::Site(text) => write!(f, "site:{text}"),
            Ignore::Detail(text) => write!(f, "detail:{text}"),
            Ignore::Name(text) => write!(f, "name:{text}"),
            Ignore::Crate(text) => write!(f, "crate:{text}"),
            Ignore::Fn(text) => write!(f, "fn:{text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_whole_thread_name_matches_the_15_bytes_linux_keeps() {
        use super::cut_name_of;
        assert!(cut_name_of(
            "'tokio-runtime-w' (tid 12)",
            "tokio-runtime-worker"
        ));
        assert!(cut_name_of("'tracing-appende' (tid 7)", "tracing-appender"));
        // A name that was not cut is matched by the text as given.
        assert!(!cut_name_of("'worker' (tid 7)", "worker-1"));
        assert!(!cut_name_of(
            "'tokio-runtime-w' (tid 12)",
            "tokio-runtime-x"
        ));
        assert!(!cut_name_of("/tmp/file", "tokio-runtime-worker"));
    }

    use super::*;

    #[test]
    fn rules_print_as_written() {
        let written = "kind:task, site:pool.rs:88, name:reaper, detail:/var/log, crate:bb8, fn:bb8::inner::Reaper::run";
        let printed: Vec<String> = Ignore::parse(written)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(printed.join(", "), written);
    }

    #[test]
    fn parses_every_prefix_and_names_bad_rules() {
        assert_eq!(
            Ignore::parse(" kind:task ,site:pool.rs:88, name:reaper,detail:/var/log,").unwrap(),
            [
                Ignore::Kind("task".into()),
                Ignore::Site("pool.rs:88".into()),
                Ignore::Name("reaper".into()),
                Ignore::Detail("/var/log".into()),
            ]
        );
        assert_eq!(
            Ignore::parse("crate: bb8 , fn:bb8::inner::Reaper::run").unwrap(),
            [
                Ignore::Crate("bb8".into()),
                Ignore::Fn("bb8::inner::Reaper::run".into()),
            ]
        );
        for bad in ["task", "kind:", "func:main", ":x", "crate:", "fn:"] {
            let err = Ignore::parse(bad).unwrap_err();
            assert_eq!(err.value(), bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("ignore=`{bad}` is not valid")),
                "{err}"
            );
        }
    }

    #[test]
    fn function_paths_match_at_boundaries_without_generics() {
        let run = "bb8::inner::Reaper::run";
        for inside in [
            "bb8::inner::Reaper::run",
            "bb8::inner::Reaper<M>::run",
            "bb8::inner::Reaper<bb8::Foo<u8>>::run::{{closure}}",
            "<bb8::inner::Reaper<M> as core::future::Future>::run",
        ] {
            assert!(Ignore::names_function(run, inside), "{inside}");
        }
        for outside in [
            "bb8::inner::Reaper::running",
            "bb8::inner::Reaper",
            "app::bb8::inner::Reaper::run",
            "tokio::time::sleep",
        ] {
            assert!(!Ignore::names_function(run, outside), "{outside}");
        }
        assert!(Ignore::names_function(
            "bb8::inner",
            "bb8::inner::Reaper<M>::run"
        ));
    }
}
