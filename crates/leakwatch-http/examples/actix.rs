//! leakwatch's routes inside an actix-web application: one default handler
//! hands the request's method, path and query to `LeakService` and copies
//! its answer back.
//!
//! ```text
//! cargo run -p leakwatch-http --example actix [-- ADDRESS]
//! curl http://127.0.0.1:6060/debug/leaks
//! ```
//!
//! It listens on ADDRESS (default `127.0.0.1:6060`; `127.0.0.1:0` picks a
//! free port) and prints the URL of the routes as its first line.

use std::io::Write as _;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, web};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

#[get("/")]
async fn hello() -> &'static str {
    "hello\n"
}

/// Anything under `/debug/leaks`, answered by leakwatch.
async fn leaks(
    service: web::Data<leakwatch_http::LeakService>,
    request: HttpRequest,
) -> HttpResponse {
    let uri = request.uri().to_string();
    let Ok(forwarded) = http::Request::builder()
        .method(request.method().as_str())
        .uri(&uri)
        .body(())
    else {
        return HttpResponse::BadRequest().body(format!("cannot forward `{uri}`\n"));
    };
    let Ok(answer) = service.get_ref().clone().oneshot(forwarded).await;
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let Ok(body) = answer.into_body().collect().await;
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    );
    response.content_type(content_type).body(body.to_bytes())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:6060".to_owned());
    let service = web::Data::new(leakwatch_http::Endpoint::new("actix").service());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(service.clone())
            .service(hello)
            .service(web::resource("/debug/leaks").to(leaks))
            .service(web::resource("/debug/leaks/{format}").to(leaks))
    })
    .bind(&addr)
    .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    for bound in server.addrs() {
        println!("leaks at http://{bound}/debug/leaks");
    }
    std::io::stdout().flush()?;
    server.run().await
}
