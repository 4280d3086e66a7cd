//! The end of a run: leaking tests, leaks grouped by site across tests,
//! suppressions used and unused; as text, JSON and the HTML page's tables.

use std::collections::BTreeMap;
use std::fmt;

use leakwatch_core::{Ignore, counted};
use serde::Serialize;

use crate::run_log::RunLog;

/// What leaked from a site is shown for up to this many items.
const DETAILS: usize = 3;

/// The number of the format `--json` writes, its `"version"`: each site's
/// row names what its items were found to be under `"finding"`.
pub(crate) const SUMMARY_JSON_VERSION: u32 = 2;

/// A run's summary.
#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    /// [`SUMMARY_JSON_VERSION`], first in the JSON.
    pub(crate) version: u32,
    pub(crate) checked: usize,
    pub(crate) binaries: usize,
    pub(crate) items: usize,
    pub(crate) tests: Vec<TestRow>,
    pub(crate) sites: Vec<SiteRow>,
    pub(crate) suppressions: Vec<SuppressionRow>,
    /// What the suite's settings file's rules left out.
    pub(crate) ignored: Vec<IgnoredRow>,
    /// Rules of the suite's settings file that left nothing out, by file.
    pub(crate) unused_rules: Vec<(String, String)>,
    /// What makes the run fail whatever the tests did.
    pub(crate) errors: Vec<String>,
    pub(crate) notes: Vec<String>,
}

/// Findings a settings file's rules left out, across tests.
#[derive(Debug, Serialize)]
pub(crate) struct IgnoredRow {
    pub(crate) file: String,
    pub(crate) count: usize,
    pub(crate) rules: Vec<String>,
}

/// A leaking test.
#[derive(Debug, Serialize)]
pub(crate) struct TestRow {
    pub(crate) binary: String,
    pub(crate) test: String,
    pub(crate) items: usize,
    /// Kinds with counts: `2 fd, 1 thread`.
    pub(crate) what: String,
}

/// Items leaked from one site, across tests.
#[derive(Debug, Serialize)]
pub(crate) struct SiteRow {
    pub(crate) kind: String,
    pub(crate) finding: String,
    pub(crate) site: String,
    pub(crate) items: usize,
    pub(crate) tests: Vec<String>,
    /// What leaked (paths, addresses, names, command lines), up to
    /// [`DETAILS`].
    pub(crate) details: Vec<String>,
    /// The innermost function first, where stacks were taken.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) stack: Vec<String>,
}

/// A suppression and how many findings it left out.
#[derive(Debug, Serialize)]
pub(crate) struct SuppressionRow {
    pub(crate) rule: String,
    pub(crate) used: usize,
}

