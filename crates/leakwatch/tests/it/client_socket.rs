//! A socket kept by a real client library, seen on any build: hyper-util's
//! pooled client, kept in a `static`, keeps its connection to a server on
//! 127.0.0.1 open after the test. No `--cfg tokio_unstable` is needed: the
//! connection's socket is created by `socket()` while the test's scope is
//! current (the runtime's threads run in it), so the interposed descriptor
//! detection charges it to the test, at the test's line that led there.
//! The twins drop the client, or keep no idle connection, and pass.
//!
//! The leaky tests fail on purpose: they are `#[ignore]`d and run in a
//! child process by a parent test here.

#![cfg(all(
    feature = "tokio",
    feature = "macros",
    feature = "stacks",
    leakwatch_hooks,
    debug_assertions
))]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use leakwatch::integration::ScopeId;

use crate::support::child;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

const THIS_FILE: &str = "crates/leakwatch/tests/it/client_socket.rs";

/// The server the client talks to, on 127.0.0.1: started once, by
/// whichever test comes first, in a thread of its own and outside every
/// scope (its listener and thread live as long as the process, and are no
/// test's leak).
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let _outside = ScopeId::NONE.enter();
        tests_support::server::hyper::start()
    })
}

fn uri() -> hyper::Uri {
    format!("http://{}/", server()).parse().unwrap()
}

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// The line of this file that ends with `marker`: where a leaky test
/// makes its request.
fn line_of(marker: &str) -> u32 {
    tests_support::marker::line_of(include_str!("client_socket.rs"), marker)
}

#[leakwatch::test(grace = "50ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn client_in_a_static_current_thread() {
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    let uri = uri();
    let response = CLIENT.get_or_init(client).get(uri).await; // request: current_thread
    assert!(response.unwrap().status().is_success());
}

#[leakwatch::test(grace = "50ms", flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn client_in_a_static_multi_thread() {
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    let uri = uri();
    let response = CLIENT.get_or_init(client).get(uri).await; // request: multi_thread
    assert!(response.unwrap().status().is_success());
}

/// Checks the report of the leaky test `name`, whose request is at `line`:
/// the connection's socket, kind fd, described as TCP between the client's
/// address and the server's, opened at socket2's line via the test's.
#[track_caller]
fn socket_reported(name: &str, marker: &str) {
    let line = line_of(marker);
    let run = child::run(module_path!(), name, &[("LEAKWATCH", "stacks")]);
    let out = run.output;
    assert!(!run.passed, "{out}");
    let site = format!(" via {THIS_FILE}:{line}:");
    let reported = out
        .lines()
        .find(|l| l.starts_with("LEAK   1 fd still open, opened at socket2-"))
        .unwrap_or_else(|| panic!("no socket2 site\n{out}"));
    assert!(reported.contains(&site), "{site}\n{out}");
    // The child's server listens on a port of its own: the socket is
    // described by both addresses, both on 127.0.0.1, and its state.
    let is_connection = |line: &str| {
        line.starts_with("LEAK     tcp 127.0.0.1:")
            && line.contains(" -> 127.0.0.1:")
            && line.contains(" (ESTABLISHED) (fd ")
    };
    assert_eq!(out.lines().filter(|l| is_connection(l)).count(), 1, "{out}");
    // Only the connection's socket is the test's: the runtime's own
    // descriptors (epoll, eventfd) were created before the test's scope.
    assert_eq!(out.matches("fd still open").count(), 1, "{out}");
    assert!(out.contains(&format!("panicked at {THIS_FILE}:")), "{out}");
    // At the default level the report names the same lines.
    let run = child::run(module_path!(), name, &[]);
    assert!(!run.passed, "{}", run.output);
    assert!(
        run.output.lines().any(
            |l| l.starts_with("LEAK   1 fd still open, opened at socket2-") && l.contains(&site)
        ),
        "{site}\n{}",
        run.output
    );
    assert!(run.output.lines().any(is_connection), "{}", run.output);
}

#[test]
fn a_pooled_client_in_a_static_keeps_its_socket_current_thread() {
    socket_reported(
        "client_in_a_static_current_thread",
        "// request: current_thread",
    );
}

#[test]
fn a_pooled_client_in_a_static_keeps_its_socket_multi_thread() {
    socket_reported(
        "client_in_a_static_multi_thread",
        "// request: multi_thread",
    );
}

#[leakwatch::test(grace = "5s")]
async fn a_client_dropped_after_its_request_passes() {
    let uri = uri();
    let client = client();
    let response = client.get(uri).await.unwrap();
    assert!(response.status().is_success());
    drop(client);
}

#[leakwatch::test(grace = "5s", flavor = "multi_thread", worker_threads = 2)]
async fn a_client_keeping_no_idle_connection_passes() {
    let uri = uri();
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::ZERO)
            .pool_max_idle_per_host(0)
            .build_http()
    });
    let response = client.get(uri).await.unwrap();
    assert!(response.status().is_success());
}
