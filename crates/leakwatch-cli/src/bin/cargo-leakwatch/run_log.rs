//! A run's log: what the preloaded test processes wrote, one JSON line per
//! checked test, and notes, in one file per process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use leakwatch_core::REPORT_JSON_VERSION;
use serde::Deserialize;

/// One line of a process's file.
#[derive(Debug, Deserialize)]
struct Line {
    binary: String,
    test: Option<String>,
    text: Option<String>,
    report: Option<ReportJson>,
    #[serde(default)]
    suppressed: Vec<(String, usize)>,
    ignored: Option<IgnoredJson>,
    note: Option<String>,
    error: Option<String>,
    settings: Option<SettingsJson>,
}

/// A suite's settings file and every rule it has.
#[derive(Debug, Deserialize)]
struct SettingsJson {
    file: String,
    rules: Vec<String>,
}

/// What the suite's settings file's rules left out of one test's check.
#[derive(Debug, Deserialize)]
struct IgnoredJson {
    file: String,
    count: usize,
    rules: Vec<String>,
}

/// A test's report, in the format of
/// [`REPORT_JSON_VERSION`].
#[derive(Debug, Deserialize)]
struct ReportJson {
    /// `None` from a preload that wrote no version.
    version: Option<u32>,
    groups: Vec<GroupJson>,
}

/// A report's group of items: one kind, finding and site.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct GroupJson {
    pub(crate) finding: String,
    pub(crate) kind: String,
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) count: usize,
    #[serde(default)]
    pub(crate) details: Vec<String>,
    pub(crate) via: Option<Via>,
    pub(crate) stack: Option<Vec<FrameJson>>,
}

/// The user's call that led a library to open a group's items.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Via {
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) column: Option<u32>,
}

/// A frame of a group's stack (at `LEAKWATCH=stacks`).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct FrameJson {
    pub(crate) function: String,
}

impl GroupJson {
    /// Where the items were opened, as reports show it.
    pub(crate) fn site(&self) -> String {
        let site = format!("{}:{}:{}", self.file, self.line, self.column);
        match &self.via {
            Some(via) => match via.column {
                Some(column) => format!("{site} via {}:{}:{column}", via.file, via.line),
                None => format!("{site} via {}:{}", via.file, via.line),
            },
            None => site,
        }
    }
}

/// A test that leaked.
#[derive(Debug)]
pub(crate) struct Leak {
    /// The test binary's name, without cargo's hash.
    pub(crate) binary: String,
    pub(crate) test: String,
    /// The report as the test's own check prints it.
    pub(crate) text: String,
    pub(crate) groups: Vec<GroupJson>,
}

/// Everything a run's processes wrote.
#[derive(Debug, Default)]
pub(crate) struct RunLog {
    /// How many tests were checked.
    pub(crate) checked: usize,
    /// The binaries they ran in.
    pub(crate) binaries: BTreeSet<String>,
    pub(crate) leaks: Vec<Leak>,
    /// Uses of each suppression that left something out.
    pub(crate) suppressed: BTreeMap<String, usize>,
    /// What each settings file's rules left out: the count and the rules
    /// that did, by file.
    pub(crate) ignored: BTreeMap<String, (usize, BTreeSet<String>)>,
    /// Each settings file the suite's processes read, with all its rules.
    pub(crate) settings: BTreeMap<String, BTreeSet<String>>,
    /// What makes the run fail whatever the tests did, once each.
    pub(crate) errors: BTreeSet<String>,
    /// What the processes said about themselves, once each.
    pub(crate) notes: BTreeSet<String>,
}

