//! The JSON form of a report, for tools (feature `json`).
//!
//! Every report starts with its format's number, `"version"`
//! ([`REPORT_JSON_VERSION`]): a reader that finds another number knows the
//! keys may not mean what it expects. The checked scope's name is under
//! `"scope_name"`; each group says what its items were found to be under
//! `"finding"`: `"still-open"` or `"dropped-without-close"`.

use serde::Serialize;

use super::{Group, Report};
use crate::stack::{Frame, UserCall};

/// The number of the format [`Report::to_json`] writes, its `"version"`.
///
/// ```
/// let report = leakwatch_core::Report::new("t", &Default::default());
/// let version = leakwatch_core::REPORT_JSON_VERSION;
/// assert!(report.to_json().starts_with(&format!(r#"{{"version":{version},"#)));
/// ```
pub const REPORT_JSON_VERSION: u32 = 2;

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    scope_name: &'a str,
    total: usize,
    error: Option<String>,
    groups: Vec<JsonGroup<'a>>,
    hints: &'a [String],
}

#[derive(Serialize)]
struct JsonGroup<'a> {
    finding: &'static str,
    kind: &'static str,
    file: &'a str,
    line: u32,
    column: u32,
    count: usize,
    oldest_ms: u128,
    details: &'a [String],
    threads: &'a [String],
    stack: Option<Vec<Frame>>,
    via: Option<&'a UserCall>,
    ids: &'a [u64],
    waiting: Option<JsonWaiting<'a>>,
}

#[derive(Serialize)]
struct JsonWaiting<'a> {
    id: u64,
    trace: &'a str,
}

impl Report {
    /// The report as one line of JSON: the format's number
    /// ([`REPORT_JSON_VERSION`]), the scope's name, the total, the configuration
    /// error if any, and each group with its finding, site, count, oldest
    /// age in milliseconds, details, threads, symbolized stack (at
    /// `LEAKWATCH=stacks`), the user's call that led a dependency to open
    /// them (`via`), item ids and where one is waiting (if known); then the
    /// hints.
    ///
    /// ```
    /// let report = leakwatch_core::Report::new("t", &Default::default());
    /// assert!(report.to_json().starts_with(r#"{"version":2,"scope_name":"t","total":0"#));
    /// ```
    pub fn to_json(&self) -> String {
        let report = JsonReport {
            version: REPORT_JSON_VERSION,
            scope_name: &self.scope_name,
            total: self.total,
            error: self.config_error.as_ref().map(ToString::to_string),
            groups: self.groups.iter().map(group).collect(),
            hints: &self.hints,
        };
        serde_json::to_string(&report).expect("a report is always valid JSON")
    }
}

fn group(g: &Group) -> JsonGroup<'_> {
    JsonGroup {
        finding: match g.finding() {
            super::Finding::StillOpen => "still-open",
            super::Finding::DroppedWithoutClose => "dropped-without-close",
        },
        kind: g.kind(),
        file: g.site().file(),
        line: g.site().line(),
        column: g.site().column(),
        count: g.count(),
        oldest_ms: g.oldest().as_millis(),
        details: g.details(),
        threads: g.threads(),
        stack: g.stack().filter(|s| s.is_full()).map(|s| s.frames()),
        via: g.via(),
        ids: g.ids(),
        waiting: g.waiting().map(|(id, trace)| JsonWaiting { id, trace }),
    }
}