impl Summary {
    /// The summary of `log`, with `rules` the suppressions given.
    pub(crate) fn new(log: &RunLog, rules: &[Ignore]) -> Summary {
        let tests = log
            .leaks
            .iter()
            .map(|leak| {
                let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
                for group in &leak.groups {
                    *kinds.entry(&group.kind).or_default() += group.count;
                }
                TestRow {
                    binary: leak.binary.clone(),
                    test: leak.test.clone(),
                    items: kinds.values().sum(),
                    what: kinds
                        .iter()
                        .map(|(kind, n)| format!("{n} {kind}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })
            .collect();
        let mut sites: BTreeMap<(String, String, String), SiteRow> = BTreeMap::new();
        for leak in &log.leaks {
            for group in &leak.groups {
                let site = group.site();
                let row = sites
                    .entry((site.clone(), group.kind.clone(), group.finding.clone()))
                    .or_insert_with(|| SiteRow {
                        kind: group.kind.clone(),
                        // `still-open` as reports write it.
                        finding: group.finding.replace('-', " "),
                        site,
                        items: 0,
                        tests: Vec::new(),
                        details: Vec::new(),
                        stack: group
                            .stack
                            .iter()
                            .flatten()
                            .map(|f| f.function.clone())
                            .collect(),
                    });
                row.items += group.count;
                for detail in &group.details {
                    if row.details.len() < DETAILS && !row.details.contains(detail) {
                        row.details.push(detail.clone());
                    }
                }
                let test = format!("{} {}", leak.binary, leak.test);
                if !row.tests.contains(&test) {
                    row.tests.push(test);
                }
            }
        }
        let mut sites: Vec<SiteRow> = sites.into_values().collect();
        sites.sort_by(|a, b| b.items.cmp(&a.items).then_with(|| a.site.cmp(&b.site)));
        let suppressions = rules
            .iter()
            .map(|rule| {
                let rule = rule.to_string();
                SuppressionRow {
                    used: log.suppressed.get(&rule).copied().unwrap_or(0),
                    rule,
                }
            })
            .collect();
        Summary {
            version: SUMMARY_JSON_VERSION,
            checked: log.checked,
            binaries: log.binaries.len(),
            items: log.items(),
            tests,
            sites,
            suppressions,
            ignored: log
                .ignored
                .iter()
                .map(|(file, (count, rules))| IgnoredRow {
                    file: file.clone(),
                    count: *count,
                    rules: rules.iter().cloned().collect(),
                })
                .collect(),
            unused_rules: log
                .settings
                .iter()
                .flat_map(|(file, rules)| {
                    let used = log.ignored.get(file).map(|(_, used)| used);
                    rules
                        .iter()
                        .filter(move |rule| !used.is_some_and(|used| used.contains(*rule)))
                        .map(move |rule| (file.clone(), rule.clone()))
                })
                .collect(),
            errors: log.errors.iter().cloned().collect(),
            notes: log.notes.iter().cloned().collect(),
        }
    }

    /// Whether anything leaked.
    pub(crate) fn leaked(&self) -> bool {
        !self.tests.is_empty()
    }

    /// Whether the run fails: something leaked, or the suite's settings
    /// could not be used.
    pub(crate) fn failed(&self) -> bool {
        self.leaked() || !self.errors.is_empty()
    }

    /// How many findings suppressions left out.
    pub(crate) fn suppressed(&self) -> usize {
        self.suppressions.iter().map(|s| s.used).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.errors {
            writeln!(f, "leakwatch: error: {error}")?;
        }
        for note in &self.notes {
            writeln!(f, "leakwatch: note: {note}")?;
        }
        write!(
            f,
            "leakwatch: {} checked in {}: ",
            counted(self.checked, "test"),
            counted(self.binaries, "binary"),
        )?;
        if self.leaked() {
            writeln!(
                f,
                "{} leaked {} at {}",
                counted(self.tests.len(), "test"),
                counted(self.items, "item"),
                counted(self.sites.len(), "site"),
            )?;
            writeln!(f, "leakwatch: leaking tests:")?;
            for row in &self.tests {
                writeln!(f, "leakwatch:   {} {}: {}", row.binary, row.test, row.what)?;
            }
            writeln!(f, "leakwatch: by site:")?;
            for row in &self.sites {
                writeln!(
                    f,
                    "leakwatch:   {} {} at {} ({})",
                    counted(row.items, &row.kind),
                    row.finding,
                    row.site,
                    row.tests.join(", ")
                )?;
                for detail in &row.details {
                    writeln!(f, "leakwatch:     {detail}")?;
                }
            }
        } else {
            writeln!(f, "no leaks")?;
        }
        for row in &self.ignored {
            writeln!(
                f,
                "leakwatch: {} ignored by {}: {}",
                counted(row.count, "finding"),
                row.file,
                row.rules.join(", ")
            )?;
        }
        for (file, rule) in &self.unused_rules {
            writeln!(
                f,
                "leakwatch: unused rule in {file}: {rule} matched nothing in this run"
            )?;
        }
        if !self.suppressions.is_empty() {
            let used: Vec<String> = self
                .suppressions
                .iter()
                .filter(|s| s.used > 0)
                .map(|s| format!("{} ({})", s.rule, s.used))
                .collect();
            writeln!(
                f,
                "leakwatch: suppressions used: {}{}",
                self.suppressed(),
                if used.is_empty() {
                    String::new()
                } else {
                    format!(": {}", used.join(", "))
                }
            )?;
            for unused in self.suppressions.iter().filter(|s| s.used == 0) {
                writeln!(
                    f,
                    "leakwatch: unused suppression: {} matched nothing in this run",
                    unused.rule
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn counts_are_words() {
        assert_eq!(counted(1, "child"), "1 child");
        assert_eq!(counted(3, "child"), "3 children");
        assert_eq!(counted(2, "binary"), "2 binaries");
        assert_eq!(counted(2, "thread"), "2 threads");
    }
}
