//! leakwatch's live items over HTTP, for the person on call and for the
//! scrapers a service already has.
//!
//! | path | what | for |
//! | --- | --- | --- |
//! | `/debug/leaks` | the grouped report, as `leakwatch::check` prints it | a person, `curl` |
//! | `/debug/leaks/pprof` | gzipped `profile.proto`: `items/count` and `age/nanoseconds` | `go tool pprof`, Pyroscope, Parca |
//! | `/debug/leaks/json` | the versioned JSON capture | `leakwatch diff`, `leakwatch top` |
//! | `/debug/leaks/metrics` | Prometheus text | Prometheus |
//!
//! `pprof` and `json` take the query parameters `kind` and `site` (each a
//! comma-separated list) and `min_age` (seconds), as
//! [`leakwatch_export::Filter`] reads them:
//! `/debug/leaks/pprof?kind=db-conn,tcp&min_age=30`.
//!
//! Mount the routes in the service's own router, or serve them on a port
//! of their own:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! # async fn run() -> std::io::Result<()> {
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .merge(leakwatch_http::router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//!
//! // Or, on a port only operators reach:
//! let admin = tokio::net::TcpListener::bind("127.0.0.1:6060").await?;
//! leakwatch_http::serve(admin).await
//! # }
//! ```
//!
//! Each request takes a snapshot on a blocking thread, so a large registry
//! does not hold up the runtime's workers.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leakwatch_export::metrics::LeakMetrics;
use leakwatch_export::{Capture, Filter};

/// The routes, with a title for the report and the metrics to serve.
///
/// ```
/// let metrics = leakwatch_export::metrics::LeakMetrics::new();
/// let routes: axum::Router = leakwatch_http::Endpoint::new("checkout-service")
///     .metrics(metrics.clone())
///     .router();
/// # let _ = routes;
/// ```
#[derive(Clone, Debug)]
pub struct Endpoint {
    name: String,
    metrics: LeakMetrics,
}

#[derive(Clone, Debug)]
struct Shared {
    name: String,
    metrics: LeakMetrics,
}

/// The routes with the title `live` and metrics of their own.
///
/// ```
/// let app: axum::Router = axum::Router::new().merge(leakwatch_http::router());
/// # let _ = app;
/// ```
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Endpoint::new("live").router()
}

/// Serves the routes alone on `listener` until the process ends or the
/// listener fails.
///
/// # Errors
///
/// What accepting on `listener` returns.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:6060").await?;
/// leakwatch_http::serve(listener).await
/// # }
/// ```
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router::<()>()).await
}

impl Endpoint {
    /// Routes whose report is titled `name`.
    ///
    /// ```
    /// let endpoint = leakwatch_http::Endpoint::new("api");
    /// # let _ = endpoint;
    /// ```
    pub fn new(name: impl Into<String>) -> Endpoint {
        Endpoint {
            name: name.into(),
            metrics: LeakMetrics::new(),
        }
    }

    /// Serves `metrics` at `/debug/leaks/metrics`: the ones the service
    /// records reports and long-held items into.
    ///
    /// ```
    /// let metrics = leakwatch_export::metrics::LeakMetrics::new();
    /// let endpoint = leakwatch_http::Endpoint::new("api").metrics(metrics);
    /// # let _ = endpoint;
    /// ```
    #[must_use]
    pub fn metrics(mut self, metrics: LeakMetrics) -> Endpoint {
        self.metrics = metrics;
        self
    }

    /// The four routes, ready to merge into (or nest in) a router of any
    /// state.
    ///
    /// ```
    /// let app: axum::Router = axum::Router::new().nest("/admin", leakwatch_http::Endpoint::new("api").router());
    /// # let _ = app;
    /// ```
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let shared = Shared {
            name: self.name,
            metrics: self.metrics,
        };
        Router::new()
            .route("/debug/leaks", get(report))
            .route("/debug/leaks/pprof", get(pprof))
            .route("/debug/leaks/json", get(json))
            .route("/debug/leaks/metrics", get(metrics))
            .with_state(shared)
    }
}

/// Query parameters of `pprof` and `json`.
#[derive(Debug, Default, serde::Deserialize)]
struct Params {
    kind: Option<String>,
    site: Option<String>,
    /// Seconds.
    min_age: Option<f64>,
}

impl Params {
    fn filter(self) -> Result<Filter, Failure> {
        let mut filter = Filter::new();
        for kind in self.kind.iter().flat_map(|k| k.split(',')) {
            filter = filter.kind(kind);
        }
        for site in self.site.iter().flat_map(|s| s.split(',')) {
            filter = filter.site(site);
        }
        if let Some(secs) = self.min_age {
            let age = std::time::Duration::try_from_secs_f64(secs).map_err(|_| {
                Failure(
                    StatusCode::BAD_REQUEST,
                    format!("min_age must be a number of seconds, not {secs}\n"),
                )
            })?;
            filter = filter.min_age(age);
        }
        Ok(filter)
    }
}

/// Runs `f` on a blocking thread: snapshots and symbolization take
/// milliseconds with many items open.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("leakwatch: taking the snapshot failed: {e}\n"),
        )
    })
}

/// A request that could not be answered: its status and a one-line reason.
#[derive(Debug)]
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

async fn report(State(shared): State<Shared>) -> Result<Response, Failure> {
    let text = blocking(move || {
        leakwatch_core::Report::new(&shared.name, &leakwatch_core::Snapshot::all()).to_string()
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

fn filtered(params: Params) -> Result<impl FnOnce() -> Capture + Send + 'static, Failure> {
    let filter = params.filter()?;
    Ok(move || filter.apply(&Capture::now()))
}

async fn pprof(Query(params): Query<Params>) -> Result<Response, Failure> {
    let capture = filtered(params)?;
    let body = blocking(move || leakwatch_export::pprof::encode(&capture())).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leaks.pb.gz\"",
            ),
        ],
        body,
    )
        .into_response())
}

async fn json(Query(params): Query<Params>) -> Result<Response, Failure> {
    let capture = filtered(params)?;
    let body = blocking(move || capture().to_json()).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn metrics(State(shared): State<Shared>) -> Result<Response, Failure> {
    let text = blocking(move || shared.metrics.to_text()).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
