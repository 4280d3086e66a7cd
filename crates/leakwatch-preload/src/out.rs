//! What the preload writes for `cargo leakwatch test`: one JSON line per
//! checked test, and notes, in a file of its own per process.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use leakwatch_core::{Ignored, Report};
use serde::Serialize;

/// The file of this process's lines.
pub(crate) struct Out {
    binary: String,
    file: Mutex<File>,
}

/// One checked test.
pub(crate) struct Verdict<'a> {
    pub(crate) test: &'a str,
    /// `None` when nothing leaked.
    pub(crate) report: Option<&'a Report>,
    /// The suppressions that left findings out, with how many each did.
    pub(crate) suppressed: &'a [(String, usize)],
    /// What the suite's settings file's rules left out.
    pub(crate) ignored: Option<&'a Ignored>,
}

/// What a settings file's rules left out of a test's check.
#[derive(Serialize)]
struct IgnoredLine<'a> {
    file: &'a str,
    count: usize,
    rules: &'a [String],
}

#[derive(Serialize)]
struct Line<'a> {
    binary: &'a str,
    pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    suppressed: &'a [(String, usize)],
    #[serde(skip_serializing_if = "Option::is_none")]
    ignored: Option<IgnoredLine<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<SettingsLine<'a>>,
}

/// The suite's settings file and all its rules, so that the summary can
/// name those no test needed.
#[derive(Serialize)]
struct SettingsLine<'a> {
    file: &'a str,
    rules: Vec<String>,
}

impl Out {
    /// Opens `dir/<pid>.jsonl` for this process, whose executable is
    /// `binary`.
    pub(crate) fn create(dir: &Path, binary: &Path) -> std::io::Result<Out> {
        let path = dir.join(format!("{}.jsonl", std::process::id()));
        // The preload's own file: opened where no test's scope is current.
        let file = leakwatch_interpose::unrecorded(|| {
            OpenOptions::new().create(true).append(true).open(path)
        })?;
        Ok(Out {
            binary: binary.display().to_string(),
            file: Mutex::new(file),
        })
    }

    pub(crate) fn write(&self, verdict: &Verdict<'_>) {
        self.line(&Line {
            binary: &self.binary,
            pid: std::process::id(),
            test: Some(verdict.test),
            text: verdict.report.map(ToString::to_string),
            report: verdict
                .report
                .and_then(|r| serde_json::from_str(&r.to_json()).ok()),
            suppressed: verdict.suppressed,
            ignored: verdict.ignored.map(|i| IgnoredLine {
                file: i.file(),
                count: i.count(),
                rules: i.rules(),
            }),
            note: None,
            error: None,
            settings: None,
        });
    }

    /// Something the run's summary should say about this process.
    pub(crate) fn note(&self, note: &str) {
        self.line(&Line {
            note: Some(note),
            ..self.empty()
        });
    }

    /// Something that makes the run fail whatever the tests did: the
    /// suite's settings file cannot be used.
    pub(crate) fn error(&self, error: &str) {
        self.line(&Line {
            error: Some(error),
            ..self.empty()
        });
    }

    /// The suite's settings file, with every rule it has.
    pub(crate) fn settings(&self, file: &str, rules: Vec<String>) {
        self.line(&Line {
            settings: Some(SettingsLine { file, rules }),
            ..self.empty()
        });
    }

    fn empty(&self) -> Line<'_> {
        Line {
            binary: &self.binary,
            pid: std::process::id(),
            test: None,
            text: None,
            report: None,
            suppressed: &[],
            ignored: None,
            note: None,
            error: None,
            settings: None,
        }
    }

    fn line(&self, line: &Line<'_>) {
        let Ok(mut text) = serde_json::to_string(line) else {
            return;
        };
        text.push('\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A failed write has nowhere better to go than stderr.
        if let Err(err) = file.write_all(text.as_bytes()) {
            eprintln!("leakwatch-preload: cannot write its findings: {err}");
        }
    }
}
