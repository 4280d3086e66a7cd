//! Helpers shared by the tests against real crates: running this test
//! binary's ignored tests in a child process and reading libtest's output,
//! the line of a test file that a report must name, an HTTP server that
//! lives in a static, and a package folder holding a settings file.

#![allow(dead_code)]

pub mod server;
pub mod settings;

use std::collections::BTreeMap;
use std::process::Command;

/// How a child run of this test binary ended.
#[derive(Debug)]
pub struct Run {
    /// Whether every test the child ran passed.
    pub passed: bool,
    /// Everything it printed (libtest's stdout, then stderr).
    pub output: String,
}

impl Run {
    /// The names of the tests libtest says passed (`test NAME ... ok`).
    pub fn passed_tests(&self) -> Vec<&str> {
        self.output
            .lines()
            .filter_map(|line| line.strip_prefix("test ")?.strip_suffix(" ... ok"))
            .collect()
    }

    /// The names of the tests libtest says failed (`test NAME ... FAILED`).
    pub fn failed_tests(&self) -> Vec<&str> {
        self.output
            .lines()
            .filter_map(|line| line.strip_prefix("test ")?.strip_suffix(" ... FAILED"))
            .collect()
    }

    /// libtest's failure section of each failed test, by name: what it
    /// printed while captured, its panic message and so its report, from
    /// `---- NAME stdout ----` to the next section or the list of failures.
    pub fn sections(&self) -> BTreeMap<String, String> {
        let mut sections = BTreeMap::new();
        let mut current: Option<(String, String)> = None;
        for line in self.output.lines() {
            let header = line
                .strip_prefix("---- ")
                .and_then(|rest| rest.strip_suffix(" stdout ----"));
            if (header.is_some() || line == "failures:")
                && let Some((name, text)) = current.take()
            {
                sections.insert(name, text);
            }
            if let Some(name) = header {
                current = Some((name.to_owned(), String::new()));
            } else if let Some((_, text)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        if let Some((name, text)) = current {
            sections.insert(name, text);
        }
        sections
    }
}

/// Runs this test binary again with `args` (libtest's: filters,
/// `--ignored`, `--test-threads`), without any `LEAKWATCH*` variable of
/// this environment, and checks that it ran `expected_tests` tests, so a
/// renamed or filtered-out test fails the caller instead of passing it.
#[track_caller]
pub fn run(args: &[&str], expected_tests: usize) -> Run {
    run_with_env(args, &[], expected_tests)
}

/// [`run`], with the variables `env` set in the child (after the
/// `LEAKWATCH*` ones of this environment are removed).
#[track_caller]
pub fn run_with_env(args: &[&str], env: &[(&str, &str)], expected_tests: usize) -> Run {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .env_remove("LEAKWATCH")
        .env_remove("LEAKWATCH_GRACE")
        .env_remove("LEAKWATCH_DETECT")
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let output =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let plural = if expected_tests == 1 { "" } else { "s" };
    assert!(
        output.contains(&format!("\nrunning {expected_tests} test{plural}\n")),
        "{args:?} did not run {expected_tests} test{plural} of this binary:\n{output}"
    );
    Run {
        passed: out.status.success(),
        output,
    }
}

/// Runs the ignored test `name` alone, captured, so its report is in its
/// failure section; returns that run.
#[track_caller]
pub fn run_one(name: &str) -> Run {
    run(&["--ignored", "--exact", name, "--test-threads=1"], 1)
}

/// The 1-based number of the only line of `source` that ends with
/// `marker`: where a leaky test opens its item.
#[track_caller]
pub fn line_of(source: &str, marker: &str) -> u32 {
    let mut lines = source
        .lines()
        .enumerate()
        .filter(|(_, line)| line.ends_with(marker));
    let (index, _) = lines
        .next()
        .unwrap_or_else(|| panic!("no line ends with {marker:?}"));
    assert!(lines.next().is_none(), "two lines end with {marker:?}");
    u32::try_from(index + 1).unwrap()
}

/// The site lines of a report (`LEAK   N KIND still open, ...`), each with
/// its kind in the singular (`fd`, `thread`, `child`, `task`): what a
/// failing check found, one line per site.
pub fn sites(report: &str) -> Vec<(&str, &str)> {
    report
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("LEAK   ")?;
            let (count, rest) = rest.split_once(' ')?;
            count.parse::<u32>().ok()?;
            let kind = match rest.split(' ').next()? {
                "children" => "child",
                plural if count != "1" => plural.strip_suffix('s').unwrap_or(plural),
                kind => kind,
            };
            Some((kind, line))
        })
        .collect()
}

/// Whether this binary is built with `--cfg tokio_unstable`, where tokio's
/// task hooks make every task on a runtime with them an item: a report may
/// then list tasks that a library spawned with plain `tokio::spawn`.
pub const TOKIO_UNSTABLE: bool = cfg!(tokio_unstable);
