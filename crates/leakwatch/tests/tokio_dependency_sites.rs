//! Tasks a library spawned are reported at the library's line *and* at the
//! line of the test whose call led there: real crates, real spawns.
//!
//! - hyper-util's pooled client, kept in a `static`, keeps each connection's
//!   task running; the task is spawned by `hyper_util::rt::TokioExecutor`
//!   deep inside the request future the test awaits.
//! - bb8's `Builder::build`, an `async fn`, spawns the pool's reaper, which
//!   runs as long as the pool lives.
//!
//! Their twins drop the client or the pool and pass. Runs only with
//! `RUSTFLAGS="--cfg tokio_unstable"`, which lets the runtime's hooks see
//! tasks spawned with plain `tokio::spawn` (CI runs it so).

#![cfg(all(feature = "tokio", feature = "stacks", tokio_unstable))]

mod support;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use leakwatch::integration::Group;
use leakwatch::{Report, Scope};
use support::tasks::Nothing;

const THIS_FILE: &str = "crates/leakwatch/tests/tokio_dependency_sites.rs";

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// The tests' hyper server on 127.0.0.1, started once.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(tests_support::server::hyper::start)
}

/// Whether this platform sees descriptors created outside leakwatch's
/// wrappers (glibc Linux, x86_64 or aarch64).
fn leakwatch_interpose_seen() -> bool {
    cfg!(leakwatch_hooks)
}

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A runtime with leakwatch's hooks, as `#[leakwatch::test]` builds.
fn hooked() -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    leakwatch::tokio::hooks::install(&mut builder);
    builder.enable_all().build().unwrap()
}

/// Runs `body` on a hooked runtime in a new scope and checks the scope
/// with a grace of `grace`, driving the runtime while it waits.
fn check<T>(grace: Duration, body: impl Future<Output = T>) -> (Result<(), Report>, T) {
    let runtime = hooked();
    let scope = Scope::new("dependency sites");
    let out = scope.run(|| runtime.block_on(body));
    let wait = |pause| runtime.block_on(async move { tokio::time::sleep(pause).await });
    let result = scope.check_within_using(grace, wait).map_err(|report| {
        runtime.block_on(leakwatch::tokio::dump::attach(report, runtime.handle()))
    });
    (result, out)
}

/// The one group of `report` besides its `fds` groups of descriptors: a
/// task spawned in `krate`'s sources, by way of this file's `line`, with
/// `callee` the library's function called there.
#[track_caller]
fn only_task<'r>(
    report: &'r Report,
    fds: usize,
    krate: &str,
    line: u32,
    callee: &str,
) -> &'r Group {
    let text = report.to_string();
    eprintln!("{text}"); // shown with --nocapture
    let (descriptors, others): (Vec<&Group>, Vec<&Group>) =
        report.groups().iter().partition(|g| g.kind() == "fd");
    assert_eq!(descriptors.len(), fds, "descriptor groups:\n{text}");
    let [group] = others[..] else {
        panic!("expected one group:\n{text}");
    };
    assert_eq!(group.kind(), "task", "{text}");
    let site = group.site().file();
    assert!(
        site.contains("/.cargo/registry/src/") && site.contains(&format!("/{krate}-")),
        "the library's own line: {site}\n{text}"
    );
    let via = group
        .via()
        .unwrap_or_else(|| panic!("no user's call:\n{text}"));
    assert_eq!((via.file(), via.line()), (THIS_FILE, line), "{text}");
    assert_eq!(via.callee(), Some(callee), "{text}");
    // The text names both: the library's line, shortened to its crate
    // folder, and this file's line.
    let short = &site[site.find(&format!("/{krate}-")).unwrap() + 1..];
    let expected = format!(
        "still open, spawned at {short}:{}:{} via {}",
        group.site().line(),
        group.site().column(),
        via.location()
    );
    assert!(text.contains(&expected), "{expected}\n{text}");
    for line in text.lines() {
        assert!(line.starts_with("LEAK"), "{line:?}\n{text}");
    }
    group
}

#[test]
fn a_pooled_client_in_a_static_is_reported_at_the_tests_request() {
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    let uri: hyper::Uri = format!("http://{}/", server()).parse().unwrap();
    let (result, line) = check(support::tasks::SHORT, async move {
        let client = CLIENT.get_or_init(client);
        let (response, line) = (client.get(uri).await, line!());
        assert!(response.unwrap().status().is_success());
        line
    });
    let report = result.expect_err("the pooled connection's task is still running");
    // Where descriptors created outside leakwatch's wrappers are seen, the
    // connection's socket is reported too: the client keeps it open.
    let seen = leakwatch_interpose_seen();
    if seen {
        let text = report.to_string();
        let socket = report.groups().iter().find(|g| g.kind() == "fd");
        let socket = socket.unwrap_or_else(|| panic!("no socket:\n{text}"));
        assert_eq!(socket.count(), 1, "{text}");
        let remote = format!(" -> {} (ESTABLISHED)", server());
        assert!(socket.details()[0].contains(&remote), "{remote}\n{text}");
    }
    let group = only_task(
        &report,
        usize::from(seen),
        "hyper-util",
        line,
        "hyper_util::client::legacy::client::ResponseFuture",
    );
    // The connection's task; hyper-util may also have spawned the connect
    // it raced against an idle connection, at the same line.
    assert!((1..=2).contains(&group.count()), "{report}");
}

