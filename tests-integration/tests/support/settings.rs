//! A scratch package folder for a child run, holding the suite's settings
//! file `.config/leakwatch.toml` or not: given to the child as its
//! `CARGO_MANIFEST_DIR`, it is where every check looks for the file (read
//! once per process, so each variant needs a process of its own).
//!
//! The folder is made inside this package, so that the child finds the
//! same workspace root (the folder above with a `Cargo.lock`) as a real
//! suite does: a frame in a test file is then the user's, and a site is the
//! user's line or a library's reached from it, as in a real report.

/// A package folder for one run, holding `.config/leakwatch.toml` with
/// `text`, or no file for `None`; removed when dropped.
pub fn package(text: Option<&str>) -> Package {
    let dir = tempfile::Builder::new()
        .prefix(".scratch-package-")
        .tempdir_in(env!("CARGO_MANIFEST_DIR"))
        .unwrap();
    std::fs::create_dir(dir.path().join(".config")).unwrap();
    if let Some(text) = text {
        std::fs::write(dir.path().join(".config/leakwatch.toml"), text).unwrap();
    }
    Package(dir)
}

/// A package folder made by [`package`].
pub struct Package(tempfile::TempDir);

impl Package {
    /// The folder, as a child's `CARGO_MANIFEST_DIR`.
    pub fn dir(&self) -> &str {
        self.0.path().to_str().unwrap()
    }
}
