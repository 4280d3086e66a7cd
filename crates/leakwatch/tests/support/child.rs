//! Tests that must fail, run in a child process of this test binary.
//!
//! A test that fails on purpose (a leak under `#[leakwatch::test]`, a bad
//! `LEAKWATCH`) is marked `#[ignore]` so that a plain `cargo test` never runs
//! it; a parent test runs it alone with `--ignored --exact` and checks how it
//! failed. The parent also checks that the child ran exactly one test, so a
//! renamed or filtered-out child fails the parent instead of passing it.

use std::process::Command;

/// How a child test ended.
#[derive(Debug)]
pub struct Run {
    /// Whether the child test passed.
    pub passed: bool,
    /// Everything it printed (libtest's stdout, then stderr).
    pub output: String,
}

/// Runs the ignored test `name`, in module `module` (pass `module_path!()`),
/// in a child process, uncaptured, with `RUST_BACKTRACE=1` and no
/// `LEAKWATCH*` variables from this environment except those in `env`.
#[track_caller]
pub fn run(module: &str, name: &str, env: &[(&str, &str)]) -> Run {
    // libtest names tests by their path inside the crate, without its name.
    let path = match module.split_once("::") {
        Some((_crate, inner)) => format!("{inner}::{name}"),
        None => name.to_owned(),
    };
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            &path,
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("LEAKWATCH")
        .env_remove("LEAKWATCH_GRACE")
        .env_remove("LEAKWATCH_DETECT")
        .env("RUST_BACKTRACE", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    let output =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        output.contains("\nrunning 1 test\n"),
        "`{path}` is not one test of this binary:\n{output}"
    );
    Run {
        passed: out.status.success(),
        output,
    }
}

/// Runs the ignored test `name` (see [`run`]) and checks that it failed
/// with `expected` in its output, the failure located in `file` (pass
/// `file!()`), and no backtrace.
#[track_caller]
pub fn fails_with(module: &str, file: &str, name: &str, expected: &str) -> String {
    let run = run(module, name, &[]);
    let output = run.output;
    assert!(!run.passed, "`{name}` passed:\n{output}");
    assert!(
        output.contains(expected),
        "`{name}`: expected `{expected}` in:\n{output}"
    );
    assert!(
        output.contains(&format!("panicked at {file}:")),
        "`{name}`: the failure is not located in {file}:\n{output}"
    );
    assert!(
        !output.contains("stack backtrace:"),
        "`{name}`: a backtrace follows the report:\n{output}"
    );
    output
}
