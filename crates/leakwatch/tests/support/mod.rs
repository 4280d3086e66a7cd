//! Helpers shared by the integration tests.

#![allow(dead_code)]

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use tests_support::child;
pub mod messages;
#[cfg(feature = "tokio")]
pub mod tasks;

use std::path::PathBuf;

use leakwatch::integration::{Finding, Group};
use leakwatch::{Report, Scope};

/// A fresh file under the system temp dir, unique to this test and process.
pub fn temp_path(name: &str) -> PathBuf {
    let path = tests_support::temp::temp_dir("tests").join(name);
    std::fs::write(&path, b"id,name\n1,ada\n").unwrap();
    path
}

/// The report of `scope`, which must have found something.
#[track_caller]
pub fn leaks(scope: &Scope) -> Report {
    scope
        .check_now()
        .expect_err("expected a leak report, but the check passed")
}

/// The one group of `report`, checked for kind, finding and line in this file.
#[track_caller]
pub fn only_group<'r>(report: &'r Report, kind: &str, finding: Finding, line: u32) -> &'r Group {
    assert_eq!(report.groups().len(), 1, "{report}");
    let group = &report.groups()[0];
    assert_eq!(group.kind(), kind, "{report}");
    assert_eq!(group.finding(), finding, "{report}");
    assert_eq!(group.site().line(), line, "{report}");
    assert!(group.site().file().ends_with(".rs"), "{report}");
    group
}
