//! Helpers shared by the tests against real crates: running this test
//! binary's ignored tests in a child process and reading libtest's output,
//! the line of a test file that a report must name, an HTTP server that
//! lives in a static, and a package folder holding a settings file.

#![allow(dead_code)]

pub mod server;
pub mod settings;

use tests_support::child::Rerun;
// Each test binary uses some of these.
#[allow(unused_imports)]
pub use tests_support::{child::Run, marker::line_of};

/// Runs this test binary again with `args` (libtest's: filters,
/// `--ignored`, `--test-threads`), without any `LEAKWATCH*` variable of
/// this environment, and checks that it ran `expected_tests` tests, so a
/// renamed or filtered-out test fails the caller instead of passing it.
#[track_caller]
pub fn run(args: &[&str], expected_tests: usize) -> Run {
    run_with_env(args, &[], expected_tests)
}

/// [`run`], with the variables `env` set in the child.
#[track_caller]
pub fn run_with_env(args: &[&str], env: &[(&str, &str)], expected_tests: usize) -> Run {
    Rerun::new()
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .envs(env)
        .expect_tests(expected_tests)
        .run()
}

/// Runs the ignored test `name` alone, captured, so its report is in its
/// failure section; returns that run.
#[track_caller]
pub fn run_one(name: &str) -> Run {
    run(&["--ignored", "--exact", name, "--test-threads=1"], 1)
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
