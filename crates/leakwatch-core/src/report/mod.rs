//! Reports: what a check found, grouped so a person can act on it at a glance.
//!
//! A [`Report`] groups items by what went wrong, their kind and the site that
//! opened them, with a count, the oldest age, a few details and threads, and
//! (at `LEAKWATCH=stacks`) the stack of the oldest; items a dependency
//! opened also name the user's call that led there ([`Group::via`]). Its
//! `Display` form starts every line with `LEAK`, so `grep '^LEAK'` of a CI
//! log gives the whole report back; [`Report::to_json`] (feature `json`) is
//! for tools.
//!
//! ```
//! use leakwatch_core::{Scope, Tag};
//!
//! let scope = Scope::new("example");
//! let a = scope.run(|| Tag::with_detail("file", "a.txt"));
//! # if !leakwatch_core::COMPILED_IN { return; }
//! let report = scope.check_now().unwrap_err();
//! let group = &report.groups()[0];
//! assert_eq!(group.kind(), "file");
//! assert_eq!(group.count(), 1);
//! assert!(report.to_string().starts_with("LEAK "));
//! # drop(a);
//! ```

mod group;
#[cfg(feature = "json")]
mod json;
mod text;

use std::fmt;

pub use group::Group;

use crate::config::ConfigError;
pub use crate::snapshot::Finding;
use crate::snapshot::Snapshot;

/// What a check found, grouped by problem, kind and site.
///
/// `Display` gives the text for people (every line of a failing report
/// starts with `LEAK`); `Debug` gives the same text, so `check().unwrap()` reads well.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// let tag = scope.run(|| leakwatch_core::Tag::new("socket"));
/// if let Err(report) = scope.check_now() {
///     eprintln!("{report}");
///     assert_eq!(report.total(), 1);
/// }
/// # drop(tag);
/// ```
#[derive(Clone)]
pub struct Report {
    scope: String,
    groups: Vec<Group>,
    total: usize,
    /// Boxed: rare, and a report is what `check` returns as its error.
    config_error: Option<Box<ConfigError>>,
    hints: Vec<String>,
}

impl Report {
    /// Groups the items of `snapshot` under the title `scope`.
    ///
    /// A bad `LEAKWATCH` value makes every report unclean, so it cannot go
    /// unnoticed.
    ///
    /// ```
    /// let report = leakwatch_core::Report::new("nightly", &leakwatch_core::Snapshot::all());
    /// println!("{report}");
    /// ```
    pub fn new(scope: &str, snapshot: &Snapshot) -> Report {
        let groups = group::group(snapshot.items());
        Report {
            scope: scope.to_owned(),
            total: snapshot.len(),
            groups,
            config_error: config_error().map(Box::new),
            hints: Vec::new(),
        }
    }

    /// Adds where leaked items are stuck: for each group, the first of its
    /// items (oldest first) for which `trace` has an answer, by id; a group
    /// of items with ids none of which has one says so in one line. The
    /// tokio integration passes the await chains of a task dump.
    ///
    /// ```
    /// use leakwatch_core::{Report, Scope, Tag};
    ///
    /// let scope = Scope::new("s");
    /// let task = scope.run(|| Tag::new("task"));
    /// task.set_id(7);
    /// let report = Report::new("s", &scope.snapshot())
    ///     .with_traces(|id| (id == 7).then(|| "my_app::consumer at src/main.rs:12:5".to_owned()));
    /// for group in report.groups() {
    ///     assert_eq!(group.waiting(), Some((7, "my_app::consumer at src/main.rs:12:5")));
    /// }
    /// # drop(task);
    /// ```
    pub fn with_traces(mut self, trace: impl Fn(u64) -> Option<String>) -> Report {
        for group in &mut self.groups {
            let waiting = group
                .ids()
                .iter()
                .find_map(|&id| trace(id).map(|trace| group::Waiting { id, trace }));
            group.set_waiting(waiting);
        }
        self
    }

    /// Adds advice printed at the end of the report, such as how to get
    /// more out of the next run.
    ///
    /// ```
    /// let report = leakwatch_core::Report::new("t", &Default::default())
    ///     .with_hint("run with LEAKWATCH=stacks for full stacks");
    /// assert_eq!(report.hints(), ["run with LEAKWATCH=stacks for full stacks"]);
    /// ```
    pub fn with_hint(mut self, hint: impl Into<String>) -> Report {
        self.hints.push(hint.into());
        self
    }

    /// The advice added with [`Report::with_hint`].
    ///
    /// ```
    /// assert!(leakwatch_core::Report::new("t", &Default::default()).hints().is_empty());
    /// ```
    pub fn hints(&self) -> &[String] {
        &self.hints
    }

    /// The title given: the checked scope's name.
    ///
    /// ```
    /// let report = leakwatch_core::Report::new("t", &Default::default());
    /// assert_eq!(report.scope(), "t");
    /// ```
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The groups, most items first.
    ///
    /// ```
    /// let report = leakwatch_core::Report::new("t", &Default::default());
    /// assert!(report.groups().is_empty());
    /// ```
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// How many items in all.
    ///
    /// ```
    /// let report = leakwatch_core::Report::new("t", &Default::default());
    /// assert_eq!(report.total(), 0);
    /// ```
    pub fn total(&self) -> usize {
        self.total
    }

    /// The `LEAKWATCH` error that makes this report fail, if any.
    ///
    /// ```
    /// let report = leakwatch_core::Report::new("t", &Default::default());
    /// if let Some(err) = report.config_error() {
    ///     eprintln!("{err}");
    /// }
    /// ```
    pub fn config_error(&self) -> Option<&ConfigError> {
        self.config_error.as_deref()
    }

    /// Nothing leaked and the configuration is sound.
    ///
    /// ```
    /// let report = leakwatch_core::Report::new("t", &Default::default());
    /// assert_eq!(report.is_clean(), report.config_error().is_none());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.groups.is_empty() && self.config_error.is_none()
    }
}

#[cfg(any(debug_assertions, feature = "production"))]
fn config_error() -> Option<ConfigError> {
    crate::config::env_error().cloned()
}

#[cfg(not(any(debug_assertions, feature = "production")))]
fn config_error() -> Option<ConfigError> {
    None
}

impl fmt::Debug for Report {
    /// The same text as `Display`, so `check().unwrap()` prints a readable
    /// report.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Report {}

#[cfg(test)]
mod tests;
