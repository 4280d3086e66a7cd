//! `cargo leakwatch test` on scratch crates that do not depend on
//! leakwatch: plain `#[test]`s leaking a file, a socket, a thread and a
//! child, each with a clean twin, and two tests sharing a static that
//! opens a file and starts a thread; under `cargo test` and under
//! cargo-nextest.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt as _;

const LEAKY: &str = r#"
use std::sync::{LazyLock, Mutex};

static PARKED: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());

static SHARED: LazyLock<(std::fs::File, std::thread::JoinHandle<()>)> = LazyLock::new(|| {
    let file = std::fs::File::open("Cargo.toml").unwrap();
    (file, std::thread::spawn(|| loop { std::thread::park() }))
});

#[test]
fn leaks_a_file_in_a_global() {
    let file = std::fs::File::open("Cargo.toml").unwrap(); // LEAK file
    PARKED.lock().unwrap().push(file);
}

#[test]
fn closes_its_file() {
    drop(std::fs::File::open("Cargo.toml").unwrap());
}

#[test]
fn leaks_a_socket() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap(); // LEAK socket
    std::mem::forget(listener);
}

#[test]
fn closes_its_socket() {
    drop(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
}

#[test]
fn leaks_a_thread() {
    std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(20))); // LEAK thread
}

#[test]
fn joins_its_thread() {
    std::thread::spawn(|| ()).join().unwrap();
}

#[test]
fn leaks_a_child() {
    let child = std::process::Command::new("sleep").arg("20").spawn().unwrap(); // LEAK child
    std::mem::forget(child);
}

#[test]
fn waits_for_its_child() {
    std::process::Command::new("true").status().unwrap();
}

#[test]
fn its_children_do_not_load_the_library() {
    let out = std::process::Command::new("sh")
        .args(["-c", "echo \"$LD_PRELOAD\""])
        .output()
        .unwrap();
    let preload = String::from_utf8_lossy(&out.stdout);
    assert!(!preload.contains("leakwatch_preload"), "{preload}");
}

#[test]
fn touches_the_shared_static() {
    let _ = &*SHARED;
}

#[test]
fn touches_the_shared_static_too() {
    let _ = &*SHARED;
}
"#;

const CLEAN: &str = r#"
#[test]
fn closes_its_file() {
    drop(std::fs::File::open("Cargo.toml").unwrap());
}

#[test]
fn joins_its_thread() {
    std::thread::spawn(|| ()).join().unwrap();
}

#[test]
fn waits_for_its_child() {
    std::process::Command::new("true").status().unwrap();
}
"#;

/// A crate named `name` in a folder of its own, with `tests/leaky.rs`
/// holding `tests`.
fn scratch_crate(name: &str, tests: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cargo-leakwatch-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    std::fs::write(dir.join("tests/leaky.rs"), tests).unwrap();
    dir
}

/// A target folder all runs share, beside this workspace's: the library
/// to preload is built there once.
fn target() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_cargo-leakwatch"));
    // `<target>/<profile>/cargo-leakwatch`
    exe.parent()
        .and_then(Path::parent)
        .expect("the binary is in a profile folder")
        .join("cargo-leakwatch-tests")
}

fn cargo_leakwatch(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::cargo_bin("cargo-leakwatch").unwrap();
    command
        .arg("leakwatch")
        .arg("test")
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target())
        .env_remove("LEAKWATCH")
        .env_remove("LEAKWATCH_GRACE")
        .env_remove("RUSTFLAGS");
    command.output().unwrap()
}

/// The line of `tests` whose comment is `// LEAK what`.
fn line_of(tests: &str, what: &str) -> u32 {
    tests_support::marker::line_of(tests, &format!("// LEAK {what}"))
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn nextest_installed() -> bool {
    let installed = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        installed || std::env::var_os("CI").is_none(),
        "CI is set and cargo-nextest is not installed"
    );
    installed
}

