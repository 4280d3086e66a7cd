//! The `leakwatch` binary against files, a live leakwatch endpoint on
//! 127.0.0.1, and inputs it must refuse with one line.

use std::net::TcpListener;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use leakwatch_core::Tag;
use leakwatch_export::{Capture, Filter};

use support::{flame, leakwatch, scratch};

mod support;

/// `http://127.0.0.1:PORT` of leakwatch's routes, serving this process.
fn endpoint() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, leakwatch_http::router::<()>()).await
            })
        });
        base
    })
}

/// A failed run: exit status `code` (2 for `diff`, 1 for the others),
/// nothing on stdout, one line on stderr.
fn one_line_error(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("leakwatch: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[inline(never)]
fn leak(n: usize) -> Vec<Tag> {
    (0..n)
        .map(|_| Tag::with_detail("cli-conn", "db:5432"))
        .collect()
}

#[test]
fn diff_of_two_files_points_at_the_site_that_grew() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let mut held = leak(1);
    let before = Filter::new().kind("cli-conn").apply(&Capture::now());
    held.extend(leak(4));
    let after = Filter::new().kind("cli-conn").apply(&Capture::now());
    let (a, b) = (scratch("a.json"), scratch("b.json"));
    std::fs::write(&a, before.to_json()).unwrap();
    std::fs::write(&b, after.to_json()).unwrap();
    let site = after.entries()[0].site().to_string();

    let out = leakwatch()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--fail-on-growth")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = stdout.lines().next().unwrap();
    assert!(first.trim_start().starts_with("+4"), "{stdout}");
    assert!(
        first.contains(&site) && first.contains("(1 -> 5, grew)"),
        "{stdout}"
    );
    drop(held);
}

#[test]
fn diff_reads_a_file_against_a_live_url_and_pprof_against_json() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let base = endpoint();
    let before = scratch("url-before.pb.gz");
    std::fs::write(
        &before,
        leakwatch_export::pprof::encode(&Filter::new().kind("cli-url").apply(&Capture::now())),
    )
    .unwrap();
    let line = line!() + 1;
    let held: Vec<Tag> = (0..3).map(|_| Tag::new("cli-url")).collect();

    let out = leakwatch()
        .arg("diff")
        .arg(&before)
        .arg(format!("{base}/debug/leaks/json?kind=cli-url"))
        .arg("--fail-on-growth")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = stdout.lines().next().unwrap();
    assert!(first.contains(&format!("{}:{line}:", file!())), "{stdout}");
    assert!(first.contains("(0 -> 3, appeared)"), "{stdout}");
    drop(held);
}

#[test]
fn flame_draws_the_sites_of_a_capture() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let held = leak(2);
    let json = scratch("flame.json");
    std::fs::write(
        &json,
        Filter::new()
            .kind("cli-conn")
            .apply(&Capture::now())
            .to_json(),
    )
    .unwrap();
    let drawn = flame(json.to_str().unwrap(), &scratch("leaks.svg"));
    assert!(
        drawn.starts_with("<?xml"),
        "{}",
        &drawn[..100.min(drawn.len())]
    );
    assert!(drawn.contains("cli-conn"));
    assert!(drawn.contains("tests/cli.rs:"));
    drop(held);
}

#[test]
fn top_once_prints_the_table_of_a_live_service() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let base = endpoint();
    let line = line!() + 1;
    let held: Vec<Tag> = (0..4).map(|_| Tag::new("cli-top")).collect();
    let out = leakwatch().args(["top", "--once", base]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = stdout
        .lines()
        .find(|l| l.contains("cli-top"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(row.trim_start().starts_with("4 "), "{stdout}");
    assert!(row.contains(&format!("{}:{line}:", file!())), "{stdout}");
    drop(held);
}

/// `leakwatch top` in a real terminal (tmux): shows the site, quits on `q`.
#[test]
fn top_in_a_terminal_shows_the_site_and_quits_on_q() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    if !Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        // CI installs it; elsewhere the test says why it did nothing.
        assert!(std::env::var_os("CI").is_none(), "CI needs `tmux` on PATH");
        eprintln!("skipped: `tmux` is not on PATH (Debian: apt-get install tmux)");
        return;
    }
    let base = endpoint();
    let line = line!() + 1;
    let held: Vec<Tag> = (0..2).map(|_| Tag::new("cli-tmux")).collect();
    let session = format!("leakwatch-top-{}", std::process::id());
    let bin = assert_cmd::cargo::cargo_bin("leakwatch");
    let done = scratch("top-exit");
    let _ = std::fs::remove_file(&done);
    let shell = format!(
        "{} top -n 200ms {base}; echo $? > {}",
        bin.display(),
        done.display()
    );
    let tmux = |args: &[&str]| Command::new("tmux").args(args).output().unwrap();
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "200",
        "-y",
        "40",
        &shell,
    ]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let site = format!("{}:{line}:", file!());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut screen = String::new();
    while Instant::now() < deadline && !screen.contains(&site) {
        std::thread::sleep(Duration::from_millis(100));
        screen = String::from_utf8(tmux(&["capture-pane", "-p", "-t", &session]).stdout).unwrap();
    }
    assert!(
        screen.contains(&site) && screen.contains("leakwatch top"),
        "{screen}"
    );
    tmux(&["send-keys", "-t", &session, "q"]);
    while Instant::now() < deadline && !done.exists() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = tmux(&["kill-session", "-t", &session]);
    let code = std::fs::read_to_string(&done).unwrap_or_default();
    assert_eq!(code.trim(), "0", "top did not exit on q");
    drop(held);
}

