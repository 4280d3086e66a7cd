//! libc's functions are overridden only where a user asked for it: a
//! program built from a crate that depends on leakwatch without default
//! features defines none of them, and one built with them (this test's
//! own executable, through `lw`'s default features) defines them all.
#![cfg(all(target_os = "linux", target_env = "gnu", debug_assertions))]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A few of the interposed names, one per kind.
const INTERPOSED: [&str; 8] = [
    "open64",
    "close",
    "socket",
    "opendir",
    "pthread_create",
    "fork",
    "posix_spawnp",
    "waitpid",
];

/// The dynamic symbols `binary` defines (`nm -D --defined-only`).
fn defined(binary: &Path) -> Vec<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(binary)
        .output()
        .expect("nm (binutils) runs");
    assert!(out.status.success(), "nm {}: {out:?}", binary.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().last().map(str::to_owned))
        .collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

#[test]
fn a_program_built_without_default_features_overrides_nothing() {
    let target = workspace().join("target/no-hooks");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "-q", "-p", "no-hooks", "--target-dir"])
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success());
    let binary = target.join("debug/no-hooks");
    let symbols = defined(&binary);
    for name in INTERPOSED {
        assert!(!symbols.iter().any(|s| s == name), "{name} is defined");
    }
    let out = Command::new(&binary).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        said.contains("not interposed: leakwatch is built without its `interpose` feature"),
        "{said}"
    );
}

#[test]
fn a_program_built_with_them_overrides_every_one() {
    assert_eq!(lw::integration::support(), lw::integration::Support::Active);
    let symbols = defined(&std::env::current_exe().unwrap());
    for name in INTERPOSED {
        assert!(symbols.iter().any(|s| s == name), "{name} is not defined");
    }
}
