//! A checkout service whose order handler leaks one pooled connection in a
//! hundred (and whose report handler holds one a while, then returns it),
//! whose keep handler keeps a plain `std` file and connection for good,
//! with leakwatch's routes mounted beside its own, the long-held watchdog
//! counting into the served metrics, and a bounded load generator to drive
//! it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use leakwatch::watchdog::{Thresholds, Watchdog};
use leakwatch_core::Tag;
use leakwatch_export::metrics::LeakMetrics;

/// A stand-in for a database pool: each checked-out connection is tracked
/// until it is dropped (returned).
#[derive(Debug, Default)]
pub struct Pool {
    opened: AtomicU64,
}

/// A checked-out connection.
#[derive(Debug)]
pub struct Conn {
    _tracked: Tag,
}

impl Pool {
    /// A connection, tracked at the caller's line.
    #[track_caller]
    pub fn checkout(&self) -> Conn {
        let n = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        Conn {
            _tracked: Tag::with_detail("db-conn", format!("db:5432 conn #{n}")),
        }
    }
}

#[derive(Debug, Default)]
struct Service {
    pool: Pool,
    orders: AtomicU64,
}

async fn order(State(service): State<Arc<Service>>) -> &'static str {
    let n = service.orders.fetch_add(1, Ordering::Relaxed) + 1;
    let conn = service.pool.checkout();
    if n % 100 == 0 {
        // The bug under study: the retry path forgets to return the
        // connection to the pool.
        std::mem::forget(conn);
        return "retried\n";
    }
    drop(conn);
    "ok\n"
}

/// A month-end report: holds its connection for `?hold_ms=` (default
/// 1,500) and then returns it. Not a leak, but long enough for the
/// watchdog to warn, and then to note its release.
async fn report(
    State(service): State<Arc<Service>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<&'static str, (StatusCode, String)> {
    let hold_ms = match query.get("hold_ms") {
        None => 1_500,
        Some(ms) => ms.parse().map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("hold_ms={ms:?} is not a number of milliseconds: {e}\n"),
            )
        })?,
    };
    let conn = service.pool.checkout();
    tokio::time::sleep(std::time::Duration::from_millis(hold_ms)).await;
    drop(conn);
    Ok("report\n")
}

/// What [`keep`] opened: never closed, as a cache that only grows.
static KEPT: Mutex<Vec<(std::fs::File, std::net::TcpStream)>> = Mutex::new(Vec::new());

/// A cache warm-up with a bug: opens the service's own executable as a
/// plain `std::fs::File` and connects a plain `std::net::TcpStream` to the
/// service's own address (the request's `Host`), and keeps both for good.
/// Neither is wrapped: leakwatch sees them where libc is interposed, at
/// these two lines when they are opened inside a scope with a stack taken
/// (see `main`).
async fn keep(headers: HeaderMap) -> Result<&'static str, (StatusCode, String)> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or((
            StatusCode::BAD_REQUEST,
            "no Host header to connect to\n".to_owned(),
        ))?;
    let exe = std::env::current_exe().map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no executable path: {e}\n"),
        )
    })?;
    let file = std::fs::File::open(&exe).map_err(|e| {
        let at = exe.display();
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot open {at}: {e}\n"),
        )
    })?;
    // A loopback connect completes in the kernel's backlog, before the
    // server accepts it, so this blocking call does not wait on this
    // runtime.
    let stream = std::net::TcpStream::connect(host).map_err(|e| {
        (
            StatusCode::BAD_GATEWAY,
            format!("cannot connect to Host {host:?}: {e}\n"),
        )
    })?;
    KEPT.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((file, stream));
    Ok("kept\n")
}

/// The service's routes with leakwatch's mounted beside them, serving
/// `metrics` at `/debug/leaks/metrics`.
pub fn app(metrics: LeakMetrics) -> Router {
    Router::new()
        .route("/order", get(order))
        .route("/report", get(report))
        .route("/keep", get(keep))
        .with_state(Arc::new(Service::default()))
        .merge(
            leakwatch_http::Endpoint::new("checkout")
                .metrics(metrics)
                .router(),
        )
}

/// The long-held watchdog for `thresholds`, counting each item it warns
/// about into `metrics` (`leakwatch_long_held_total{kind}`).
pub fn watchdog(thresholds: Thresholds, metrics: &LeakMetrics) -> Watchdog {
    let metrics = metrics.clone();
    leakwatch::watchdog::start_with(thresholds, move |item| {
        metrics.record_long_held(item.kind());
    })
}

/// Sends `requests` `GET /order` to `base` (`http://127.0.0.1:PORT`), on
/// `concurrency` connections at once, and returns when all have answered.
pub async fn load(base: &str, requests: u64, concurrency: u64) -> Result<(), String> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, next) = (client.clone(), next.clone());
        let uri: hyper::Uri = format!("{base}/order")
            .parse()
            .map_err(|e| format!("bad base URL {base:?}: {e}"))?;
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let response = client
                    .get(uri.clone())
                    .await
                    .map_err(|e| format!("GET {uri}: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!("GET {uri}: {}", response.status()));
                }
                response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| format!("GET {uri}: {e}"))?;
            }
            Ok::<(), String>(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(())
}
