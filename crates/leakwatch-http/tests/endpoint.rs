//! The example service under load on 127.0.0.1: each route shows the
//! leaking site.

#[path = "../examples/service/app.rs"]
#[allow(dead_code)] // the watchdog's wiring is tested in `watchdog_metrics.rs`
mod app;

use std::collections::HashMap;

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use leakwatch_export::{Capture, pprof};

/// `service/app.rs:LINE:`, where the handler checks out the connection
/// its retry path forgets.
fn leak_site() -> String {
    let source = include_str!("../examples/service/app.rs");
    let line = source
        .lines()
        .position(|l| l.contains("let conn = service.pool.checkout();"))
        .expect("the handler's checkout")
        + 1;
    format!("service/app.rs:{line}:")
}

async fn get(url: &str) -> (hyper::StatusCode, Vec<u8>) {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .get(url.parse().unwrap())
        .await
        .expect("the server answers");
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

async fn start(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_points_at_the_leaking_site() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let base = start(app::app(leakwatch_export::metrics::LeakMetrics::new())).await;
    app::load(&base, 1000, 4).await.expect("the load runs");
    let site = leak_site();

    let (status, body) = get(&format!("{base}/debug/leaks")).await;
    let report = String::from_utf8(body).unwrap();
    assert!(status.is_success(), "{report}");
    let line = report
        .lines()
        .find(|l| l.contains("db-conns still open"))
        .unwrap_or_else(|| panic!("no db-conn group in\n{report}"));
    assert!(
        line.contains("10 db-conns still open, opened at "),
        "{report}"
    );
    assert!(line.contains(&site), "{site} not in\n{report}");

    let (status, body) = get(&format!("{base}/debug/leaks/pprof?kind=db-conn")).await;
    assert!(status.is_success());
    let profile = pprof::decode(&body).expect("a profile");
    let mut by_leaf: HashMap<u64, i64> = HashMap::new();
    for sample in &profile.sample {
        *by_leaf.entry(sample.location_id[0]).or_default() += sample.value[0];
    }
    let (&top, &count) = by_leaf.iter().max_by_key(|(_, n)| **n).expect("samples");
    assert_eq!(count, 10);
    let location = profile.location.iter().find(|l| l.id == top).unwrap();
    let function = profile
        .function
        .iter()
        .find(|f| f.id == location.line[0].function_id)
        .unwrap();
    let name = &profile.string_table[function.name as usize];
    assert!(name.contains(&site), "{name} is not {site}");

    let (status, body) = get(&format!("{base}/debug/leaks/json?kind=db-conn")).await;
    assert!(status.is_success());
    let capture = Capture::from_json(std::str::from_utf8(&body).unwrap()).expect("a capture");
    assert_eq!(capture.entries().len(), 10);
    assert!(
        capture
            .entries()
            .iter()
            .all(|e| e.site().to_string().contains(&site))
    );

    let (status, body) = get(&format!("{base}/debug/leaks/metrics")).await;
    let text = String::from_utf8(body).unwrap();
    assert!(status.is_success());
    assert!(
        text.lines()
            .any(|l| l == r#"leakwatch_live_items{kind="db-conn"} 10"#),
        "{text}"
    );
}

#[tokio::test]
async fn nested_routes_answer_and_bad_queries_get_400_naming_the_value() {
    let app: axum::Router =
        axum::Router::new().nest("/admin", leakwatch_http::Endpoint::new("nested").router());
    let base = start(app).await;

    let (status, body) = get(&format!("{base}/admin/debug/leaks/json?kind=none-such")).await;
    assert!(status.is_success());
    let capture = Capture::from_json(std::str::from_utf8(&body).unwrap()).unwrap();
    assert!(capture.entries().is_empty());

    let (status, body) = get(&format!("{base}/admin/debug/leaks")).await;
    assert!(status.is_success());
    assert!(String::from_utf8(body).unwrap().contains("`nested`"));

    let (status, body) = get(&format!("{base}/admin/debug/leaks/pprof?min_age=-3")).await;
    assert_eq!(status, hyper::StatusCode::BAD_REQUEST);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "min_age must be a number of seconds, not -3\n"
    );
    let (status, body) = get(&format!("{base}/admin/debug/leaks/json?min_age=soon")).await;
    assert_eq!(status, hyper::StatusCode::BAD_REQUEST);
    assert!(String::from_utf8(body).unwrap().contains("min_age"));
}
