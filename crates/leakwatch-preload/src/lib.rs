//! The library `cargo leakwatch test` preloads (`LD_PRELOAD`) into the
//! test binaries of a crate that does not depend on leakwatch, so that
//! every `#[test]` is checked for the descriptors, threads and child
//! processes it left open, with no change to its code.
//!
//! Loaded into a process, it defines libc's `open`, `socket`,
//! `pthread_create`, `posix_spawnp`, `close`, `waitpid` and the rest, as
//! `leakwatch-interpose` does in an executable that links it.
//! `cargo leakwatch test` preloads it into the test binaries alone: cargo
//! and cargo-nextest start each through the target's runner, which is
//! `cargo leakwatch` itself, setting `LD_PRELOAD` for that one process;
//! and the library takes itself out of `LD_PRELOAD` as it starts, so the
//! processes a test starts (a `sleep`, `git`, a C tool) never load it.
//! Where it is loaded it still does nothing unless:
//!
//! - `LEAKWATCH_PRELOAD_OUT` names the folder findings go to, and
//!   `LEAKWATCH_PRELOAD_TARGET` the target folder whose `deps` hold the
//!   run's test binaries (a process elsewhere is left alone: each hook
//!   passes the call straight through);
//! - the binary runs libtest (its symbols say so; `harness = false`
//!   binaries are not checked) and does not define the hooks itself (one
//!   that links leakwatch's own hooks checks its `#[leakwatch::test]`s
//!   itself, and is counted once).
//!
//! In a test binary, each thread the main thread starts is a test, named
//! after it: everything it and its descendants create is in its scope,
//! checked when the thread has ended and the grace (`LEAKWATCH_GRACE`, or
//! the suite's `.config/leakwatch.toml`) has passed. Stacks are taken so
//! that each finding names the user's line; what a static's initializer
//! creates belongs to the process. Suppressions
//! (`LEAKWATCH_PRELOAD_SUPPRESSIONS`, a file of ignore rules, one per
//! line) leave findings out and are counted. Each process writes one JSON
//! line per checked test to `<pid>.jsonl` in the findings folder, for
//! `cargo leakwatch test` to report and summarize.
//!
//! Linux with glibc only (x86_64, aarch64), where libc's functions can be
//! interposed.
//!
//! ```
//! // Nothing to call: the library works by being preloaded.
//! assert_eq!(leakwatch_preload::OUT_ENV, "LEAKWATCH_PRELOAD_OUT");
//! ```

mod binary;
mod name;
mod out;
mod test_threads;

use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use leakwatch_core::Ignore;

use crate::binary::Binary;
use crate::out::Out;

/// The folder findings are written to; unset, the library does nothing.
pub const OUT_ENV: &str = "LEAKWATCH_PRELOAD_OUT";
/// The target folder whose `deps` hold the test binaries to check.
pub const TARGET_ENV: &str = "LEAKWATCH_PRELOAD_TARGET";
/// A file of ignore rules (`kind:`, `site:`, `fn:`, `crate:`, `name:`,
/// `detail:`), one per line, `#` comments: findings they match are left
/// out and counted.
pub const SUPPRESSIONS_ENV: &str = "LEAKWATCH_PRELOAD_SUPPRESSIONS";

// SAFETY: `.init_array` holds `extern "C" fn()`s that the dynamic loader
// calls once, in order, as it loads the library, before `main`; `start`
// starts no thread and reads only the environment and files.
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

extern "C" fn init() {
    // Nothing may unwind out of a function the loader calls.
    let _ = std::panic::catch_unwind(start);
}

extern "C" fn at_exit() {
    let _ = std::panic::catch_unwind(test_threads::finish);
}

/// The executable, once it is known to be a test binary of the run.
static EXE: OnceLock<PathBuf> = OnceLock::new();

fn start() {
    let (Some(dir), Some(target)) = (std::env::var_os(OUT_ENV), std::env::var_os(TARGET_ENV))
    else {
        return;
    };
    leave_children_alone();
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    if !in_deps_of(&exe, Path::new(&target)) {
        return;
    }
    let _ = EXE.set(exe.clone());
    let out = match Out::create(Path::new(&dir), &exe) {
        Ok(out) => out,
        Err(err) => {
            eprintln!(
                "leakwatch-preload: cannot write findings to {}: {err}",
                Path::new(&dir).display()
            );
            return;
        }
    };
    if let Some(definer) = hooks_defined_elsewhere() {
        out.note(&format!(
            "{definer} defines libc's functions itself (it links leakwatch's hooks): its \
             #[leakwatch::test]s check themselves, and its other tests are not checked here"
        ));
        return;
    }
    let suppressions = match std::env::var_os(SUPPRESSIONS_ENV) {
        Some(file) => match read_suppressions(Path::new(&file)) {
            Ok(rules) => rules,
            Err(err) => {
                out.note(&err);
                return;
            }
        },
        None => Vec::new(),
    };
    // Decides the level before any hook runs in a second thread.
    let _ = leakwatch_core::level();
    leakwatch::integration::register_interposed();
    // What the preload itself opens (reading the binary's symbols) is
    // recorded with its frames on top: leakwatch's own, like the hooks'.
    leakwatch_core::register_own_frames(&["leakwatch_preload::"]);
    leakwatch_interpose::set_stacks(leakwatch_interpose::Stacks::Always);
    let args: Vec<String> = std::env::args().collect();
    test_threads::begin(test_threads::Run {
        out,
        suppressions,
        named: name::from_args(&args),
        libtest: is_libtest,
    });
    // SAFETY: `at_exit` is an `extern "C" fn()` that stays loaded: a
    // preloaded library is never unloaded.
    unsafe { libc::atexit(at_exit) };
}

