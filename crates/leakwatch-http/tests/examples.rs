//! The hyper and actix-web examples, run as the programs they are: each
//! answers `/debug/leaks` and its JSON and metrics forms. (The side port of
//! `serve` answers them in `side_port.rs`.)
//!
//! `cargo test` builds the examples beside the tests, in
//! `target/<profile>/examples/`; a run that built only the tests
//! (`cargo test --tests`) fails here saying so.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use leakwatch_export::Capture;

/// An example's process, killed (by its pid) when dropped.
struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary `cargo test` built for example `name`: this test's binary
/// is `target/<profile>/deps/examples-HASH`, the examples are in
/// `target/<profile>/examples/`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary is in target/<profile>/deps");
    let path = profile
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo test -p leakwatch-http`, which builds the examples \
         (`--tests` alone does not)",
        path.display()
    );
    path
}

/// Starts example `name` on a free port of 127.0.0.1 and reads the URL it
/// prints first.
fn start(name: &str) -> Running {
    let mut child = Command::new(example(name))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
    let mut first = String::new();
    let read = BufReader::new(child.stdout.take().unwrap()).read_line(&mut first);
    let base = first
        .trim()
        .strip_prefix("leaks at ")
        .and_then(|url| url.strip_suffix("/debug/leaks"))
        .map(str::to_owned);
    match (read, base) {
        (Ok(_), Some(base)) => Running { child, base },
        (read, _) => {
            let _ = child.kill();
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("example {name} printed {first:?} ({read:?}), not its URL; stderr: {stderr}");
        }
    }
}

/// Status, content type and body of `GET url`.
fn get(url: &str) -> (u16, String, String) {
    let (status, content_type, body) = tests_support::http::get(url);
    (status, content_type, String::from_utf8(body).unwrap())
}

/// The three text routes of the example `name`, titled `name`.
fn answers_the_routes(name: &str) {
    let running = start(name);
    let base = &running.base;

    let (status, content_type, report) = get(&format!("{base}/debug/leaks"));
    assert_eq!(status, 200, "{report}");
    assert_eq!(content_type, "text/plain; charset=utf-8");
    assert!(report.contains(&format!("`{name}`")), "{report}");

    let (status, content_type, json) = get(&format!("{base}/debug/leaks/json"));
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    // The versioned capture `leakwatch` reads, of a process that holds no
    // tracked item.
    let capture = Capture::from_json(&json).unwrap_or_else(|e| panic!("{e}: {json:.300}"));
    assert!(capture.entries().is_empty(), "{json:.600}");

    let (status, content_type, metrics) = get(&format!("{base}/debug/leaks/metrics"));
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(
        metrics.contains("# TYPE leakwatch_sample_period gauge") && metrics.ends_with("# EOF\n"),
        "{metrics}"
    );

    let (status, _, _) = get(&format!("{base}/debug/leaks/nothing"));
    assert_eq!(status, 404);
}

#[test]
fn the_hyper_example_answers_the_routes() {
    answers_the_routes("hyper");
}

#[test]
fn the_actix_example_answers_the_routes() {
    answers_the_routes("actix");
}
