//! Whose code a file is: the user's workspace, or a dependency.
//!
//! rustc records a `#[track_caller]` location's file as Cargo passed it:
//! relative to the workspace root for the workspace's own crates
//! (`crates/app/src/db.rs`), absolute for everything else (Cargo's registry
//! `…/.cargo/registry/src/<index>/hyper-util-0.1.21/src/rt/tokio.rs`, git
//! checkouts `…/.cargo/git/checkouts/<repo>-<hash>/<rev>/…`, path
//! dependencies outside the workspace, and std's `/rustc/<hash>/library/…`).
//! With `-Z trim-paths` a registry crate's file is relative but starts with
//! its `name-version` folder. Debug info names files the same way, joined to
//! the workspace root, so frames are absolute and sorted by the same rules.
//!
//! The workspace root at run time is the nearest folder with a `Cargo.lock`
//! at or above `CARGO_MANIFEST_DIR` (which `cargo test` and `cargo run` set
//! for the process) or else the working directory.

use std::panic::Location;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// The user's workspace root, found once (see the [module docs](self)).
pub(crate) fn workspace_root() -> Option<&'static Path> {
    static ROOT: OnceLock<Option<PathBuf>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let start = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or_else(|| std::env::current_dir().ok())?;
        let root = start
            .ancestors()
            .find(|dir| dir.join("Cargo.lock").is_file())
            .unwrap_or(&start);
        Some(root.to_path_buf())
    })
    .as_deref()
}

/// Whether `site` lies in a dependency rather than the user's workspace.
///
/// Decided once per site: a table indexed by the location's address holds
/// the verdicts of recent sites (a load and a compare), and a locked map
/// behind it every verdict ever made, so the path is read once per site
/// even when two sites share a slot.
#[inline]
pub(crate) fn is_dependency(site: &'static Location<'static>) -> bool {
    cache::verdict(site)
}

/// Whether a file, as rustc or debug info names it, is outside the user's
/// workspace (see the [module docs](self)).
pub(crate) fn is_dependency_file(file: &str) -> bool {
    is_dependency_file_in(file, workspace_root())
}

fn is_dependency_file_in(file: &str, root: Option<&Path>) -> bool {
    if cargo_folder(file).is_some() || file.starts_with("/rustc/") {
        return true;
    }
    let path = Path::new(file);
    if path.is_relative() {
        let mut components = path.components();
        return match components.next() {
            // Cargo names the workspace's files from its root, never from
            // `.` or `..`: such a name is another build's, relative to its
            // own folder (glibc's debug info names `start_thread`'s file
            // `./nptl/pthread_create.c`).
            Some(Component::CurDir | Component::ParentDir) => true,
            // The workspace's own crates, unless trim-paths named a crate
            // folder.
            first => first
                .and_then(|c| c.as_os_str().to_str())
                .is_some_and(|first| split_name_version(first).is_some()),
        };
    }
    !root.is_some_and(|root| path.starts_with(root))
}

/// What follows Cargo's registry source or git checkout folder in `file`.
fn cargo_folder(file: &str) -> Option<(&str, bool)> {
    for (marker, git) in [
        ("/registry/src/", false),
        ("\\registry\\src\\", false),
        ("/git/checkouts/", true),
        ("\\git\\checkouts\\", true),
    ] {
        if let Some(at) = file.find(marker) {
            let rest = &file[at + marker.len()..];
            // The registry has one folder per index before the crates.
            let rest = if git {
                rest
            } else {
                rest.split_once(['/', '\\']).map_or(rest, |(_, r)| r)
            };
            return Some((rest, git));
        }
    }
    None
}

/// `file` as a reader wants it in a report: a registry crate's file from
/// its `name-version` folder (`hyper-util-0.1.21/src/rt/tokio.rs`), a git
/// checkout's from its repository folder, std's from `library/`, a file in
/// the workspace relative to its root; anything else as it is.
pub(crate) fn short_path(file: &str) -> &str {
    if let Some((rest, _)) = cargo_folder(file) {
        return rest;
    }
    if let Some(rest) = file.strip_prefix("/rustc/") {
        return rest.split_once('/').map_or(rest, |(_, r)| r);
    }
    if let Some(root) = workspace_root().and_then(Path::to_str)
        && let Some(rest) = file.strip_prefix(root)
        && let Some(rest) = rest.strip_prefix(['/', '\\'])
    {
        return rest;
    }
    file
}

