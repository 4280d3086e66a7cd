//! `serve`'s side port and `LeakService` against the axum router: the same
//! paths answer with the same content types and content, read with plain
//! clients (ureq; hyper and `tower::ServiceExt::oneshot` for the service).

use std::io::Read as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::BodyExt as _;
use leakwatch_core::Tag;
use leakwatch_export::Capture;
use leakwatch_export::metrics::LeakMetrics;
use leakwatch_http::{Endpoint, ServeErrorKind};
use tests_support::http::get;
use tower::ServiceExt as _;

/// An endpoint whose metrics have counted something, so their text is not
/// empty.
fn endpoint(name: &str) -> Endpoint {
    let metrics = LeakMetrics::new();
    metrics.record_long_held("side-conn");
    Endpoint::new(name).metrics(metrics)
}

/// The axum router of `endpoint` on 127.0.0.1, on a runtime of its own.
fn axum_base(endpoint: Endpoint) -> String {
    let addr = tests_support::server::serve(move |listener| async move {
        axum::serve(listener, endpoint.router::<()>()).await
    });
    format!("http://{addr}")
}

/// Taken by each test that holds items or reads the metrics, which count
/// every live item of the process.
static LIVE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `text` without the lines whose values change from one read to the next
/// (the sums of ages).
fn steady(text: &[u8]) -> Vec<String> {
    String::from_utf8(text.to_vec())
        .unwrap()
        .lines()
        .filter(|l| !l.contains("_age_seconds_sum"))
        .map(str::to_owned)
        .collect()
}

#[inline(never)]
fn hold(n: usize) -> Vec<Tag> {
    (0..n)
        .map(|_| Tag::with_detail("side-conn", "db:5432"))
        .collect()
}

#[test]
fn the_side_port_serves_what_the_router_serves() {
    let _live = lock();
    let server = endpoint("side").serve("127.0.0.1:0").expect("a free port");
    let side = format!("http://{}", server.local_addr());
    let router = axum_base(endpoint("side"));
    let held = hold(3);

    for path in [
        "/debug/leaks",
        "/debug/leaks/pprof?kind=side-conn",
        "/debug/leaks/json?kind=side-conn",
        "/debug/leaks/metrics",
    ] {
        let (status, side_type, _) = get(&format!("{side}{path}"));
        assert_eq!(status, 200, "{path}");
        let (status, router_type, _) = get(&format!("{router}{path}"));
        assert_eq!(status, 200, "{path}");
        assert_eq!(side_type, router_type, "{path}");
    }
    let (_, _, side_metrics) = get(&format!("{side}/debug/leaks/metrics"));
    let (_, _, router_metrics) = get(&format!("{router}/debug/leaks/metrics"));
    assert_eq!(steady(&side_metrics), steady(&router_metrics));
    let metrics = String::from_utf8(side_metrics).unwrap();
    assert!(
        metrics.contains(r#"leakwatch_long_held_total{kind="side-conn"} 1"#),
        "{metrics}"
    );

    let (_, _, report) = get(&format!("{side}/debug/leaks"));
    let report = String::from_utf8(report).unwrap();
    assert!(report.contains("`side`"), "{report}");
    if leakwatch_core::COMPILED_IN {
        let site = format!("{}:", file!());
        let (_, _, json) = get(&format!("{side}/debug/leaks/json?kind=side-conn"));
        let capture = Capture::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
        assert_eq!(capture.entries().len(), 3);
        assert!(capture.entries()[0].site().to_string().starts_with(&site));
        assert!(report.contains("3 side-conns still open"), "{report}");

        let (_, _, pprof) = get(&format!("{side}/debug/leaks/pprof?kind=side-conn"));
        let profile = leakwatch_export::pprof::decode(&pprof).expect("a profile");
        let count: i64 = profile.sample.iter().map(|s| s.value[0]).sum();
        assert_eq!(count, 3);
    }

    drop(held);
    // The clean twin: once closed, nothing of the kind is served.
    let (_, _, json) = get(&format!("{side}/debug/leaks/json?kind=side-conn"));
    let capture = Capture::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
    assert!(capture.entries().is_empty(), "{capture:?}");
    server.shutdown();
}

#[test]
fn the_side_port_refuses_bad_requests_by_name() {
    let server = leakwatch_http::serve("127.0.0.1:0").unwrap();
    let base = format!("http://{}", server.local_addr());

    let (status, _, body) = get(&format!("{base}/debug/leaks/json?min_age=-3"));
    assert_eq!(status, 400);
    assert_eq!(body, b"min_age must be a number of seconds, not -3\n");
    let (status, _, body) = get(&format!("{base}/debug/leaks/json?min_age=soon"));
    assert_eq!(status, 400);
    assert!(String::from_utf8(body).unwrap().contains("min_age=soon"));

    let (status, _, body) = get(&format!("{base}/debug/nothing"));
    assert_eq!(status, 404);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("`/debug/nothing`")
    );

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(&format!("{base}/debug/leaks"))
        .send("x")
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers().get("allow").unwrap(), "GET, HEAD");
    server.shutdown();
}

