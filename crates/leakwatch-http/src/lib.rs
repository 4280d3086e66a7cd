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
//! # Three ways to serve them
//!
//! The same handler answers in each, so each serves the same bytes with
//! the same content types.
//!
//! - [`serve`]: a port of their own on a thread of their own, with no
//!   framework or async runtime needed. It listens on loopback only unless
//!   told otherwise ([`Endpoint::allow_any_address`]), since the report
//!   shows file paths, addresses and command lines.
//! - [`router`] / [`Endpoint::router`]: an axum `Router` to merge into (or
//!   nest in) the service's own.
//! - [`Endpoint::service`]: a tower `Service` of `http` requests, for hyper
//!   alone, actix-web or any other server (`examples/hyper.rs`,
//!   `examples/actix.rs`).
//!
//! ```no_run
//! fn main() -> std::io::Result<()> {
//!     let _leaks = leakwatch_http::serve("127.0.0.1:6060")?;
//!     // ... the service itself, on any framework.
//! #   Ok(())
//! }
//! ```
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! # async fn run() -> std::io::Result<()> {
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .merge(leakwatch_http::router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Through the router and the service, each request takes its snapshot on
//! tokio's blocking threads, so a large registry does not hold up the
//! runtime's workers; the side port takes it on its own thread.

mod answer;
mod service;
mod side;

pub use service::{LeakFuture, LeakResponse, LeakService};
pub use side::{ServeError, ServeErrorKind, Server};

use std::fmt;
use std::net::ToSocketAddrs;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use leakwatch_export::metrics::LeakMetrics;

use answer::{Route, answer, off_runtime};

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
    any_address: bool,
}

/// What every handler reads: the report's title and the metrics.
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

/// Serves the routes, titled `live`, on `addr` from a thread of their own
/// until the process ends or [`Server::shutdown`]: no framework or async
/// runtime needed.
///
/// `addr` must be a loopback address (`127.0.0.1:6060`, `[::1]:6060`,
/// `localhost:6060`): `/debug/leaks` shows file paths, addresses and
/// command lines to whoever connects. To listen on another address (behind
/// a firewall or an authenticating proxy), use
/// [`Endpoint::allow_any_address`].
///
/// # Errors
///
/// A [`ServeError`] naming `addr`: it does not resolve, it is not loopback,
/// or binding it failed (in use, say).
///
/// ```
/// let server = leakwatch_http::serve("127.0.0.1:0")?;
/// let url = format!("http://{}/debug/leaks/metrics", server.local_addr());
/// # let _ = url;
/// # server.shutdown();
/// # Ok::<(), leakwatch_http::ServeError>(())
/// ```
pub fn serve(addr: impl ToSocketAddrs + fmt::Display) -> Result<Server, ServeError> {
    Endpoint::new("live").serve(addr)
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
            any_address: false,
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

    /// Lets [`Endpoint::serve`] listen on addresses other than loopback
    /// (`0.0.0.0:6060`, a pod's address). Whoever reaches that port reads
    /// the service's file paths, peers' addresses and child processes'
    /// command lines: keep it behind a firewall or an authenticating proxy.
    ///
    /// ```no_run
    /// let server = leakwatch_http::Endpoint::new("api")
    ///     .allow_any_address()
    ///     .serve("0.0.0.0:6060")?;
    /// # Ok::<(), leakwatch_http::ServeError>(())
    /// ```
    #[must_use]
    pub fn allow_any_address(mut self) -> Endpoint {
        self.any_address = true;
        self
    }

    fn shared(self) -> Shared {
        Shared {
            name: self.name,
            metrics: self.metrics,
        }
    }

    /// The four routes, ready to merge into (or nest in) a router of any
    /// state.
    ///
    /// ```
    /// let app: axum::Router = axum::Router::new().nest("/admin", leakwatch_http::Endpoint::new("api").router());
    /// # let _ = app;
    /// ```
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let mut router = Router::new();
        for (path, route) in Route::ALL {
            router = router.route(
                path,
                get(
                    move |State(shared): State<Shared>, RawQuery(query): RawQuery| {
                        handle(route, shared, query)
                    },
                ),
            );
        }
        router.with_state(self.shared())
    }

    /// The four routes as a tower `Service`, for servers other than axum.
    ///
    /// ```
    /// let service: leakwatch_http::LeakService = leakwatch_http::Endpoint::new("api").service();
    /// # let _ = service;
    /// ```
    pub fn service(self) -> LeakService {
        LeakService::new(self.shared())
    }

    /// Serves the routes on `addr` from a thread of their own, as
    /// [`serve`] does, with this endpoint's title and metrics.
    ///
    /// # Errors
    ///
    /// As [`serve`]'s.
    ///
    /// ```
    /// let metrics = leakwatch_export::metrics::LeakMetrics::new();
    /// let server = leakwatch_http::Endpoint::new("api").metrics(metrics).serve("127.0.0.1:0")?;
    /// # server.shutdown();
    /// # Ok::<(), leakwatch_http::ServeError>(())
    /// ```
    pub fn serve(self, addr: impl ToSocketAddrs + fmt::Display) -> Result<Server, ServeError> {
        let any_address = self.any_address;
        side::start(self.shared(), addr, any_address)
    }
}

async fn handle(route: Route, shared: Shared, query: Option<String>) -> Response {
    off_runtime(move || answer(route, &shared, query.as_deref()))
        .await
        .into_http()
        .map(axum::body::Body::new)
}
