//! Statics shared by tests running in parallel: a tokio runtime, a reqwest
//! client, an sqlx pool and rayon's global pool, each started by whichever
//! test touches it first. In each group of 16 tests, run together in one
//! child process, the clean half passes (what the static's initializer
//! opened or started is the process's, not the first test's) and each leaky
//! test fails with exactly its own items, nothing of the static's nor of
//! the other tests'.
//!
//! The tests of a group are `#[ignore]`d (half fail on purpose) and run by
//! a driver test below, all 16 at once (`--test-threads=16`); each waits for
//! the others to start before it opens anything, so their scopes overlap.

#![cfg(all(leakwatch_hooks, debug_assertions))]

mod support;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use rayon::iter::{IntoParallelIterator, ParallelIterator};
use sqlx::SqlitePool;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqlitePoolOptions};

const THIS_FILE: &str = file!();
const SOURCE: &str = include_str!("statics_parallel.rs");

/// Tests in a group: half clean, half leaky.
const GROUP: usize = 16;

/// Waits until all tests of a group have started, or 10 s have passed (a
/// test run alone goes on after that), so the group's scopes overlap.
fn together(started: &AtomicUsize) {
    started.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while started.load(Ordering::SeqCst) < GROUP && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Declares the group's 16 ignored tests, `PREFIX_clean_N` and
/// `PREFIX_leaky_N`, each calling `case(N, leaky)`; `async` for tests on
/// the attribute's runtime.
macro_rules! group {
    ($case:ident, [$($clean:ident, $leaky:ident = $n:literal),* $(,)?]) => {$(
        #[leakwatch::test]
        #[ignore = "one of a group run together by a driver test in a child process"]
        fn $clean() { $case($n, false) }
        #[leakwatch::test]
        #[ignore = "fails on purpose: run by a driver test in a child process"]
        fn $leaky() { $case($n, true) }
    )*};
    (async $case:ident, $grace:literal, [$($clean:ident, $leaky:ident = $n:literal),* $(,)?]) => {$(
        #[leakwatch::test(grace = $grace)]
        #[ignore = "one of a group run together by a driver test in a child process"]
        async fn $clean() { $case($n, false).await }
        #[leakwatch::test]
        #[ignore = "fails on purpose: run by a driver test in a child process"]
        async fn $leaky() { $case($n, true).await }
    )*};
}

/// What the driver checks in each leaky test's failure section.
struct Expected<'a> {
    /// The kind of the test's one item besides tasks (`fd` or `thread`).
    kind: &'a str,
    /// How the site line of that item begins after its count and kind.
    opened: &'a str,
    /// The marker of this file's line that the site line names.
    marker: &'a str,
    /// The spawn line of the test's own tracked task, if it leaves one.
    task_marker: Option<&'a str>,
    /// What the test printed (captured, so in its section) that the
    /// item's detail line must contain, after `key`: its own address or
    /// descriptor, not another test's.
    key: Option<&'a str>,
}

/// Runs the group `prefix` in one child process, 16 threads, and checks
/// that every clean test passed and every leaky one failed with exactly
/// its own items.
#[track_caller]
fn run_group(prefix: &str, expected: &Expected) {
    let run = support::run(&["--ignored", "--test-threads=16", prefix], GROUP);
    let mut passed = run.passed_tests();
    let mut failed = run.failed_tests();
    passed.sort_unstable();
    failed.sort_unstable();
    let names = |kind: &str| -> Vec<String> {
        let mut names: Vec<String> = (0..GROUP / 2)
            .map(|n| format!("{prefix}{kind}_{n}"))
            .collect();
        names.sort_unstable();
        names
    };
    assert_eq!(passed, names("clean"), "{}", run.output);
    assert_eq!(failed, names("leaky"), "{}", run.output);
    let sections = run.sections();
    let line = support::line_of(SOURCE, expected.marker);
    let at = format!("{THIS_FILE}:{line}:");
    for name in names("leaky") {
        let section = &sections[&name];
        let sites = support::sites(section);
        let ours: Vec<_> = sites.iter().filter(|(k, _)| *k == expected.kind).collect();
        assert_eq!(ours.len(), 1, "`{name}`:\n{section}");
        let site = ours[0].1;
        assert!(
            site.starts_with(&format!(
                "LEAK   1 {} still open, {}",
                expected.kind, expected.opened
            )) && site.contains(&at),
            "`{name}`: expected {} {at}:\n{section}",
            expected.opened
        );
        let tasks: Vec<_> = sites.iter().filter(|(k, _)| *k == "task").collect();
        if let Some(marker) = expected.task_marker {
            let spawn = support::line_of(SOURCE, marker);
            let spawned = format!("LEAK   1 task still open, spawned at {THIS_FILE}:{spawn}:");
            assert_eq!(
                tasks
                    .iter()
                    .filter(|(_, s)| s.starts_with(&spawned))
                    .count(),
                1,
                "`{name}`: expected {spawned}\n{section}"
            );
        }
        for (kind, site) in &sites {
            let own_task = expected.task_marker.is_some() && *kind == "task";
            assert!(
                *kind == expected.kind || own_task || (*kind == "task" && support::TOKIO_UNSTABLE),
                "`{name}`: an item that is not its own: {site}\n{section}"
            );
        }
        if expected.task_marker.is_some() && !support::TOKIO_UNSTABLE {
            assert_eq!(tasks.len(), 1, "`{name}`:\n{section}");
        }
        if let Some(key) = expected.key {
            let printed = section
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("`{name}` printed no `{key}`:\n{section}"));
            assert!(
                section
                    .lines()
                    .any(|l| l.starts_with("LEAK     ") && l.contains(printed)),
                "`{name}`: its own {printed} is not in its report:\n{section}"
            );
        }
    }
}