/// The crate a dependency's file belongs to, as a reader names it:
/// `hyper 1.x`, `hyper-util 0.1.x`, `my-fork (git)`. `None` when the path
/// does not say.
pub(crate) fn crate_of_file(file: &str) -> Option<String> {
    let (folder, git) = match cargo_folder(file) {
        Some((rest, git)) => (rest.split(['/', '\\']).next()?, git),
        None if Path::new(file).is_relative() => (file.split(['/', '\\']).next()?, false),
        None => return None,
    };
    if git {
        let name = folder.rsplit_once('-').map_or(folder, |(name, _hash)| name);
        return Some(format!("{name} (git)"));
    }
    let (name, version) = split_name_version(folder)?;
    Some(format!("{name} {}", series(version)))
}

/// The package of a file of the user's workspace (relative to its root, as
/// rustc names them, or absolute under it): the `[package]` name of the
/// nearest `Cargo.toml` above the file, read once per folder.
pub(crate) fn workspace_package_of_file(file: &str) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, PoisonError};

    static PACKAGES: Mutex<Option<HashMap<PathBuf, Option<String>>>> = Mutex::new(None);
    let root = workspace_root()?;
    let path = Path::new(file);
    let path = if path.is_relative() {
        root.join(path)
    } else if path.starts_with(root) {
        path.to_path_buf()
    } else {
        return None;
    };
    for dir in path.ancestors().skip(1) {
        if !dir.starts_with(root) {
            break;
        }
        let mut packages = PACKAGES.lock().unwrap_or_else(PoisonError::into_inner);
        let known = packages
            .get_or_insert_with(HashMap::new)
            .entry(dir.to_path_buf())
            .or_insert_with(|| package_name(&dir.join("Cargo.toml")));
        if let Some(name) = known {
            return Some(name.clone());
        }
    }
    None
}

/// The `name` of the `[package]` table of the manifest at `path`, if any.
fn package_name(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches(['"', '\'']).to_owned());
        }
    }
    None
}

/// `hyper-util-0.1.21` as `("hyper-util", "0.1.21")`.
fn split_name_version(folder: &str) -> Option<(&str, &str)> {
    let (at, _) = folder
        .match_indices('-')
        .find(|&(at, _)| looks_like_version(&folder[at + 1..]))?;
    Some((&folder[..at], &folder[at + 1..]))
}

fn looks_like_version(s: &str) -> bool {
    let mut parts = s.splitn(3, '.');
    let numeric =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let (major, minor) = (parts.next(), parts.next());
    let patch = parts
        .next()
        .map(|p| p.split(['-', '+']).next().unwrap_or(p));
    numeric(major) && numeric(minor) && numeric(patch)
}

/// The semver-compatible series of `version`: `1.x` for `1.12.0`, `0.1.x`
/// for `0.1.21`, the version itself below `0.1`.
fn series(version: &str) -> String {
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some("0")) => version.to_owned(),
        (Some("0"), Some(minor)) => format!("0.{minor}.x"),
        (Some(major), _) => format!("{major}.x"),
        _ => version.to_owned(),
    }
}

