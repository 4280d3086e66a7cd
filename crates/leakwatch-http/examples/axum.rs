//! The smallest setup: leakwatch's routes on a side port, or in an axum router.

use axum::{Router, routing::get};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // On a port of their own, loopback only (no axum or tokio needed):
    let _leaks = leakwatch_http::serve("127.0.0.1:6060")?;

    // Or merged into the service's own router:
    let app: Router = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .merge(leakwatch_http::router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    axum::serve(listener, app).await
}