#[test]
fn a_client_dropped_after_its_request_passes() {
    let uri: hyper::Uri = format!("http://{}/", server()).parse().unwrap();
    let (result, ()) = check(support::tasks::LONG, async move {
        let client = client();
        let response = client.get(uri).await.unwrap();
        assert!(response.status().is_success());
        drop(client);
    });
    if let Err(report) = result {
        panic!("{report}");
    }
}

/// A pool whose reaper (a task bb8 spawns while `build` runs) looks every
/// 5 ms whether the pool still exists.
fn pool_builder() -> bb8::Builder<Nothing> {
    bb8::Pool::builder().reaper_rate(Duration::from_millis(5))
}

#[test]
fn a_pool_kept_in_a_static_is_reported_at_the_tests_build() {
    static POOL: OnceLock<bb8::Pool<Nothing>> = OnceLock::new();
    let (result, line) = check(support::tasks::SHORT, async {
        let (pool, line) = (pool_builder().build(Nothing).await, line!());
        POOL.set(pool.unwrap()).ok().unwrap();
        line
    });
    let report = result.expect_err("the reaper of the kept pool is still running");
    only_task(&report, 0, "bb8", line, "bb8::api::Builder<M>::build");
}

#[test]
fn a_pool_dropped_passes() {
    let (result, ()) = check(support::tasks::LONG, async {
        let pool = pool_builder().build(Nothing).await.unwrap();
        pool.get().await.unwrap();
        drop(pool);
    });
    if let Err(report) = result {
        panic!("{report}");
    }
}

/// Two calls from two lines through the same library line are two groups,
/// each at its own line of the test.
#[test]
fn items_are_grouped_by_the_users_line() {
    static POOLS: OnceLock<(bb8::Pool<Nothing>, bb8::Pool<Nothing>)> = OnceLock::new();
    let (result, lines) = check(support::tasks::SHORT, async {
        let (a, first) = (pool_builder().build(Nothing).await.unwrap(), line!());
        let (b, second) = (pool_builder().build(Nothing).await.unwrap(), line!());
        POOLS.set((a, b)).ok().unwrap();
        [first, second]
    });
    let report = result.expect_err("both reapers are still running");
    let text = report.to_string();
    assert_eq!(report.groups().len(), 2, "{text}");
    let mut seen: Vec<u32> = report
        .groups()
        .iter()
        .map(|g| g.via().expect("a user's call").line())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, lines, "{text}");
    assert!(
        report.groups()[0].site() == report.groups()[1].site(),
        "one library line: {text}"
    );
}

#[test]
fn a_tag_made_at_a_dependencys_line_names_the_tests_call() {
    let site = tests_support::server::hyper::hyper_util_spawn_site();
    let scope = Scope::new("library tags");
    // What a library's own `Tag` records: a line of the library's sources.
    let (tag, line) = scope.run(|| {
        let line = line!() + 1;
        let tag = leakwatch::Tag::with_detail_at("conn", "pooled", site);
        (tag, line)
    });
    let report = scope.check_now().expect_err("the tag is open");
    let text = report.to_string();
    let [group] = report.groups() else {
        panic!("{text}");
    };
    let via = group
        .via()
        .unwrap_or_else(|| panic!("no user's call:\n{text}"));
    assert_eq!((via.file(), via.line()), (THIS_FILE, line), "{text}");
    assert_eq!(
        via.callee(),
        None,
        "only leakwatch's frames lie between: {text}"
    );
    assert!(
        text.contains("LEAK   1 conn still open, opened at hyper-util-0.1.")
            && text.contains(&format!("via {}", via.location())),
        "{text}"
    );
    assert!(
        !group.stack().expect("captured for the via").is_full(),
        "at LEAKWATCH=sites the stack is not printed: {text}"
    );
    assert!(!text.contains("→"), "{text}");
    drop(tag);
    assert!(scope.check_now().is_ok());
}

#[test]
fn a_tag_made_at_the_tests_own_line_takes_no_stack() {
    let scope = Scope::new("own tags");
    let tag = scope.run(|| leakwatch::Tag::with_detail("conn", "mine"));
    let report = scope.check_now().expect_err("the tag is open");
    let group = &report.groups()[0];
    assert!(group.via().is_none(), "{report}");
    assert!(group.stack().is_none(), "{report}");
    drop(tag);
}
