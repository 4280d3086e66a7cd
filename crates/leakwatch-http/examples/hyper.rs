//! leakwatch's routes served by hyper alone, through `LeakService` (a
//! tower `Service`) and hyper-util's adapter.
//!
//! ```text
//! cargo run -p leakwatch-http --example hyper [-- ADDRESS]
//! curl http://127.0.0.1:6060/debug/leaks
//! ```
//!
//! It listens on ADDRESS (default `127.0.0.1:6060`; `127.0.0.1:0` picks a
//! free port) and prints the URL of the routes as its first line.

use std::io::Write as _;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:6060".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    println!("leaks at http://{}/debug/leaks", listener.local_addr()?);
    std::io::stdout().flush()?;
    let service = TowerToHyperService::new(leakwatch_http::Endpoint::new("hyper").service());
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("hyper: {e}");
            }
        });
    }
}