// A multi-thread runtime in a static; leaky tests leave a task holding a
// listener, clean ones a task that ends.

static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
});
static RT_STARTED: AtomicUsize = AtomicUsize::new(0);

fn runtime_case(_n: u32, leaky: bool) {
    together(&RT_STARTED);
    let _entered = RT.enter();
    let (bound, is_bound) = tokio::sync::oneshot::channel();
    let serve = async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(); // runtime: bind
        bound.send(listener.local_addr().unwrap()).unwrap();
        if leaky {
            std::future::pending::<()>().await;
        }
        drop(listener);
    };
    let task = leakwatch::tokio::spawn(serve); // runtime: spawn
    let addr = RT.block_on(is_bound).unwrap();
    println!("listening on {addr} (LISTEN)");
    if !leaky {
        RT.block_on(task).unwrap();
    }
}

group!(
    runtime_case,
    [
        runtime_clean_0,
        runtime_leaky_0 = 0,
        runtime_clean_1,
        runtime_leaky_1 = 1,
        runtime_clean_2,
        runtime_leaky_2 = 2,
        runtime_clean_3,
        runtime_leaky_3 = 3,
        runtime_clean_4,
        runtime_leaky_4 = 4,
        runtime_clean_5,
        runtime_leaky_5 = 5,
        runtime_clean_6,
        runtime_leaky_6 = 6,
        runtime_clean_7,
        runtime_leaky_7 = 7,
    ]
);

#[test]
fn a_static_runtime_shared_by_parallel_tests() {
    run_group(
        "runtime_",
        &Expected {
            kind: "fd",
            opened: "opened at mio-",
            marker: "// runtime: bind",
            task_marker: Some("// runtime: spawn"),
            key: Some("listening on "),
        },
    );
}

// A reqwest client in a static, asking a server that lives in a static;
// each test asks on a port of its own, so no test reuses another's
// connection. Leaky tests keep their connection pooled; clean ones use a
// client that keeps no idle connection.

static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(reqwest::Client::new);
static CLIENT_NO_IDLE: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
});
static REQWEST_STARTED: AtomicUsize = AtomicUsize::new(0);

async fn reqwest_case(n: usize, leaky: bool) {
    together(&REQWEST_STARTED);
    let (client, port) = if leaky {
        (&*CLIENT, n)
    } else {
        (&*CLIENT_NO_IDLE, GROUP / 2 + n)
    };
    let url = support::server::url(port);
    println!(
        "asking -> {}",
        url.trim_start_matches("http://").trim_end_matches('/')
    );
    let response = client.get(url).send().await.unwrap(); // reqwest: request
    assert_eq!(response.text().await.unwrap(), "ok");
}

// The clean tests' grace is the one of `leaks.rs`'s client that keeps no
// idle connection: its connection task closes the socket only once it
// sees the pool let go of it.
group!(async reqwest_case, "5s", [
    reqwest_clean_0, reqwest_leaky_0 = 0, reqwest_clean_1, reqwest_leaky_1 = 1,
    reqwest_clean_2, reqwest_leaky_2 = 2, reqwest_clean_3, reqwest_leaky_3 = 3,
    reqwest_clean_4, reqwest_leaky_4 = 4, reqwest_clean_5, reqwest_leaky_5 = 5,
    reqwest_clean_6, reqwest_leaky_6 = 6, reqwest_clean_7, reqwest_leaky_7 = 7,
]);

