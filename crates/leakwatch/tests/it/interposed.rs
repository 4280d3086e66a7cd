//! Descriptors, threads and child processes that plain std code creates,
//! seen through libc interposition and reported by the same check as
//! leakwatch's own items. The leaky tests fail on purpose, so they are
//! `#[ignore]`d and run in a child process by a parent test here.

use std::fs::File;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use leakwatch::Scope;
use leakwatch::integration::Finding;

use crate::support::child::{self, Rerun};

/// A library-style module that knows nothing of leakwatch: it keeps what
/// it opens in a global, as caches and connection pools do.
mod library {
    use std::fs::File;
    use std::sync::Mutex;

    pub static KEPT: Mutex<Vec<File>> = Mutex::new(Vec::new());

    /// The line of the `File::open` below.
    pub const OPEN_LINE: u32 = line!() + 3;

    pub fn open_config() {
        let file = File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
        KEPT.lock().unwrap().push(file);
    }
}

/// Threads and children the leaky tests leave behind on purpose.
static LEFT: Mutex<Vec<std::process::Child>> = Mutex::new(Vec::new());

fn sleeper(seconds: &str) -> Command {
    let mut command = Command::new("sleep");
    // Not the test's stdout and stderr: the parent reads them to the end.
    command
        .arg(seconds)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn file_parked_in_a_global_fails() {
    library::open_config();
}

#[test]
fn a_plain_file_parked_in_a_global_fails_the_test_with_its_path_and_line() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    // At `LEAKWATCH=stacks` the stack taken at `open` names the line.
    let run = child::run(
        module_path!(),
        "file_parked_in_a_global_fails",
        &[("LEAKWATCH", "stacks")],
    );
    assert!(!run.passed, "{}", run.output);
    let site = format!(
        "LEAK   1 fd still open, opened at crates/leakwatch/tests/it/interposed.rs:{}:",
        library::OPEN_LINE
    );
    assert!(run.output.contains(&site), "{site}\n{}", run.output);
    assert!(
        run.output.contains(&format!("LEAK     file {path} (fd ")),
        "{}",
        run.output
    );
    assert!(
        run.output
            .contains("panicked at crates/leakwatch/tests/it/interposed.rs:"),
        "{}",
        run.output
    );
    // At the default level the report names the same line, without the
    // stack.
    let run = child::run(module_path!(), "file_parked_in_a_global_fails", &[]);
    assert!(!run.passed, "{}", run.output);
    assert!(run.output.contains(&site), "{site}\n{}", run.output);
    assert!(!run.output.contains("LEAK     stack:"), "{}", run.output);
    assert!(
        run.output.contains(&format!("file {path}")),
        "{}",
        run.output
    );
}

#[leakwatch::test(grace = "10s")]
fn a_plain_file_closed_in_time_passes() {
    let file = File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    drop(file);
    // Closed by another thread within the grace: also clean.
    let file = File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        drop(file);
    });
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn plain_thread_never_joined_fails() {
    std::thread::Builder::new()
        .name("stuck-worker".into())
        .spawn(|| std::thread::sleep(Duration::from_secs(600)))
        .unwrap();
}

#[test]
fn a_plain_thread_never_joined_fails_the_test_with_its_name() {
    let run = child::run(
        module_path!(),
        "plain_thread_never_joined_fails",
        &[("LEAKWATCH", "stacks")],
    );
    assert!(!run.passed, "{}", run.output);
    assert!(
        run.output.contains(
            "LEAK   1 thread still open, spawned at crates/leakwatch/tests/it/interposed.rs:"
        ),
        "{}",
        run.output
    );
    assert!(
        run.output.contains("LEAK     'stuck-worker' (tid "),
        "{}",
        run.output
    );
}

#[leakwatch::test]
fn a_plain_thread_joined_passes() {
    let worker = std::thread::Builder::new()
        .name("joined-worker".into())
        .spawn(|| File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).is_ok())
        .unwrap();
    assert!(worker.join().unwrap());
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn child_never_waited_fails() {
    let child = sleeper("5").spawn().unwrap();
    LEFT.lock().unwrap().push(child);
}

#[test]
fn a_child_never_waited_for_fails_the_test_with_its_pid_and_command() {
    let run = child::run(module_path!(), "child_never_waited_fails", &[]);
    assert!(!run.passed, "{}", run.output);
    assert!(
        run.output.contains("LEAK   1 child still open"),
        "{}",
        run.output
    );
    let detail = run
        .output
        .lines()
        .find(|l| l.starts_with("LEAK     pid "))
        .unwrap_or_else(|| panic!("no pid line:\n{}", run.output));
    assert!(detail.ends_with(" running: sleep 5"), "{detail}");
}