fn each_leak_named_at_its_line(runner: &str) {
    let dir = scratch_crate(&format!("leaky_{runner}"), LEAKY);
    let out = cargo_leakwatch(&dir, &["--runner", runner]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for (test, kind, what, detail) in [
        ("leaks_a_file_in_a_global", "fd", "file", "Cargo.toml"),
        ("leaks_a_socket", "fd", "socket", "tcp 127.0.0.1:"),
        ("leaks_a_thread", "thread", "thread", "tid "),
        ("leaks_a_child", "child", "child", "running: sleep 20"),
    ] {
        let line = line_of(LEAKY, what);
        let report = stdout
            .split("leakwatch: leaky ")
            .find(|part| part.starts_with(&format!("{test}:")))
            .unwrap_or_else(|| panic!("no report for {test}:\n{stdout}\n{stderr}"));
        assert!(
            report.contains(&format!("1 {kind} still open"))
                && report.contains(&format!("at tests/leaky.rs:{line}:")),
            "{test}'s report lacks its {kind} at line {line}:\n{report}"
        );
        assert!(
            report.contains(detail),
            "{test}: no `{detail}` in\n{report}"
        );
    }
    assert!(
        stdout.contains("11 tests checked in 1 binary: 4 tests leaked 4 items at 4 sites"),
        "{stdout}"
    );
    for clean in [
        "closes_its_file",
        "closes_its_socket",
        "joins_its_thread",
        "waits_for_its_child",
        "touches_the_shared_static",
    ] {
        assert!(
            !stdout.contains(&format!("leaky {clean}")),
            "{clean} is reported:\n{stdout}"
        );
    }
}

#[test]
fn cargo_test_names_each_leaking_test_at_its_line() {
    each_leak_named_at_its_line("cargo");
}

#[test]
fn nextest_names_each_leaking_test_at_its_line() {
    if nextest_installed() {
        each_leak_named_at_its_line("nextest");
    }
}

#[test]
fn a_clean_suite_passes() {
    let dir = scratch_crate("clean", CLEAN);
    for runner in ["cargo", "nextest"] {
        if runner == "nextest" && !nextest_installed() {
            continue;
        }
        let out = cargo_leakwatch(&dir, &["--runner", runner]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{runner}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("3 tests checked in 1 binary: no leaks"),
            "{runner}: {stdout}"
        );
    }
}

#[test]
fn suppressions_are_counted_and_unused_ones_named() {
    let dir = scratch_crate("suppressed", LEAKY);
    let rules = dir.join("known-leaks.txt");
    std::fs::write(
        &rules,
        "# children we start on purpose\nkind:child\nsite:nowhere.rs\n",
    )
    .unwrap();
    let json = dir.join("leaks.json");
    let html = dir.join("leaks.html");
    let out = cargo_leakwatch(
        &dir,
        &[
            "--runner",
            "cargo",
            "--suppressions",
            rules.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains("leaky leaks_a_child:"), "{stdout}");
    assert!(
        stdout.contains("leakwatch: suppressions used: 1: kind:child (1)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("leakwatch: unused suppression: site:nowhere.rs matched nothing"),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(summary["version"], 2);
    assert_eq!(summary["tests"].as_array().unwrap().len(), 3);
    assert_eq!(summary["sites"][0]["finding"], "still open");
    assert_eq!(summary["suppressions"][0]["used"], 1);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<svg") && page.contains("leaks_a_socket"),
        "{page}"
    );
}

/// A dependency outside the suite's workspace whose threads start threads
/// of their own: the stack of such a thread holds no frame of the suite,
/// only the dependency's, std's and libc's thread start.
const RELAY: &str = r#"
/// Starts a thread that starts a sleeper and ends at once.
pub fn start_relay() {
    std::thread::spawn(|| {
        std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(20))); // LEAK relayed
    })
    .join()
    .unwrap();
}

/// Starts a thread that starts a thread and joins it.
pub fn start_and_join() {
    std::thread::spawn(|| std::thread::spawn(|| ()).join().unwrap())
        .join()
        .unwrap();
}
"#;

const RELAYED: &str = r#"
#[test]
fn relays() {
    relay::start_relay();
}

#[test]
fn relays_joined() {
    relay::start_and_join();
}
"#;

#[test]
fn a_thread_a_dependency_thread_started_names_no_line_of_libc() {
    let dir = scratch_crate("relayed", RELAYED);
    let relay = dir.with_file_name(format!(
        "{}-relay",
        dir.file_name().unwrap().to_str().unwrap()
    ));
    let _ = std::fs::remove_dir_all(&relay);
    std::fs::create_dir_all(relay.join("src")).unwrap();
    std::fs::write(
        relay.join("Cargo.toml"),
        "[package]\nname = \"relay\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )
    .unwrap();
    std::fs::write(relay.join("src/lib.rs"), RELAY).unwrap();
    let manifest = dir.join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str(&format!(
        "\n[dependencies]\nrelay = {{ path = {:?} }}\n",
        relay.display().to_string()
    ));
    std::fs::write(&manifest, toml).unwrap();

    let out = cargo_leakwatch(&dir, &["--runner", "cargo"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let report = stdout
        .split("leakwatch: leaky ")
        .find(|part| part.starts_with("relays:"))
        .unwrap_or_else(|| panic!("no report for relays:\n{stdout}\n{stderr}"));
    let site = report
        .lines()
        .find(|l| l.contains("1 thread still open, spawned at"))
        .unwrap_or_else(|| panic!("no thread in\n{report}"));
    let line = line_of(RELAY, "relayed");
    assert!(
        site.contains(&format!("-relay/src/lib.rs:{line}:")),
        "not the relay's line {line}: {site}"
    );
    // No frame of the suite is on that thread's stack, so no line of the
    // suite is named; libc's thread start, whose debug info names its file
    // `./nptl/pthread_create.c`, is not the suite's code either.
    assert!(!site.contains(" via "), "{site}");
    assert!(
        stdout.contains("2 tests checked in 1 binary: 1 test leaked 1 item at 1 site"),
        "{stdout}"
    );
    assert!(!stdout.contains("leaky relays_joined:"), "{stdout}");
}

#[test]
fn a_bad_suppressions_file_is_named_with_its_line() {
    let dir = scratch_crate("bad_rules", CLEAN);
    let rules = dir.join("rules.txt");
    std::fs::write(&rules, "kind:thread\nthread\n").unwrap();
    let out = cargo_leakwatch(&dir, &["--suppressions", rules.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("rules.txt:2:"), "{stderr}");
}

#[test]
fn the_suites_settings_file_decides_verdicts() {
    let dir = scratch_crate("settings", LEAKY);
    std::fs::create_dir_all(dir.join(".config")).unwrap();
    std::fs::write(
        dir.join(".config/leakwatch.toml"),
        "ignore = [\"kind:child\", \"name:never-there\"]\n\n[detect]\nthreads = false\n",
    )
    .unwrap();
    let out = cargo_leakwatch(&dir, &["--runner", "cargo"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("11 tests checked in 1 binary: 2 tests leaked 2 items at 2 sites"),
        "{stdout}"
    );
    for (test, reported) in [
        ("leaks_a_file_in_a_global", true),
        ("leaks_a_socket", true),
        ("leaks_a_thread", false),
        ("leaks_a_child", false),
    ] {
        assert_eq!(
            stdout.contains(&format!("leakwatch: leaky {test}:")),
            reported,
            "{test}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("leakwatch: 1 finding ignored by .config/leakwatch.toml: kind:child"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "leakwatch: unused rule in .config/leakwatch.toml: name:never-there matched nothing"
        ),
        "{stdout}"
    );
}

#[test]
fn a_bad_settings_file_fails_the_run_naming_its_line_and_key() {
    let dir = scratch_crate("bad_settings", CLEAN);
    std::fs::create_dir_all(dir.join(".config")).unwrap();
    std::fs::write(
        dir.join(".config/leakwatch.toml"),
        "grace = \"1s\"\nignored = []\n",
    )
    .unwrap();
    let out = cargo_leakwatch(&dir, &["--runner", "cargo"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("leakwatch: error: .config/leakwatch.toml, line 2, `ignored`: unknown key"),
        "{stdout}"
    );
}

/// A scratch crate whose tests use `#[leakwatch::test]`, with leakwatch
/// as a dev-dependency from this workspace.
fn attribute_crate(name: &str, tests: &str) -> PathBuf {
    let facade = Path::new(env!("CARGO_MANIFEST_DIR")).join("../leakwatch");
    let dir = scratch_crate(name, tests);
    let manifest = dir.join("Cargo.toml");
    let toml = std::fs::read_to_string(&manifest).unwrap().replace(
        "[workspace]",
        &format!(
            "[dev-dependencies]\nleakwatch = {{ path = {:?} }}\n\n[workspace]",
            facade.canonicalize().unwrap()
        ),
    );
    std::fs::write(&manifest, toml).unwrap();
    dir
}

/// A suite that links leakwatch's own hooks: its `#[leakwatch::test]`
/// checks itself, and the preload, whose functions the executable's own
/// definitions hide, says so once rather than reporting it again.
#[test]
fn a_binary_with_leakwatchs_own_hooks_is_counted_once() {
    let dir = attribute_crate(
        "own_hooks",
        r#"
#[leakwatch::test]
fn leaks_a_file_under_the_attribute() {
    std::mem::forget(std::fs::File::open("Cargo.toml").unwrap()); // LEAK file
}
"#,
    );
    let out = cargo_leakwatch(&dir, &["--runner", "cargo"]);
    let (stdout, stderr) = text(&out);
    // The attribute's check fails the test: cargo test's status.
    assert_eq!(out.status.code(), Some(101), "{stdout}\n{stderr}");
    let reports = format!("{stdout}{stderr}")
        .lines()
        .filter(|l| l.starts_with("LEAK leakwatch: 1 item leaked"))
        .count();
    assert_eq!(reports, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("defines libc's functions itself"),
        "{stdout}"
    );
    assert!(stdout.contains("0 tests checked"), "{stdout}");
}

/// The tests that failed, from libtest's or cargo-nextest's output.
fn failed_tests(out: &Output) -> Vec<String> {
    let (stdout, stderr) = text(out);
    let mut failed: Vec<String> = format!("{stdout}{stderr}")
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            // libtest: `test name ... FAILED`
            if let Some(name) = line.strip_prefix("test ")
                && let Some(name) = name.strip_suffix(" ... FAILED")
            {
                return Some(name.to_owned());
            }
            // nextest: `FAIL [   0.3s] (1/3) crate::binary name`
            let rest = line.strip_prefix("FAIL [")?;
            Some(rest.rsplit(' ').next()?.to_owned())
        })
        .collect();
    failed.sort();
    failed.dedup();
    failed
}

/// The suite's settings file decides the same verdicts whichever way the
/// suite is run.
#[test]
fn the_same_rules_give_the_same_verdicts_under_every_runner() {
    let dir = attribute_crate(
        "verdicts",
        r#"
#[leakwatch::test]
fn keeps_a_child_the_file_ignores() {
    std::mem::forget(std::process::Command::new("sleep").arg("20").spawn().unwrap());
}

#[leakwatch::test]
fn keeps_a_file() {
    std::mem::forget(std::fs::File::open("Cargo.toml").unwrap());
}

#[leakwatch::test]
fn closes_its_file() {
    drop(std::fs::File::open("Cargo.toml").unwrap());
}
"#,
    );
    std::fs::create_dir_all(dir.join(".config")).unwrap();
    std::fs::write(
        dir.join(".config/leakwatch.toml"),
        "ignore = [\"kind:child\"]\n",
    )
    .unwrap();
    let direct = |args: &[&str]| {
        Command::new("cargo")
            .args(args)
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", target())
            .env_remove("LEAKWATCH")
            .env_remove("LEAKWATCH_GRACE")
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap()
    };
    let mut runs = vec![
        ("cargo test", direct(&["test"])),
        (
            "cargo leakwatch test --runner cargo",
            cargo_leakwatch(&dir, &["--runner", "cargo"]),
        ),
    ];
    if nextest_installed() {
        runs.push((
            "cargo nextest run",
            direct(&["nextest", "run", "--no-fail-fast"]),
        ));
        runs.push((
            "cargo leakwatch test --runner nextest",
            cargo_leakwatch(&dir, &["--runner", "nextest", "--no-fail-fast"]),
        ));
    }
    for (how, out) in &runs {
        let (stdout, stderr) = text(out);
        assert_eq!(
            failed_tests(out),
            ["keeps_a_file"],
            "{how}:\n{stdout}\n{stderr}"
        );
    }
}

/// The command depends on leakwatch-preload only for its source folder:
/// none of its hooks may be linked into the command itself, which runs
/// cargo.
#[test]
fn the_command_itself_defines_no_libc_function() {
    for exe in [
        env!("CARGO_BIN_EXE_cargo-leakwatch"),
        env!("CARGO_BIN_EXE_leakwatch"),
    ] {
        let out = Command::new("nm")
            .args(["-D", "--defined-only", exe])
            .output()
            .expect("nm (binutils) is installed");
        assert!(out.status.success());
        let symbols = String::from_utf8_lossy(&out.stdout);
        for hook in ["open64", "pthread_create", "posix_spawnp", "close"] {
            assert!(
                !symbols.lines().any(|l| l.ends_with(&format!(" {hook}"))),
                "{exe} defines {hook}"
            );
        }
    }
}

/// A library named by `LEAKWATCH_PRELOAD_LIB` that is not there is
/// refused as leakwatch's page of messages shows.
#[test]
fn a_missing_preload_library_is_named() {
    const PAGE: &str = include_str!("../../leakwatch/docs/messages.md");
    let (_, after) = PAGE
        .split_once("<!-- message: bad-preload-lib -->\n```text\n")
        .expect("the page shows bad-preload-lib");
    let shown = after.lines().next().unwrap();
    let dir = scratch_crate("missing_lib", CLEAN);
    let mut command = Command::cargo_bin("cargo-leakwatch").unwrap();
    let out = command
        .args(["leakwatch", "test"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", target())
        .env(
            "LEAKWATCH_PRELOAD_LIB",
            "/nonexistent/libleakwatch_preload.so",
        )
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains(shown), "`{shown}` not in:\n{stderr}");
}
