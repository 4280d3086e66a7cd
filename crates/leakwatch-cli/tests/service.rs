//! The example service of `leakwatch-http`, served in this process with
//! libc interposed as in its debug build.
//!
//! `leakwatch flame` on it under its load, at `LEAKWATCH=stacks`: the graph
//! shows the handler that leaks, and the picture in docs/production.md
//! (`docs/flame.svg`) is this test's output, so it cannot drift from the
//! service it claims to show.
//!
//! Its keep handler's plain `std::fs::File` and `std::net::TcpStream`, seen
//! as production sees them: `go tool pprof -top` puts both at the
//! handler's function, `leakwatch top --once` lists them (with the
//! process's threads) and the metrics count them, and the long-held
//! watchdog warns about each once.
//!
//! This binary is named `service`, as the example's is, so the frames of
//! `service/app.rs` read here as they do in the example
//! (`service::app::order`). To redraw the picture after the service or its
//! dependencies change:
//!
//! ```text
//! LEAKWATCH_BLESS=1 cargo test -p leakwatch-cli --test service
//! ```

#[path = "../../leakwatch-http/examples/service/app.rs"]
mod app;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use leakwatch_export::metrics::LeakMetrics;

/// Taken by each test: each sets the level, which is the process's.
static LEVEL: Mutex<()> = Mutex::new(());

fn level(level: leakwatch_core::Level) -> MutexGuard<'static, ()> {
    let guard = LEVEL.lock().unwrap_or_else(PoisonError::into_inner);
    leakwatch_core::set_level(level);
    guard
}

/// A runtime whose threads start inside a scope and stay in it, as the
/// example's `main` builds it: what they open has its stack taken, so a
/// descriptor opened by plain `std` code is named by its line.
fn runtime() -> tokio::runtime::Runtime {
    leakwatch_core::Scope::new("checkout").run(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Serves the example's routes, with `metrics`, on 127.0.0.1 on the
/// workers of `runtime`; returns `http://127.0.0.1:PORT`.
fn serve(runtime: &tokio::runtime::Runtime, metrics: LeakMetrics) -> String {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes = app::app(metrics);
        tokio::spawn(async move { axum::serve(listener, routes).await });
        base
    })
}

/// The body of `GET url`, which must answer 200.
fn get(url: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// The value of the sample `name` in Prometheus text, 0 when absent.
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// `service/app.rs:LINE:` of the first line of the example's source that
/// contains `code`.
fn app_site(code: &str) -> String {
    let source = include_str!("../../leakwatch-http/examples/service/app.rs");
    let line = source
        .lines()
        .position(|l| l.contains(code))
        .unwrap_or_else(|| panic!("`{code}` is not in service/app.rs"))
        + 1;
    format!("service/app.rs:{line}:")
}

/// Whether `go` runs; in CI it must.
fn go_found() -> bool {
    let found = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        // CI installs it; elsewhere the test says what it left out.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs `go` on PATH (golang-go)"
        );
        eprintln!(
            "`go tool pprof` left out: `go` is not on PATH (Debian: apt-get install golang-go)"
        );
    }
    found
}

/// The picture docs/production.md shows.
fn docs_svg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/flame.svg")
}

/// Each frame's tooltip (`name (N items, P%)`), bottom up, as inferno
/// writes them: what the graph shows, without its layout.
fn frames(svg: &str) -> Vec<String> {
    svg.split("<title>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</title>").map(|(t, _)| t.to_owned()))
        .collect()
}

