//! The one handler behind every way of serving the routes: the axum
//! router, the tower service and the side port all turn a request into a
//! [`Route`] and its query, and send back the [`Answer`] built here, so
//! each serves the same status, content type and bytes.

use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::Full;
use leakwatch_export::{Capture, Filter};

use crate::Shared;

/// One of the four paths, relative to where the routes are mounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Report,
    Pprof,
    Json,
    Metrics,
}

impl Route {
    /// Every route with its path, in the order the crate's docs list them.
    pub(crate) const ALL: [(&'static str, Route); 4] = [
        ("/debug/leaks", Route::Report),
        ("/debug/leaks/pprof", Route::Pprof),
        ("/debug/leaks/json", Route::Json),
        ("/debug/leaks/metrics", Route::Metrics),
    ];

    fn from_path(path: &str) -> Option<Route> {
        Route::ALL
            .iter()
            .find(|(p, _)| *p == path)
            .map(|&(_, route)| route)
    }
}

/// A response before it is handed to a server: status, headers and body.
#[derive(Debug)]
pub(crate) struct Answer {
    status: StatusCode,
    headers: Vec<(header::HeaderName, &'static str)>,
    body: Vec<u8>,
}

impl Answer {
    fn ok(content_type: &'static str, body: Vec<u8>) -> Answer {
        Answer {
            status: StatusCode::OK,
            headers: vec![(header::CONTENT_TYPE, content_type)],
            body,
        }
    }

    /// A plain-text answer of one line saying what was wrong.
    pub(crate) fn failure(status: StatusCode, line: String) -> Answer {
        Answer {
            status,
            headers: vec![(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body: line.into_bytes(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn headers(&self) -> &[(header::HeaderName, &'static str)] {
        &self.headers
    }

    pub(crate) fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The answer as an `http` response, for tower, hyper and axum.
    pub(crate) fn into_http(self) -> http::Response<Full<Bytes>> {
        let mut response = http::Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() = self.status;
        for (name, value) in self.headers {
            response
                .headers_mut()
                .insert(name, header::HeaderValue::from_static(value));
        }
        response
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
    fn parse(query: Option<&str>) -> Result<Params, Answer> {
        let query = query.unwrap_or("");
        serde_urlencoded::from_str(query).map_err(|e| {
            Answer::failure(
                StatusCode::BAD_REQUEST,
                format!("leakwatch: cannot read the query `{query}`: {e}\n"),
            )
        })
    }

    fn filter(self) -> Result<Filter, Answer> {
        let mut filter = Filter::new();
        for kind in self.kind.iter().flat_map(|k| k.split(',')) {
            filter = filter.kind(kind);
        }
        for site in self.site.iter().flat_map(|s| s.split(',')) {
            filter = filter.site(site);
        }
        if let Some(secs) = self.min_age {
            let age = std::time::Duration::try_from_secs_f64(secs).map_err(|_| {
                Answer::failure(
                    StatusCode::BAD_REQUEST,
                    format!("min_age must be a number of seconds, not {secs}\n"),
                )
            })?;
            filter = filter.min_age(age);
        }
        Ok(filter)
    }
}

/// The answer to `GET route?query`. It takes a snapshot, which takes
/// milliseconds with many items open: callers on an async runtime run it
/// through [`off_runtime`].
pub(crate) fn answer(route: Route, shared: &Shared, query: Option<&str>) -> Answer {
    match route {
        Route::Report => Answer::ok(
            "text/plain; charset=utf-8",
            leakwatch_core::Report::new(&shared.name, &leakwatch_core::Snapshot::all())
                .to_string()
                .into_bytes(),
        ),
        Route::Pprof | Route::Json => {
            let filter = match Params::parse(query).and_then(Params::filter) {
                Ok(filter) => filter,
                Err(failure) => return failure,
            };
            let capture = filter.apply(&Capture::now());
            if route == Route::Json {
                return Answer::ok("application/json", capture.to_json().into_bytes());
            }
            let mut answer = Answer::ok(
                "application/octet-stream",
                leakwatch_export::pprof::encode(&capture),
            );
            answer.headers.push((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leaks.pb.gz\"",
            ));
            answer
        }
        Route::Metrics => Answer::ok(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            shared.metrics.to_text().into_bytes(),
        ),
    }
}

/// The answer to a request by method and path: `GET` and `HEAD` of one of
/// the four paths, else 404 naming the path or 405 naming the method.
pub(crate) fn respond(shared: &Shared, method: &str, path: &str, query: Option<&str>) -> Answer {
    let Some(route) = Route::from_path(path) else {
        return Answer::failure(
            StatusCode::NOT_FOUND,
            format!(
                "leakwatch: no route at `{path}`; there are /debug/leaks, /debug/leaks/pprof, \
                 /debug/leaks/json and /debug/leaks/metrics\n"
            ),
        );
    };
    if method != "GET" && method != "HEAD" {
        let mut answer = Answer::failure(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("leakwatch: `{path}` answers GET and HEAD, not {method}\n"),
        );
        answer.headers.push((header::ALLOW, "GET, HEAD"));
        return answer;
    }
    answer(route, shared, query)
}

/// Runs `f` on tokio's blocking threads when called within a tokio
/// runtime, so a large registry does not hold up the runtime's workers;
/// elsewhere (another executor, or none) runs it in place.
pub(crate) async fn off_runtime(f: impl FnOnce() -> Answer + Send + 'static) -> Answer {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime.spawn_blocking(f).await.unwrap_or_else(|e| {
            Answer::failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("leakwatch: taking the snapshot failed: {e}\n"),
            )
        }),
        Err(_) => f(),
    }
}