#[test]
fn a_port_in_use_is_an_error_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = leakwatch_http::serve(&addr[..]).unwrap_err();
    assert_eq!(err.addr(), addr);
    assert!(
        matches!(err.kind(), ServeErrorKind::Bind(e) if e.kind() == std::io::ErrorKind::AddrInUse),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot serve leakwatch on `{addr}`: ")),
        "{message}"
    );
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::AddrInUse
    );
}

#[test]
fn only_loopback_unless_allowed() {
    let err = leakwatch_http::serve("0.0.0.0:0").unwrap_err();
    assert!(
        matches!(err.kind(), ServeErrorKind::NotLoopback(_)),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("`0.0.0.0:0`") && message.contains("allow_any_address"),
        "{message}"
    );
    assert!(leakwatch_http::serve("localhost:0").is_ok_and(|s| {
        s.shutdown();
        true
    }));

    let open = Endpoint::new("open")
        .allow_any_address()
        .serve("0.0.0.0:0")
        .expect("allowed");
    let port = open.local_addr().port();
    let (status, _, _) = get(&format!("http://127.0.0.1:{port}/debug/leaks/metrics"));
    assert_eq!(status, 200);
    open.shutdown();
}

#[test]
fn shutdown_closes_the_port() {
    let server = leakwatch_http::serve("127.0.0.1:0").unwrap();
    let addr: SocketAddr = server.local_addr();
    assert_eq!(get(&format!("http://{addr}/debug/leaks/metrics")).0, 200);
    server.shutdown();
    // The accept thread notices the shutdown on its next wake-up; the port
    // is free once it has.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Err(_) => break,
            Ok(mut stream) => {
                // A connection accepted before the close is dropped unanswered.
                stream
                    .set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                let _ = stream.read(&mut [0; 1]);
            }
        }
        assert!(Instant::now() < deadline, "{addr} still accepts");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn oneshot_body(path: &str) -> (http::StatusCode, Vec<u8>) {
    let request = http::Request::get(path).body(()).unwrap();
    let response = endpoint("tower")
        .service()
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

#[test]
fn the_tower_service_answers_through_oneshot() {
    let _live = lock();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(oneshot_every_path());
}

async fn oneshot_every_path() {
    let held = hold(2);
    let (status, metrics) = oneshot_body("/debug/leaks/metrics").await;
    assert_eq!(status, 200);
    let router = axum_base(endpoint("tower"));
    let expected =
        tokio::task::spawn_blocking(move || get(&format!("{router}/debug/leaks/metrics")).2)
            .await
            .unwrap();
    assert_eq!(steady(&metrics), steady(&expected));

    let (status, json) = oneshot_body("/debug/leaks/json?kind=side-conn").await;
    assert_eq!(status, 200);
    let capture = Capture::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
    let expected = if leakwatch_core::COMPILED_IN { 2 } else { 0 };
    assert_eq!(capture.entries().len(), expected);

    let (status, report) = oneshot_body("/debug/leaks").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(report).unwrap().contains("`tower`"));

    let (status, _) = oneshot_body("/admin/debug/leaks").await;
    assert_eq!(status, 404);
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tower_service_answers_through_hyper() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = hyper_util::service::TowerToHyperService::new(endpoint("hyper").service());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = service.clone();
            tokio::spawn(async move {
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await
            });
        }
    });
    let (status, content_type, body) =
        tokio::task::spawn_blocking(move || get(&format!("http://{addr}/debug/leaks")))
            .await
            .unwrap();
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; charset=utf-8");
    assert!(String::from_utf8(body).unwrap().contains("`hyper`"));
}