#[test]
fn the_flame_graph_of_the_example_service_shows_the_leaking_handler() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let _level = level(leakwatch_core::Level::Stacks);
    let runtime = runtime();
    // The runtime's workers keep serving after `block_on` returns.
    let base = serve(&runtime, LeakMetrics::new());
    runtime
        .block_on(app::load(&base, 1000, 4))
        .expect("the load runs");

    // The connections only: the process's descriptors and threads are in
    // the live view too, and differ from run to run.
    let svg = support::scratch("flame.svg");
    let drawn = support::flame(&format!("{base}/debug/leaks/json?kind=db-conn"), &svg);
    let shown = frames(&drawn);

    // One in a hundred of 1000 orders leaks its connection: all ten come
    // from the handler's checkout, so its frames span the whole graph.
    for frame in [
        "db-conn (10 items, 100.00%)",
        "service::app::order::{{closure}} (10 items, 100.00%)",
        "service::app::Pool::checkout (10 items, 100.00%)",
    ] {
        assert!(
            shown.iter().any(|f| f == frame),
            "{frame} not in {shown:#?}"
        );
    }
    assert!(
        drawn.len() < 300_000,
        "{} bytes: too large for docs/production.md",
        drawn.len()
    );

    if std::env::var_os("LEAKWATCH_BLESS").is_some() {
        std::fs::write(docs_svg(), &drawn).unwrap();
    }
    let committed = std::fs::read_to_string(docs_svg()).unwrap_or_default();
    assert_eq!(
        frames(&committed),
        shown,
        "docs/flame.svg no longer shows the example service's frames; redraw it with \
         LEAKWATCH_BLESS=1 cargo test -p leakwatch-cli --test service"
    );
    std::fs::remove_file(&svg).ok();
}

#[test]
fn a_plain_file_and_connection_kept_by_a_handler_are_seen_where_production_looks() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let _level = level(leakwatch_core::Level::Sites);
    let log = tests_support::log::Log::installed();
    let metrics = LeakMetrics::new();
    let _watchdog = app::watchdog("db-conn=1s,fd=1s".parse().unwrap(), &metrics);
    let runtime = runtime();
    let base = serve(&runtime, metrics);
    let (file, tcp) = (
        app_site("std::fs::File::open("),
        app_site("std::net::TcpStream::connect("),
    );
    let live = |kind: &str| {
        let text = get(&format!("{base}/debug/leaks/metrics"));
        sample(
            &text,
            &format!("leakwatch_live_items{{kind=\"fd\",type=\"{kind}\"}}"),
        )
    };
    let (files, sockets) = (live("file"), live("tcp"));

    assert_eq!(get(&format!("{base}/keep")), "kept\n");

    // The metrics: one more file; the kept connection's two ends.
    assert_eq!(live("file"), files + 1);
    assert!(
        live("tcp") >= sockets + 2,
        "{} after {sockets}",
        live("tcp")
    );

    // `leakwatch top`: one `fd` row at each line, and the threads.
    let out = support::leakwatch()
        .args(["top", "--once", &base])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    for site in [&file, &tcp] {
        let row = rows
            .iter()
            .find(|r| r.last().is_some_and(|s| s.contains(site.as_str())))
            .unwrap_or_else(|| panic!("no row at {site} in\n{table}"));
        assert_eq!((row[0], row[4]), ("1", "fd"), "{table}");
    }
    assert!(rows.iter().any(|r| r.get(4) == Some(&"thread")), "{table}");

    // `go tool pprof -top`: both under the handler's function.
    if go_found() {
        let out = Command::new("go")
            .args(["tool", "pprof", "-top"])
            .arg(format!("{base}/debug/leaks/pprof"))
            .env("PPROF_TMPDIR", std::env::temp_dir())
            .output()
            .expect("go tool pprof runs");
        let top = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{top}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let row = top
            .lines()
            .find(|l| l.trim_end().ends_with("service::app::keep::{{closure}}"))
            .unwrap_or_else(|| panic!("the handler is not in\n{top}"));
        // flat flat% sum% cum cum% function: both items are below it.
        assert_eq!(row.split_whitespace().nth(3), Some("2"), "{top}");
    }

    // The watchdog: one warning for each, past its threshold, however
    // many times it looks after that.
    let warned = |site: &str| {
        log.lines("WARN", "past its threshold")
            .into_iter()
            .filter(|l| l.contains("fd held for") && l.contains(site))
            .count()
    };
    let start = Instant::now();
    while (warned(&file) == 0 || warned(&tcp) == 0) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // A look is every quarter of the shortest threshold: a few more.
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!((warned(&file), warned(&tcp)), (1, 1), "{}", log.text());
    let text = get(&format!("{base}/debug/leaks/metrics"));
    assert!(
        sample(&text, r#"leakwatch_long_held_total{kind="fd"}"#) >= 2,
        "{text}"
    );
}
