//! The shared library to preload: built once per target folder from
//! `leakwatch-preload`'s source, or taken from `LEAKWATCH_PRELOAD_LIB`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A library built elsewhere, used as it is.
pub(crate) const LIB_ENV: &str = "LEAKWATCH_PRELOAD_LIB";

/// Where `leakwatch-preload`'s source was when this binary was built.
const SOURCE: &str = env!("LEAKWATCH_PRELOAD_SRC");

/// The library to preload for a suite whose target folder is `target`.
pub(crate) fn library(target: &Path) -> Result<PathBuf, String> {
    supported()?;
    if let Some(lib) = std::env::var_os(LIB_ENV) {
        let lib = PathBuf::from(lib);
        return if lib.is_file() {
            Ok(lib)
        } else {
            Err(format!("{LIB_ENV}={} is not a file", lib.display()))
        };
    }
    let manifest = Path::new(SOURCE).join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!(
            "leakwatch-preload's source is gone from {SOURCE} (where it was when cargo-leakwatch \
             was built): reinstall cargo-leakwatch, or set {LIB_ENV} to a built \
             libleakwatch_preload.so"
        ));
    }
    let out = target.join("leakwatch").join("preload");
    eprintln!(
        "cargo-leakwatch: building the library it preloads into {}",
        out.display()
    );
    let mut child = Command::new(cargo())
        .args([
            "build",
            "--release",
            "--lib",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&out)
        .env_remove("LD_PRELOAD")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run cargo to build leakwatch-preload: {err}"))?;
    let mut built = None;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|err| format!("cannot read cargo's output: {err}"))?;
        if let Some(lib) = artifact(&line) {
            built = Some(lib);
        }
    }
    let status = child
        .wait()
        .map_err(|err| format!("cannot wait for cargo: {err}"))?;
    if !status.success() {
        return Err(format!("building leakwatch-preload failed ({status})"));
    }
    built.ok_or_else(|| String::from("cargo built leakwatch-preload but named no shared library"))
}

/// The shared library a line of cargo's JSON output names, if it names
/// leakwatch-preload's.
fn artifact(line: &str) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" || message["target"]["name"] != "leakwatch_preload"
    {
        return None;
    }
    message["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".so"))
        .map(PathBuf::from)
}

/// Why no library can be preloaded here, if so.
fn supported() -> Result<(), String> {
    if cfg!(leakwatch_hooks) {
        Ok(())
    } else {
        Err(String::from(
            "cargo leakwatch test needs glibc Linux on x86_64 or aarch64 with a dynamically linked C runtime, where libc's \
             functions can be interposed with LD_PRELOAD; elsewhere, use #[leakwatch::test] \
             and leakwatch's wrappers",
        ))
    }
}

/// The cargo that ran this command (`CARGO`), else the one on `PATH`.
pub(crate) fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_found_in_cargos_messages() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"leakwatch_preload"},"filenames":["/t/release/libleakwatch_preload.rlib","/t/release/libleakwatch_preload.so"]}"#;
        assert_eq!(
            artifact(line),
            Some(PathBuf::from("/t/release/libleakwatch_preload.so"))
        );
        let other = r#"{"reason":"compiler-artifact","target":{"name":"libc"},"filenames":["/t/liblibc.rlib"]}"#;
        assert_eq!(artifact(other), None);
        assert_eq!(artifact("not json"), None);
    }
}
