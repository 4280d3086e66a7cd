//! Paths under the system temp dir that belong to this process: the
//! process id in each name keeps test binaries that run at the same time
//! (and earlier runs that left files behind) apart.

use std::path::PathBuf;

/// `$TMPDIR/leakwatch-{name}-{pid}`, not created: for a file or socket a
/// test creates itself. Reports show this path, so a test can look for
/// `leakwatch-{name}-` in them.
///
/// ```
/// let path = tests_support::temp::temp_path("doc-socket");
/// let name = path.file_name().unwrap().to_str().unwrap();
/// assert_eq!(name, format!("leakwatch-doc-socket-{}", std::process::id()));
/// ```
pub fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("leakwatch-{name}-{}", std::process::id()))
}

/// The directory [`temp_path`]`(name)`, created if it does not exist.
///
/// # Panics
///
/// If the directory cannot be created; the message names it.
///
/// ```
/// let dir = tests_support::temp::temp_dir("doc-dir");
/// assert!(dir.is_dir());
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[track_caller]
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = temp_path(name);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}
