//! The routes as a tower `Service`, for hyper alone, actix-web, or any
//! server that takes one.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;

use crate::Shared;
use crate::answer::{off_runtime, respond};

/// leakwatch's four paths as a [`tower_service::Service`] of
/// `http::Request`s of any body: what [`Endpoint::router`](crate::Endpoint::router)
/// serves, for servers other than axum.
///
/// It answers `GET` and `HEAD` of `/debug/leaks`, `/debug/leaks/pprof`,
/// `/debug/leaks/json` and `/debug/leaks/metrics` (the request's path
/// exactly: strip a mount prefix before calling it), 404 for any other
/// path and 405 for any other method. The body of the request is never
/// read. Within a tokio runtime the snapshot is taken on a blocking
/// thread; on another executor, in place.
///
/// With hyper alone, through `hyper_util::service::TowerToHyperService`
/// (the whole server is `examples/hyper.rs`):
///
/// ```
/// use tower::ServiceExt as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let service = leakwatch_http::Endpoint::new("api").service();
/// let request = http::Request::get("/debug/leaks/metrics").body(()).unwrap();
/// let response = service.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct LeakService {
    shared: Arc<Shared>,
}

/// What [`LeakService`] answers with: a response whose whole body is in
/// memory.
pub type LeakResponse = http::Response<Full<Bytes>>;

/// The future of one [`LeakService`] call.
pub type LeakFuture = Pin<Box<dyn Future<Output = Result<LeakResponse, Infallible>> + Send>>;

impl LeakService {
    pub(crate) fn new(shared: Shared) -> LeakService {
        LeakService {
            shared: Arc::new(shared),
        }
    }
}

impl<B> tower_service::Service<http::Request<B>> for LeakService {
    type Response = LeakResponse;
    type Error = Infallible;
    type Future = LeakFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> LeakFuture {
        let shared = Arc::clone(&self.shared);
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().map(str::to_owned);
        Box::pin(async move {
            let answer =
                off_runtime(move || respond(&shared, method.as_str(), &path, query.as_deref()))
                    .await;
            Ok(answer.into_http())
        })
    }
}
