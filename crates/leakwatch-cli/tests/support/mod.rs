//! Helpers shared by the command's tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;

/// The `leakwatch` binary, built for the tests.
pub fn leakwatch() -> Command {
    Command::cargo_bin("leakwatch").expect("the binary is built")
}

/// A path under a directory of this test process's own.
pub fn scratch(name: &str) -> PathBuf {
    let dir = tests_support::temp::temp_dir("cli");
    dir.join(name)
}

/// Runs `leakwatch flame INPUT -o SVG`, which must succeed, and returns
/// the drawing.
pub fn flame(input: &str, svg: &Path) -> String {
    let out = leakwatch()
        .args(["flame", input, "-o"])
        .arg(svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(svg).unwrap()
}