impl RunLog {
    /// Reads every `*.jsonl` file in `dir`.
    pub(crate) fn read(dir: &Path) -> Result<RunLog, String> {
        let mut log = RunLog::default();
        let entries = std::fs::read_dir(dir)
            .map_err(|err| format!("cannot read the run's log in {}: {err}", dir.display()))?;
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file)
                .map_err(|err| format!("cannot read {}: {err}", file.display()))?;
            for (n, line) in text.lines().enumerate() {
                let line: Line = serde_json::from_str(line)
                    .map_err(|err| format!("{}:{}: not a finding: {err}", file.display(), n + 1))?;
                if let Some(report) = &line.report
                    && report.version != Some(REPORT_JSON_VERSION)
                {
                    let format = match report.version {
                        Some(v) => format!("format {v}"),
                        None => "no format version".to_owned(),
                    };
                    return Err(format!(
                        "{}:{}: a report in {format}, but this cargo-leakwatch reads format \
                         {REPORT_JSON_VERSION}: the preloaded library is from another leakwatch",
                        file.display(),
                        n + 1,
                    ));
                }
                log.add(line);
            }
        }
        log.leaks
            .sort_by(|a, b| (&a.binary, &a.test).cmp(&(&b.binary, &b.test)));
        Ok(log)
    }

    fn add(&mut self, line: Line) {
        let binary = binary_name(&line.binary);
        if let Some(note) = line.note {
            self.notes.insert(note);
            return;
        }
        if let Some(error) = line.error {
            self.errors.insert(error);
            return;
        }
        if let Some(settings) = line.settings {
            self.settings
                .entry(settings.file)
                .or_default()
                .extend(settings.rules);
            return;
        }
        let Some(test) = line.test else { return };
        self.checked += 1;
        self.binaries.insert(binary.clone());
        for (rule, n) in line.suppressed {
            *self.suppressed.entry(rule).or_default() += n;
        }
        if let Some(ignored) = line.ignored {
            let entry = self.ignored.entry(ignored.file).or_default();
            entry.0 += ignored.count;
            entry.1.extend(ignored.rules);
        }
        if let (Some(text), Some(report)) = (line.text, line.report) {
            self.leaks.push(Leak {
                binary,
                test,
                text,
                groups: report.groups,
            });
        }
    }

    /// How many items leaked in all.
    pub(crate) fn items(&self) -> usize {
        self.leaks
            .iter()
            .flat_map(|leak| &leak.groups)
            .map(|g| g.count)
            .sum()
    }
}

/// `leaky-fdfb1c9e41bfa1d7` as `leaky`: a test binary's file name without
/// the hash cargo adds.
pub(crate) fn binary_name(path: &str) -> String {
    let file = Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_owned());
    match file.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_owned()
        }
        _ => file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_named_without_the_hash() {
        assert_eq!(binary_name("/t/debug/deps/leaky-fdfb1c9e41bfa1d7"), "leaky");
        assert_eq!(
            binary_name("/t/debug/deps/my-crate-0123456789abcdef"),
            "my-crate"
        );
        assert_eq!(binary_name("/t/debug/deps/plain"), "plain");
    }

    #[test]
    fn lines_are_read_and_counted() {
        let dir = std::env::temp_dir().join(format!("lw-run-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let leak = r#"{"binary":"/t/deps/leaky-fdfb1c9e41bfa1d7","pid":1,"test":"leaks_a_socket","text":"LEAK ...\n","report":{"version":2,"scope_name":"leaks_a_socket","total":1,"groups":[{"finding":"still open","kind":"fd","file":"tests/leaky.rs","line":19,"column":20,"count":1,"details":["tcp 127.0.0.1:1 (LISTEN) (fd 5)"],"via":null,"stack":null}]},"suppressed":[["kind:thread",2]]}"#;
        let clean = r#"{"binary":"/t/deps/leaky-fdfb1c9e41bfa1d7","pid":1,"test":"closes_its_s…"}"#;
        let note = r#"{"binary":"/t/deps/other-fdfb1c9e41bfa1d7","pid":2,"note":"said once"}"#;
        std::fs::write(dir.join("1.jsonl"), format!("{leak}\n{clean}\n")).unwrap();
        std::fs::write(dir.join("2.jsonl"), format!("{note}\n{note}\n")).unwrap();
        let log = RunLog::read(&dir).unwrap();
        assert_eq!(log.checked, 2);
        assert_eq!(log.leaks.len(), 1);
        assert_eq!(log.leaks[0].groups[0].site(), "tests/leaky.rs:19:20");
        assert_eq!(log.items(), 1);
        assert_eq!(log.suppressed["kind:thread"], 2);
        assert_eq!(log.notes.len(), 1);
        std::fs::write(dir.join("3.jsonl"), "{oops\n").unwrap();
        let err = RunLog::read(&dir).unwrap_err();
        assert!(err.contains("3.jsonl:1: not a finding"), "{err}");
        std::fs::remove_file(dir.join("3.jsonl")).unwrap();
        for (version, shown) in [
            (r#""version":1,"#, "in format 1,"),
            ("", "in no format version,"),
        ] {
            let old = leak.replace(r#""version":2,"#, version);
            std::fs::write(dir.join("4.jsonl"), format!("{old}\n")).unwrap();
            let err = RunLog::read(&dir).unwrap_err();
            assert!(err.contains("4.jsonl:1: a report "), "{err}");
            assert!(err.contains(shown), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