#[leakwatch::test]
fn a_child_waited_for_passes() {
    let status = sleeper("0").status().unwrap();
    assert!(status.success());
    let mut child = sleeper("0").spawn().unwrap();
    child.wait().unwrap();
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn zombie_child_fails() {
    let child = Command::new("true").spawn().unwrap();
    // Let it exit: it stays a zombie until waited for.
    std::thread::sleep(Duration::from_millis(200));
    LEFT.lock().unwrap().push(child);
}

#[test]
fn a_zombie_child_is_reported_as_one() {
    let run = child::run(module_path!(), "zombie_child_fails", &[]);
    assert!(!run.passed, "{}", run.output);
    let detail = run
        .output
        .lines()
        .find(|l| l.starts_with("LEAK     pid "))
        .unwrap_or_else(|| panic!("no pid line:\n{}", run.output));
    assert!(detail.ends_with(" zombie: true"), "{detail}");
}

#[leakwatch::test(grace = "20ms", ignore = "kind:fd, name:bg-flusher")]
fn ignore_rules_leave_out_descriptors_and_threads() {
    library::open_config();
    std::thread::Builder::new()
        .name("bg-flusher".into())
        .spawn(|| std::thread::sleep(Duration::from_secs(600)))
        .unwrap();
}

/// The fds and threads leakwatch's wrappers track are reported once, as
/// the wrappers' items; what was open before the scope began is never
/// counted.
#[test]
fn wrapped_items_are_reported_once_and_earlier_ones_never() {
    let before = File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let scope = Scope::new("wrapped");
    scope.check().unwrap();

    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let (file, thread) = scope.run(|| {
        let file =
            leakwatch::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
        let thread = leakwatch::thread::Builder::new()
            .name("wrapped-worker".into())
            .spawn(move || blocked.recv())
            .unwrap();
        (file, thread)
    });
    let report = scope.check().unwrap_err();
    let kinds: Vec<(&str, usize)> = report
        .groups()
        .iter()
        .map(|g| (g.kind(), g.count()))
        .collect();
    assert_eq!(report.total(), 2, "{report}");
    assert!(kinds.contains(&("file", 1)), "{report}");
    assert!(kinds.contains(&("thread", 1)), "{report}");
    drop(release);
    thread.join().unwrap().unwrap_err();
    drop(file);
    scope.check_within(Duration::from_secs(10)).unwrap();
    drop(before);
}

/// A plain `Scope` sees plain std items with no leakwatch call made first.
#[test]
fn a_scope_check_sees_plain_std_items() {
    let scope = Scope::new("plain");
    let (reader, writer) = scope.run(std::io::pipe).unwrap();
    let report = scope.check().unwrap_err();
    let group = &report.groups()[0];
    assert_eq!((group.kind(), group.count()), ("fd", 2), "{report}");
    assert_eq!(group.finding(), Finding::StillOpen);
    assert!(
        group.details().iter().all(|d| d.starts_with("pipe inode ")),
        "{report}"
    );
    drop((reader, writer));
    scope.check().unwrap();
}

/// A file passed to `into_raw_fd` is still open until closed by number;
/// closed, the scope is clean.
#[test]
fn a_file_given_up_with_into_raw_fd_is_reported_until_closed() {
    use std::os::fd::{FromRawFd, IntoRawFd};

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let scope = Scope::new("raw");
    let fd = scope.run(|| File::open(path).unwrap().into_raw_fd());
    let report = scope.check().unwrap_err();
    assert_eq!(report.total(), 1, "{report}");
    assert_eq!(report.groups()[0].kind(), "fd", "{report}");
    assert_eq!(
        report.groups()[0].details(),
        [format!("file {path} (fd {fd})")],
        "{report}"
    );
    // SAFETY: `fd` came from `into_raw_fd` above and is owned by nothing
    // else; the `File` closes it once.
    drop(unsafe { File::from_raw_fd(fd) });
    scope.check().unwrap();
}

// ---- parallel tests in one process, half leaky through plain std ----

/// Leaks a file named after `name` and a thread named `name`: what a
/// leaky parallel test does.
fn leak_file_and_thread(name: &str) {
    let path = std::env::temp_dir().join(format!("leakwatch-{name}-{}", std::process::id()));
    let file = File::create(&path).unwrap();
    library::KEPT.lock().unwrap().push(file);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(|| std::thread::sleep(Duration::from_secs(600)))
        .unwrap();
    // Overlap with the other tests.
    std::thread::sleep(Duration::from_millis(100));
}

/// Opens and closes the same, overlapping with the leaky ones.
fn open_and_close(name: &str) {
    let path = std::env::temp_dir().join(format!("leakwatch-{name}-{}", std::process::id()));
    let file = File::create(&path).unwrap();
    let worker = std::thread::Builder::new()
        .name(name.into())
        .spawn(|| std::thread::sleep(Duration::from_millis(100)))
        .unwrap();
    worker.join().unwrap();
    drop(file);
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "run in parallel by a parent test in a child process"]
fn par_leaky_a() {
    leak_file_and_thread("par-leaky-a");
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "run in parallel by a parent test in a child process"]
fn par_leaky_b() {
    leak_file_and_thread("par-leaky-b");
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "run in parallel by a parent test in a child process"]
fn par_clean_c() {
    open_and_close("par-clean-c");
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "run in parallel by a parent test in a child process"]
fn par_clean_d() {
    open_and_close("par-clean-d");
}

#[leakwatch::test(grace = "20ms", fds = false, threads = false)]
#[ignore = "run in parallel by a parent test in a child process"]
fn par_off_leaky() {
    leak_file_and_thread("par-off-leaky");
}

#[leakwatch::test(grace = "20ms", fds = false, threads = false)]
#[ignore = "run in parallel by a parent test in a child process"]
fn par_off_clean() {
    open_and_close("par-off-clean");
    std::thread::sleep(Duration::from_millis(100));
}

/// Runs the ignored tests whose names start with `prefix` in parallel in
/// a child process; each failed test's captured output by name, and the
/// whole output.
fn run_parallel(prefix: &str, env: &[(&str, &str)]) -> (Vec<(String, String)>, String) {
    let run = Rerun::new()
        .args(["--ignored", prefix, "--test-threads=4"])
        .envs(env)
        .run();
    (run.sections().into_iter().collect(), run.output)
}

#[test]
fn parallel_tests_are_each_blamed_for_exactly_their_own() {
    let prefix = format!("{}::par_", module_path!().split_once("::").unwrap().1);
    let (failed, output) = run_parallel(&format!("{prefix}leaky"), &[]);
    // The clean twins run in the same process at the same time.
    let (clean_failed, clean_output) = run_parallel(&format!("{prefix}clean"), &[]);
    assert!(clean_failed.is_empty(), "{clean_output}");
    for name in ["a", "b"] {
        let test = format!("{prefix}leaky_{name}");
        let (_, report) = failed
            .iter()
            .find(|(n, _)| *n == test)
            .unwrap_or_else(|| panic!("`{test}` did not fail:\n{output}"));
        let mine = format!("par-leaky-{name}");
        let other = format!("par-leaky-{}", if name == "a" { "b" } else { "a" });
        assert!(report.contains("LEAK   1 fd still open"), "{report}");
        assert!(report.contains("LEAK   1 thread still open"), "{report}");
        assert!(report.contains(&format!("/leakwatch-{mine}-")), "{report}");
        assert!(report.contains(&format!("'{mine}' (tid ")), "{report}");
        assert!(
            !report.contains(&other),
            "{test} blamed for {other}:\n{report}"
        );
    }
    assert_eq!(failed.len(), 2, "{output}");

    // Together: the leaky ones fail, the clean ones pass.
    let (failed, output) = run_parallel(&prefix, &[]);
    let mut names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [format!("{prefix}leaky_a"), format!("{prefix}leaky_b")],
        "{output}"
    );
}