/// Takes this library out of `LD_PRELOAD`, so that the processes this one
/// starts (a test's `sleep`, `git`, a C tool) do not load it: only the
/// test binaries that `cargo leakwatch test` starts through its runner do.
fn leave_children_alone() {
    let Some(me) = own_path() else { return };
    let Some(preload) = std::env::var_os("LD_PRELOAD") else {
        return;
    };
    let preload = preload.to_string_lossy().into_owned();
    let others: Vec<&str> = preload
        .split([' ', ':'])
        .filter(|entry| !entry.is_empty() && Path::new(entry) != me)
        .collect();
    // SAFETY: the loader runs `.init_array` functions before `main`, on the
    // only thread, so nothing reads the environment meanwhile.
    unsafe {
        if others.is_empty() {
            std::env::remove_var("LD_PRELOAD");
        } else {
            std::env::set_var("LD_PRELOAD", others.join(" "));
        }
    }
}

/// This library's file, as the loader opened it.
fn own_path() -> Option<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::uninit();
    // SAFETY: `dladdr` reads the loader's tables and writes `info` when it
    // returns non-zero.
    if unsafe { libc::dladdr(init as *const libc::c_void, info.as_mut_ptr()) } == 0 {
        return None;
    }
    // SAFETY: it returned non-zero, so `info` is written; `dli_fname` is
    // null or a NUL-terminated name the loader keeps while the library is
    // loaded.
    let name = unsafe { info.assume_init() }.dli_fname;
    if name.is_null() {
        return None;
    }
    // SAFETY: as above.
    let name = unsafe { std::ffi::CStr::from_ptr(name) };
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes())))
}

/// Whether `exe` is in a `deps` folder under `target`, where cargo puts
/// test binaries.
fn in_deps_of(exe: &Path, target: &Path) -> bool {
    exe.starts_with(target) && exe.parent().and_then(Path::file_name) == Some("deps".as_ref())
}

/// Whether the executable runs libtest; read once, at its first test, so
/// that `--list` runs read nothing. What its std's `Once::call` is told to
/// the interposition then too.
fn is_libtest(out: &Out) -> bool {
    static LIBTEST: OnceLock<bool> = OnceLock::new();
    *LIBTEST.get_or_init(|| {
        let Some(exe) = EXE.get() else { return false };
        // SAFETY: `getauxval` has no preconditions.
        let entry = unsafe { libc::getauxval(libc::AT_ENTRY) } as usize;
        match Binary::read(exe, entry) {
            Ok(binary) => {
                if binary.libtest {
                    leakwatch_interpose::set_initializer_code(binary.once_call);
                }
                binary.libtest
            }
            Err(err) => {
                out.note(&format!("{err}: its tests are not checked"));
                false
            }
        }
    })
}

/// The object that defines `pthread_create` for the process, when it is
/// not this library: the executable links leakwatch's hooks itself.
fn hooks_defined_elsewhere() -> Option<String> {
    let which = |address: *const libc::c_void| {
        let mut info = std::mem::MaybeUninit::<libc::Dl_info>::uninit();
        // SAFETY: `dladdr` reads the loader's tables and writes `info`
        // when it returns non-zero.
        (unsafe { libc::dladdr(address, info.as_mut_ptr()) } != 0)
            // SAFETY: as above, it returned non-zero.
            .then(|| unsafe { info.assume_init() }.dli_fbase)
    };
    // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the process's
    // global scope as a call from the executable would bind.
    let bound = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"pthread_create".as_ptr()) };
    let mine = which(init as *const libc::c_void)?;
    let theirs = which(bound)?;
    (mine != theirs).then(|| {
        EXE.get()
            .map(|exe| exe.display().to_string())
            .unwrap_or_else(|| String::from("the executable"))
    })
}

/// The rules of a suppressions file, one per line, `#` comments.
fn read_suppressions(file: &Path) -> Result<Vec<Ignore>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| format!("cannot read suppressions {}: {err}", file.display()))?;
    Ignore::parse_lines(&text).map_err(|(line, err)| format!("{}:{line}: {err}", file.display()))
}
