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
#[cfg(feature = "json")]
pub use json::REPORT_JSON_VERSION;
mod text;

pub use text::counted;

use std::fmt;

pub use group::Group;

use crate::config::{ConfigError, SettingsError};
pub use crate::snapshot::Finding;
use crate::snapshot::Snapshot;

/// What a check found, grouped by finding, kind and site.
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
    scope_name: String,
    groups: Vec<Group>,
    total: usize,
    /// Boxed: rare, and a report is what `check` returns as its error.
    config_error: Option<Box<ConfigError>>,
    /// The suite's settings file's error; boxed as `config_error` is.
    settings_error: Option<Box<SettingsError>>,
    /// Boxed as the errors are: most reports have none.
    ignored: Option<Box<Ignored>>,
    hints: Vec<String>,
}

/// What a settings file's rules left out of a check: the file, how many
/// findings, and the rules that matched them, in the file's order. Its text
/// is the last line of the check's report, so nothing is silenced without
/// a trace.
///
/// ```
/// use leakwatch_core::Ignored;
///
/// let ignored = Ignored::new(".config/leakwatch.toml", 1, vec!["crate:bb8".into()]);
/// assert_eq!(ignored.to_string(), "1 finding ignored by .config/leakwatch.toml: crate:bb8");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    file: String,
    count: usize,
    rules: Vec<String>,
}

impl Ignored {
    /// `count` findings left out by `rules` of `file`.
    ///
    /// ```
    /// let ignored = leakwatch_core::Ignored::new("f.toml", 2, vec!["kind:task".into()]);
    /// assert_eq!(ignored.count(), 2);
    /// ```
    pub fn new(file: impl Into<String>, count: usize, rules: Vec<String>) -> Ignored {
        Ignored {
            file: file.into(),
            count,
            rules,
        }
    }

    /// The settings file, as it is named in reports.
    ///
    /// ```
    /// let ignored = leakwatch_core::Ignored::new("f.toml", 1, vec![]);
    /// assert_eq!(ignored.file(), "f.toml");
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// How many findings were left out.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Ignored::new("f", 3, vec![]).count(), 3);
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// The rules that left them out, as written.
    ///
    /// ```
    /// let ignored = leakwatch_core::Ignored::new("f", 1, vec!["crate:bb8".into()]);
    /// assert_eq!(ignored.rules(), ["crate:bb8"]);
    /// ```
    pub fn rules(&self) -> &[String] {
        &self.rules
    }

    /// Adds `more` (of the same file).
    pub(crate) fn add(&mut self, more: Ignored) {
        self.count += more.count;
        for rule in more.rules {
            if !self.rules.contains(&rule) {
                self.rules.push(rule);
            }
        }
    }
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ignored by {}: {}",
            text::counted(self.count, "finding"),
            self.file,
            self.rules.join(", ")
        )
    }
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
    pub fn new(scope_name: &str, snapshot: &Snapshot) -> Report {
        let groups = group::group(snapshot.items());
        Report {
            scope_name: scope_name.to_owned(),
            total: snapshot.len(),
            groups,
            config_error: config_error().map(Box::new),
            settings_error: None,
            ignored: None,
            hints: Vec::new(),
        }
    }

    /// This report failing with the suite's settings file's error, which
    /// every check of a scope adds.
    pub(crate) fn with_settings_error(mut self, err: Option<&SettingsError>) -> Report {
        self.settings_error = err.cloned().map(Box::new);
        self
    }

    /// This report ending with what a settings file's rules left out of it.
    ///
    /// ```
    /// use leakwatch_core::{Ignored, Report};
    ///
    /// let ignored = Ignored::new(".config/leakwatch.toml", 1, vec!["crate:bb8".into()]);
    /// let report = Report::new("t", &Default::default()).with_ignored(Some(ignored));
    /// assert!(report.to_string().ends_with("1 finding ignored by .config/leakwatch.toml: crate:bb8\n"));
    /// ```
    pub fn with_ignored(mut self, ignored: Option<Ignored>) -> Report {
        match (&mut self.ignored, ignored) {
            (Some(had), Some(more)) => had.add(more),
            (had @ None, more) => *had = more.map(Box::new),
            (Some(_), None) => {}
        }
        self
    }

    /// What a settings file's rules left out of this report, if anything.
    ///
    /// ```
    /// assert!(leakwatch_core::Report::new("t", &Default::default()).ignored().is_none());
    /// ```
    pub fn ignored(&self) -> Option<&Ignored> {
        self.ignored.as_deref()
    }

    /// The suite's settings file's error that makes this report fail, if
    /// any (see [`Settings`](crate::Settings)).
    ///
    /// ```
    /// let report = leakwatch_core::Report::new("t", &Default::default());
    /// assert!(report.settings_error().is_none());
    /// ```
    pub fn settings_error(&self) -> Option<&SettingsError> {
        self.settings_error.as_deref()
    }

    /// This report without the groups for which `drop` names a rule of the
    /// settings file `file`: for rules that need what only a finished
    /// report has (a leaked task's await chain). What they left out is
    /// added to [`Report::ignored`].
    ///
    /// ```
    /// use leakwatch_core::{Report, Scope, Tag};
    ///
    /// let scope = Scope::new("s");
    /// let reaper = scope.run(|| Tag::with_detail("task", "'reaper'"));
    /// let report = Report::new("s", &scope.snapshot())
    ///     .without_groups(|g| (g.kind() == "task").then(|| "fn:pool::reap".to_owned()), "f.toml");
    /// assert!(report.groups().is_empty());
    /// if leakwatch_core::COMPILED_IN {
    ///     assert_eq!(report.ignored().unwrap().to_string(), "1 finding ignored by f.toml: fn:pool::reap");
    /// }
    /// # drop(reaper);
    /// ```
    pub fn without_groups(mut self, drop: impl Fn(&Group) -> Option<String>, file: &str) -> Report {
        let mut removed = Ignored::new(file, 0, Vec::new());
        self.groups.retain(|group| match drop(group) {
            Some(rule) => {
                removed.add(Ignored::new(file, group.count(), vec![rule]));
                false
            }
            None => true,
        });
        if removed.count > 0 {
            self.total -= removed.count;
            self = self.with_ignored(Some(removed));
        }
        self
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
    /// assert_eq!(report.scope_name(), "t");
    /// ```
    pub fn scope_name(&self) -> &str {
        &self.scope_name
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
        self.groups.is_empty() && self.config_error.is_none() && self.settings_error.is_none()
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