#[test]
fn with_attribution_off_no_test_is_blamed_and_the_report_says_so() {
    let prefix = format!("{}::par_off_", module_path!().split_once("::").unwrap().1);
    let run = Rerun::new()
        .args(["--ignored", &prefix, "--test-threads=2", "--nocapture"])
        .run();
    let output = run.output;
    assert!(run.passed, "{output}");
    assert!(!output.contains("still open"), "{output}");
    let note = output
        .lines()
        .find(|l| l.contains("leakwatch: cannot attribute: the process has "))
        .unwrap_or_else(|| panic!("no cannot-attribute note:\n{output}"));
    assert!(note.contains("but attribution is switched off"), "{note}");
    assert!(note.contains("no test is blamed for them"), "{note}");
    assert!(note.contains("tests running meanwhile: `it::"), "{note}");
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "fails or passes by the environment: run by a parent test"]
fn leaks_a_file_for_the_environment() {
    library::open_config();
}

#[test]
fn leakwatch_detect_switches_kinds_off_and_names_a_bad_value() {
    let run = child::run(
        module_path!(),
        "leaks_a_file_for_the_environment",
        &[("LEAKWATCH_DETECT", "-fd")],
    );
    assert!(run.passed, "{}", run.output);
    assert!(
        run.output
            .contains("leakwatch: cannot attribute: the process has 1 descriptor more open"),
        "{}",
        run.output
    );
    let run = child::run(
        module_path!(),
        "leaks_a_file_for_the_environment",
        &[("LEAKWATCH_DETECT", "-sockets")],
    );
    assert!(!run.passed, "{}", run.output);
    assert!(
        run.output.contains(
            "leakwatch: error: LEAKWATCH_DETECT=`-sockets` is not valid: `-sockets` is not a kind"
        ),
        "{}",
        run.output
    );
    let run = child::run(
        module_path!(),
        "leaks_a_file_for_the_environment",
        &[("LEAKWATCH_DETECT", "-thread,-child")],
    );
    assert!(!run.passed, "{}", run.output);
    assert!(
        run.output.contains("LEAK   1 fd still open"),
        "{}",
        run.output
    );
}