#[test]
fn a_static_reqwest_client_shared_by_parallel_tests() {
    run_group(
        "reqwest_",
        &Expected {
            kind: "fd",
            opened: "opened at socket2-",
            marker: "// reqwest: request",
            task_marker: None,
            key: Some("asking "),
        },
    );
}

// sqlx pools in statics, created in their initializers. The clean tests
// share a pool connected there (one connection: none of them opens
// another); the leaky ones each take a connection of their own from a
// pool that opens them on demand, and hold it in a global. With no idle
// timeout and no lifetime the pools run no maintenance task.

fn sqlite_options(max: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(max)
        .idle_timeout(None)
        .max_lifetime(None)
}

static SHARED_POOL: LazyLock<SqlitePool> = LazyLock::new(|| {
    // Connected on a thread and runtime of its own, so the initializer can
    // run from inside a test's runtime.
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(sqlite_options(1).connect("sqlite::memory:"))
            .unwrap()
    })
    .join()
    .unwrap()
});
static ON_DEMAND_POOL: LazyLock<SqlitePool> = LazyLock::new(|| {
    sqlite_options(GROUP as u32)
        .connect_lazy("sqlite::memory:")
        .unwrap()
});
static HELD: Mutex<Vec<PoolConnection<Sqlite>>> = Mutex::new(Vec::new());
static SQLX_STARTED: AtomicUsize = AtomicUsize::new(0);

async fn sqlx_case(n: i64, leaky: bool) {
    together(&SQLX_STARTED);
    let pool = if leaky {
        &*ON_DEMAND_POOL
    } else {
        &*SHARED_POOL
    };
    let mut conn = pool.acquire().await.unwrap(); // sqlx: acquire
    let echoed: i64 = sqlx::query_scalar("SELECT ?")
        .bind(n)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(echoed, n);
    if leaky {
        HELD.lock().unwrap().push(conn);
    }
}

group!(async sqlx_case, "300ms", [
    sqlx_clean_0, sqlx_leaky_0 = 0, sqlx_clean_1, sqlx_leaky_1 = 1,
    sqlx_clean_2, sqlx_leaky_2 = 2, sqlx_clean_3, sqlx_leaky_3 = 3,
    sqlx_clean_4, sqlx_leaky_4 = 4, sqlx_clean_5, sqlx_leaky_5 = 5,
    sqlx_clean_6, sqlx_leaky_6 = 6, sqlx_clean_7, sqlx_leaky_7 = 7,
]);

#[test]
fn a_static_sqlx_pool_shared_by_parallel_tests() {
    run_group(
        "sqlx_",
        &Expected {
            kind: "thread",
            opened: "spawned at sqlx-sqlite-",
            marker: "// sqlx: acquire",
            task_marker: None,
            key: None,
        },
    );
}

// rayon's global pool, started by whichever test's `par_iter` comes first;
// leaky tests also park a file in a global.

static FILES: Mutex<Vec<File>> = Mutex::new(Vec::new());
static RAYON_STARTED: AtomicUsize = AtomicUsize::new(0);

fn rayon_case(n: u64, leaky: bool) {
    together(&RAYON_STARTED);
    let sum: u64 = (0..10_000u64).into_par_iter().map(|i| i * n).sum();
    assert_eq!(sum, n * 49_995_000);
    if leaky {
        let file = File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap(); // rayon: open
        println!("parked (fd {})", file.as_raw_fd());
        FILES.lock().unwrap().push(file);
    }
}

group!(
    rayon_case,
    [
        rayon_clean_0,
        rayon_leaky_0 = 0,
        rayon_clean_1,
        rayon_leaky_1 = 1,
        rayon_clean_2,
        rayon_leaky_2 = 2,
        rayon_clean_3,
        rayon_leaky_3 = 3,
        rayon_clean_4,
        rayon_leaky_4 = 4,
        rayon_clean_5,
        rayon_leaky_5 = 5,
        rayon_clean_6,
        rayon_leaky_6 = 6,
        rayon_clean_7,
        rayon_leaky_7 = 7,
    ]
);

#[test]
fn rayons_global_pool_shared_by_parallel_tests() {
    run_group(
        "rayon_",
        &Expected {
            kind: "fd",
            opened: &format!("opened at {THIS_FILE}:"),
            marker: "// rayon: open",
            task_marker: None,
            key: Some("parked "),
        },
    );
}