#[test]
fn a_missing_file_is_one_line() {
    let err = one_line_error(leakwatch().args(["flame", "/nonexistent/leaks.json"]), 1);
    assert!(err.contains("cannot read /nonexistent/leaks.json"), "{err}");
}

#[test]
fn a_file_of_another_format_is_one_line() {
    let junk = scratch("junk.txt");
    std::fs::write(&junk, "hello, world\n").unwrap();
    let err = one_line_error(leakwatch().arg("diff").arg(&junk).arg(&junk), 2);
    assert!(
        err.contains("neither a leakwatch capture (JSON) nor a pprof profile"),
        "{err}"
    );
    let bad_json = scratch("bad.json");
    std::fs::write(&bad_json, r#"{"leakwatch": 9, "items": []}"#).unwrap();
    let err = one_line_error(leakwatch().arg("flame").arg(&bad_json), 1);
    assert!(err.contains("format 9 is not supported"), "{err}");
}

#[test]
fn a_closed_port_is_one_line() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = one_line_error(
        leakwatch().args(["top", "--once", &format!("http://127.0.0.1:{port}")]),
        1,
    );
    assert!(
        err.contains(&format!("http://127.0.0.1:{port}/debug/leaks/json")),
        "{err}"
    );
}

#[test]
fn a_wrong_path_is_one_line_with_the_status() {
    let base = endpoint();
    let err = one_line_error(
        leakwatch().args(["diff", &format!("{base}/nothing"), "x"]),
        2,
    );
    assert!(err.contains("the server answered 404"), "{err}");
}

#[test]
fn a_server_that_does_not_answer_is_one_line_after_the_timeout() {
    // Accepts (the kernel's backlog) but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let started = Instant::now();
    let err = one_line_error(
        leakwatch().args(["top", "--once", "--timeout", "500ms", &url]),
        1,
    );
    assert!(err.contains("no answer within 500ms"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(silent);
}

#[test]
fn bad_arguments_are_refused_by_name() {
    let out = leakwatch()
        .args(["top", "--interval", "soon", "http://x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`soon` is not a duration"));
}

/// Runs `leakwatch ARGS`, which must exit with `code`, and returns stdout.
fn stdout_of(args: &[&str], code: i32) -> String {
    let out = leakwatch().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn diff_is_a_report_unless_asked_to_fail_on_growth() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    // One site, whatever the count.
    let gate = |n: usize| -> Vec<Tag> { (0..n).map(|_| Tag::new("cli-gate")).collect() };
    let mut held = gate(1);
    let before = Filter::new().kind("cli-gate").apply(&Capture::now());
    held.extend(gate(4));
    let after = Filter::new().kind("cli-gate").apply(&Capture::now());
    let (a, b) = (scratch("gate-a.json"), scratch("gate-b.json"));
    std::fs::write(&a, before.to_json()).unwrap();
    std::fs::write(&b, after.to_json()).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());

    // Without the flag the growth is reported, not failed.
    let report = stdout_of(&["diff", a, b], 0);
    assert!(report.contains("(1 -> 5, grew)"), "{report}");
    // The flag alone fails on any growth.
    let failed = stdout_of(&["diff", a, b, "--fail-on-growth"], 1);
    assert_eq!(failed, report);
    stdout_of(&["diff", "--fail-on-growth=0", a, b], 1);
    // Grew by 4: by more than 3, not by more than 4.
    stdout_of(&["diff", "--fail-on-growth", "3", a, b], 1);
    stdout_of(&["diff", a, b, "--fail-on-growth", "4"], 0);
    stdout_of(&["diff", "--fail-on-growth=4", a, b], 0);
    // Shrinking and no change are not growth.
    stdout_of(&["diff", b, a, "--fail-on-growth"], 0);
    assert_eq!(
        stdout_of(&["diff", a, a, "--fail-on-growth"], 0),
        "no change\n"
    );
    // A value that is not a count is refused by name, as a usage error.
    let out = leakwatch()
        .args(["diff", "--fail-on-growth", "some", a, b])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'some'") && stderr.contains("--fail-on-growth"),
        "{stderr}"
    );
    drop(held);
}

