//! The example service under load with its long-held watchdog: the
//! watchdog warns about exactly the leaked connections, at the leaking
//! site, and about the one a slow report holds past the threshold, which
//! it then notes released; `/debug/leaks/metrics` counts exactly the
//! warnings. Its own binary: the watchdog's events go to the process's
//! `tracing` subscriber, and the registry holds only this service's
//! connections.

#[path = "../examples/service/app.rs"]
mod app;

use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use leakwatch_export::metrics::LeakMetrics;
use tests_support::log::Log;

/// The watchdog's warnings in `log`, one line each.
fn warnings(log: &Log) -> Vec<String> {
    log.lines("WARN", "past its threshold")
}

/// The watchdog's notes of items released after a warning.
fn releases(log: &Log) -> Vec<String> {
    log.lines("INFO", "released after")
}

/// `service/app.rs:LINE:` of the `nth` checkout: the order handler's (0),
/// whose connection its retry path forgets, or the report's (1).
fn checkout_site(nth: usize) -> String {
    let source = include_str!("../examples/service/app.rs");
    let line = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("let conn = service.pool.checkout();"))
        .nth(nth)
        .expect("the handlers' checkouts")
        .0
        + 1;
    format!("service/app.rs:{line}:")
}

async fn get_text_owned(url: String) -> String {
    get_text(&url).await
}

async fn get_text(url: &str) -> String {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .get(url.parse().unwrap())
        .await
        .expect("the server answers");
    assert!(response.status().is_success(), "GET {url}");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// The value of the sample `name` in Prometheus text, if present.
fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_exactly_the_connections_the_watchdog_warned_about() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let log = Log::installed();

    let metrics = LeakMetrics::new();
    // Long enough that no connection a handler returns at once is ever
    // past it on a loaded machine; the leaked ones stay open for good.
    let _watchdog = app::watchdog("db-conn=500ms".parse().unwrap(), &metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = app::app(metrics.clone());
    tokio::spawn(async move { axum::serve(listener, routes).await });

    // Nothing held past the threshold yet: the counter has no sample.
    let before = get_text(&format!("{base}/debug/leaks/metrics")).await;
    assert_eq!(
        sample(&before, r#"leakwatch_long_held_total{kind="db-conn"}"#),
        None,
        "{before}"
    );

    // A slow report holds one connection past the threshold while the
    // orders run, and returns it.
    let report = tokio::spawn(get_text_owned(format!("{base}/report?hold_ms=1500")));
    app::load(&base, 1000, 4).await.expect("the load runs");
    assert_eq!(report.await.unwrap(), "report\n");

    // One in a hundred of 1000 orders leaks, and the report was held: wait
    // (up to 30 s, for a loaded machine) for eleven warnings and the
    // report's release, then a few more looks for any extra.
    let start = Instant::now();
    while (warnings(&log).len() < 11 || releases(&log).is_empty())
        && start.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let warnings = warnings(&log);
    assert_eq!(warnings.len(), 11, "{warnings:#?}");
    let (leak, slow) = (checkout_site(0), checkout_site(1));
    let at = |site: &str| warnings.iter().filter(|w| w.contains(site)).count();
    assert!(
        warnings.iter().all(|w| w.contains("db-conn held for")),
        "{warnings:#?}"
    );
    assert_eq!((at(&leak), at(&slow)), (10, 1), "{warnings:#?}");
    let releases = releases(&log);
    assert_eq!(releases.len(), 1, "{releases:#?}");
    assert!(
        releases[0].contains(&slow),
        "{releases:#?} does not name {slow}"
    );

    let text = get_text(&format!("{base}/debug/leaks/metrics")).await;
    assert_eq!(
        sample(&text, r#"leakwatch_long_held_total{kind="db-conn"}"#),
        Some(warnings.len() as u64),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"leakwatch_live_items{kind="db-conn"}"#),
        Some(10),
        "{text}"
    );
}