mod cache {
    use std::collections::HashMap;
    use std::panic::Location;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, PoisonError};

    /// Slots of the fast table: 8 KiB, zero until used.
    const SLOTS: usize = 1024;
    /// The slot holds a verdict (a location is aligned to at least 4, so
    /// its address leaves the two low bits free).
    const KNOWN: usize = 0b01;
    /// The verdict: a dependency.
    const DEPENDENCY: usize = 0b10;

    static FAST: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
    static ALL: Mutex<Option<HashMap<usize, bool>>> = Mutex::new(None);

    #[inline(always)]
    pub(super) fn verdict(site: &'static Location<'static>) -> bool {
        let addr = std::ptr::from_ref(site).addr();
        let slot = &FAST[index(addr)];
        let seen = slot.load(Ordering::Relaxed);
        if seen & !(KNOWN | DEPENDENCY) == addr && seen & KNOWN != 0 {
            return seen & DEPENDENCY != 0;
        }
        slow(site, addr, slot)
    }

    /// Locations are statics of a few words laid out side by side, so
    /// their addresses over the word size spread over the slots.
    #[inline(always)]
    fn index(addr: usize) -> usize {
        (addr >> 3) & (SLOTS - 1)
    }

    #[cold]
    #[inline(never)]
    fn slow(site: &'static Location<'static>, addr: usize, slot: &AtomicUsize) -> bool {
        let dependency = *ALL
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(HashMap::new)
            .entry(addr)
            .or_insert_with(|| super::is_dependency_file(site.file()));
        // A racing store of another site's verdict only costs that site a
        // trip here: a slot is one word, written whole.
        slot.store(
            addr | KNOWN | if dependency { DEPENDENCY } else { 0 },
            Ordering::Relaxed,
        );
        dependency
    }

    #[cfg(test)]
    pub(super) fn decided(site: &'static Location<'static>) -> bool {
        let addr = std::ptr::from_ref(site).addr();
        ALL.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|all| all.contains_key(&addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_files_belong_to_the_package_above_them() {
        assert_eq!(
            workspace_package_of_file("crates/leakwatch-core/src/stack/whose.rs").as_deref(),
            Some("leakwatch-core")
        );
        assert_eq!(
            workspace_package_of_file("crates/leakwatch/tests/it/main.rs").as_deref(),
            Some("leakwatch")
        );
        assert_eq!(workspace_package_of_file("/opt/elsewhere/src/lib.rs"), None);
    }

    const REGISTRY: &str = "/home/ada/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/hyper-util-0.1.21/src/rt/tokio.rs";
    const GIT: &str =
        "/home/ada/.cargo/git/checkouts/hyper-3f2a9b1c0d4e5f67/a1b2c3d/src/proto/h1/conn.rs";

    #[test]
    fn sorts_files_by_whose_they_are() {
        let root = Some(Path::new("/work/app"));
        let dep = |file| is_dependency_file_in(file, root);
        assert!(dep(REGISTRY));
        assert!(dep(GIT));
        assert!(dep(
            "/rustc/17067e9ac6d7e98f18d4ee5bd4fb4f4b3f7e0a1c/library/std/src/thread/mod.rs"
        ));
        assert!(dep("hyper-util-0.1.21/src/rt/tokio.rs"), "trim-paths form");
        assert!(dep("/opt/vendored/lib/src/lib.rs"), "outside the workspace");
        assert!(!dep("crates/app/src/db.rs"));
        assert!(!dep("src/main.rs"));
        assert!(
            !dep("/work/app/crates/app/src/db.rs"),
            "inside the workspace"
        );
        assert!(!dep("my-service/src/lib.rs"), "a member folder with a dash");
        assert!(
            dep("./nptl/pthread_create.c"),
            "glibc's debug info, relative to its own build folder"
        );
        assert!(dep("../lib/other.rs"), "relative to another folder");
    }

    #[test]
    fn names_crates_and_shortens_their_paths() {
        assert_eq!(short_path(REGISTRY), "hyper-util-0.1.21/src/rt/tokio.rs");
        assert_eq!(
            short_path(GIT),
            "hyper-3f2a9b1c0d4e5f67/a1b2c3d/src/proto/h1/conn.rs"
        );
        assert_eq!(
            short_path("/rustc/abc/library/core/src/lib.rs"),
            "library/core/src/lib.rs"
        );
        assert_eq!(short_path("crates/app/src/db.rs"), "crates/app/src/db.rs");
        assert_eq!(crate_of_file(REGISTRY).as_deref(), Some("hyper-util 0.1.x"));
        assert_eq!(
            crate_of_file("/c/registry/src/i/hyper-1.12.0/src/lib.rs").as_deref(),
            Some("hyper 1.x")
        );
        assert_eq!(
            crate_of_file("/c/registry/src/i/pin-utils-0.0.3-alpha.1/src/lib.rs").as_deref(),
            Some("pin-utils 0.0.3-alpha.1")
        );
        assert_eq!(crate_of_file(GIT).as_deref(), Some("hyper (git)"));
        assert_eq!(crate_of_file("/opt/x/src/lib.rs"), None);
    }

    #[test]
    fn the_workspace_root_is_this_repository() {
        let root = workspace_root().expect("cargo test sets CARGO_MANIFEST_DIR");
        assert!(root.join("Cargo.lock").is_file(), "{}", root.display());
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).starts_with(root));
    }

    #[test]
    fn a_site_is_decided_once_and_then_read_from_the_table() {
        let here = Location::caller();
        assert!(!is_dependency(here), "{}", here.file());
        assert!(cache::decided(here));
        for _ in 0..3 {
            assert!(!is_dependency(here));
        }
    }
}
