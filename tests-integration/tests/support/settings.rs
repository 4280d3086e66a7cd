//! A scratch package folder for a child run, holding the suite's settings
//! file `.config/leakwatch.toml` or not: given to the child as its
//! `CARGO_MANIFEST_DIR`, it is where every check looks for the file (read
//! once per process, so each variant needs a process of its own).

use std::path::PathBuf;

/// A package folder for one run, holding `.config/leakwatch.toml` with
/// `text`, or no file for `None`; removed when dropped. `run` names it
/// within this process, so parallel tests each get their own.
pub fn package(run: &str, text: Option<&str>) -> Package {
    let dir = std::env::temp_dir().join(format!(
        "leakwatch-integration-{}-{run}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".config")).unwrap();
    if let Some(text) = text {
        std::fs::write(dir.join(".config/leakwatch.toml"), text).unwrap();
    }
    Package(dir)
}

/// A package folder made by [`package`].
pub struct Package(PathBuf);

impl Package {
    /// The folder, as a child's `CARGO_MANIFEST_DIR`.
    pub fn dir(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Package {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
