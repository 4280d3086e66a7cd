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
    /// Items whose name contains this text (`name:reaper`): the same test
    /// as [`Ignore::Detail`], since a task's or thread's name is its
    /// detail, kept apart so that a rule prints as it was written.
    Name(String),
}

impl Ignore {
    /// Parses comma-separated rules, each `kind:`, `site:`, `name:` or
    /// `detail:` followed by its text (`name:` and `detail:` match the same
    /// items). Each rule prints as it was written.
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
                    "expected `kind:`, `site:`, `name:` or `detail:` and a text, such as `kind:task`",
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
                    _ => Err(bad()),
                }
            })
            .collect()
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
            Ignore::Detail(text) | Ignore::Name(text) => {
                item.detail().is_some_and(|d| d.contains(text.as_str()))
            }
        }
    }
}

impl fmt::Display for Ignore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignore::Kind(text) => write!(f, "kind:{text}"),
            Ignore::Site(text) => write!(f, "site:{text}"),
            Ignore::Detail(text) => write!(f, "detail:{text}"),
            Ignore::Name(text) => write!(f, "name:{text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_print_as_written() {
        let written = "kind:task, site:pool.rs:88, name:reaper, detail:/var/log";
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
        for bad in ["task", "kind:", "func:main", ":x"] {
            let err = Ignore::parse(bad).unwrap_err();
            assert_eq!(err.value(), bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("ignore=`{bad}` is not valid")),
                "{err}"
            );
        }
    }
}