#[test]
fn help_of_each_command_ends_with_examples() {
    for (args, example) in [
        (&["--help"][..], "leakwatch top http://"),
        (
            &["top", "--help"][..],
            "leakwatch top --once --kind fd,thread",
        ),
        (&["diff", "--help"][..], "--fail-on-growth"),
        (&["flame", "--help"][..], "leakwatch flame http://"),
    ] {
        let help = stdout_of(args, 0);
        let examples = help
            .split_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("{args:?}: no examples in\n{help}"))
            .1;
        assert!(examples.contains(example), "{args:?}: {examples}");
    }
    let diff = stdout_of(&["diff", "--help"], 0);
    assert!(
        diff.contains("Exit status: 0") && diff.contains("--fail-on-growth [<N>]"),
        "{diff}"
    );
}

#[test]
fn diff_and_top_show_only_the_kinds_and_sites_asked_for() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let base = endpoint();
    let kept_line = line!() + 1;
    let kept: Vec<Tag> = (0..2).map(|_| Tag::new("cli-kept")).collect();
    let other: Vec<Tag> = (0..3).map(|_| Tag::new("cli-other")).collect();
    let kept_site = format!("{}:{kept_line}:", file!());

    let table = stdout_of(&["top", "--once", "--kind", "cli-kept,cli-none", base], 0);
    assert!(table.contains("kind=cli-kept,cli-none"), "{table}");
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(
        rows[0].trim_start().starts_with("2 ") && rows[0].contains(&kept_site),
        "{table}"
    );

    // A site's text matches anywhere inside it; the other kind's line does
    // not contain it.
    let table = stdout_of(&["top", "--once", "--site", &kept_site, base], 0);
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].contains("cli-kept"), "{table}");
    let table = stdout_of(&["top", "--once", "--site", "no/such/file.rs", base], 0);
    assert_eq!(table.lines().count(), 2, "{table}");

    // The diff sees only the kind asked for: what the other kind does
    // neither shows nor fails it.
    let empty = scratch("only-empty.json");
    std::fs::write(
        &empty,
        Filter::new()
            .kind("cli-none")
            .apply(&Capture::now())
            .to_json(),
    )
    .unwrap();
    let empty = empty.to_str().unwrap();
    let grown = stdout_of(
        &[
            "diff",
            "--kind",
            "cli-other",
            empty,
            base,
            "--fail-on-growth",
        ],
        1,
    );
    assert_eq!(grown.lines().count(), 1, "{grown}");
    assert!(
        grown.contains("cli-other") && grown.contains("(0 -> 3, appeared)"),
        "{grown}"
    );
    let none = stdout_of(
        &[
            "diff",
            "--kind",
            "cli-gone",
            empty,
            base,
            "--fail-on-growth",
        ],
        0,
    );
    assert_eq!(none, "no change\n");
    drop((kept, other));
}

#[test]
fn a_url_with_a_query_reads_the_json_route_with_that_query() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let base = endpoint();
    let held: Vec<Tag> = (0..2).map(|_| Tag::new("cli-query")).collect();
    let table = stdout_of(&["top", "--once", &format!("{base}?kind=cli-query")], 0);
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].contains("cli-query"), "{table}");
    let table = stdout_of(
        &[
            "top",
            "--once",
            &format!("{base}/debug/leaks?kind=cli-query"),
        ],
        0,
    );
    assert_eq!(table.lines().skip(2).count(), 1, "{table}");
    drop(held);
}

#[test]
fn an_https_url_is_refused_with_what_to_do_instead() {
    let err = one_line_error(
        leakwatch().args(["top", "--once", "https://127.0.0.1:6060"]),
        1,
    );
    assert!(
        err.contains("https://127.0.0.1:6060: https is not supported"),
        "{err}"
    );
    assert!(
        err.contains("no TLS stack") && err.contains("port"),
        "{err}"
    );
    let err = one_line_error(leakwatch().args(["diff", "https://h:1", "https://h:1"]), 2);
    assert!(err.contains("https is not supported"), "{err}");
}