/// The README's example: a descriptor and a thread leaked through plain std
/// code in a module that knows nothing of leakwatch.
mod cache {
    use std::fs::File;
    use std::sync::{Mutex, mpsc};

    static OPEN: Mutex<Vec<File>> = Mutex::new(Vec::new());
    static WORKERS: Mutex<Vec<mpsc::Sender<()>>> = Mutex::new(Vec::new());

    pub fn warm_up(path: &str) {
        OPEN.lock().unwrap().push(File::open(path).unwrap());
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("cache-refresher".into())
            .spawn(move || stopped.recv())
            .unwrap();
        WORKERS.lock().unwrap().push(stop);
    }
}

#[leakwatch::test]
#[ignore = "fails on purpose: the README's example, run by a parent test"]
fn warms_the_cache() {
    cache::warm_up("Cargo.toml");
}

#[test]
fn the_readme_example_reports_the_path_the_thread_and_the_lines() {
    let run = child::run(
        module_path!(),
        "warms_the_cache",
        &[("LEAKWATCH", "stacks")],
    );
    assert!(!run.passed, "{}", run.output);
    for expected in [
        "LEAK leakwatch: 2 items leaked in `it::interposed::warms_the_cache` (2 sites)",
        "LEAK   1 fd still open, opened at crates/leakwatch/tests/it/interposed.rs:",
        "/crates/leakwatch/Cargo.toml (fd ",
        "LEAK   1 thread still open, spawned at crates/leakwatch/tests/it/interposed.rs:",
        "LEAK     'cache-refresher' (tid ",
        "→ it::interposed::warms_the_cache at crates/leakwatch/tests/it/interposed.rs:",
    ] {
        assert!(run.output.contains(expected), "{expected}\n{}", run.output);
    }
}

/// Opens `Cargo.toml` by a raw system call, which no hook sees.
fn open_unseen() -> i32 {
    let path = std::ffi::CString::new(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    // SAFETY: a valid NUL-terminated path; the caller owns the descriptor.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    } as i32;
    assert!(fd >= 0);
    fd
}

#[leakwatch::test]
#[ignore = "passes with a note: run by a parent test in a child process"]
fn an_unseen_descriptor_left_open_is_noted() {
    // Never closed: kept for the life of the child process.
    let _kept = open_unseen();
}

#[leakwatch::test]
#[ignore = "run by a parent test in a child process"]
fn an_unseen_descriptor_closed_in_time_is_not_noted() {
    // SAFETY: closes the descriptor just opened, by a raw system call.
    unsafe { libc::syscall(libc::SYS_close, open_unseen()) };
}

/// A descriptor made by a raw system call (rustix's `linux_raw` backend,
/// io_uring) is seen by no hook: a test that leaves one open is not blamed,
/// but its end says what the process gained that nobody can be charged
/// with, with the file's path.
#[test]
fn descriptors_no_hook_saw_are_noted_never_charged() {
    if leakwatch::integration::support() != leakwatch::integration::Support::Active {
        return;
    }
    let run = child::run(
        module_path!(),
        "an_unseen_descriptor_left_open_is_noted",
        &[],
    );
    assert!(run.passed, "{}", run.output);
    let note = "leakwatch: cannot attribute: 1 descriptor opened while \
                `it::interposed::an_unseen_descriptor_left_open_is_noted` ran was made where no \
                hook sees";
    assert!(run.output.contains(note), "{}", run.output);
    assert!(
        run.output.contains(concat!(
            "file ",
            env!("CARGO_MANIFEST_DIR"),
            "/Cargo.toml (fd "
        )),
        "{}",
        run.output
    );
    let run = child::run(
        module_path!(),
        "an_unseen_descriptor_closed_in_time_is_not_noted",
        &[],
    );
    assert!(run.passed, "{}", run.output);
    assert!(!run.output.contains("cannot attribute"), "{}", run.output);
}
