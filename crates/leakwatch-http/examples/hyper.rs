//! leakwatch's routes served by hyper alone, through `LeakService` (a
//! tower `Service`) and hyper-util's adapter.
//!
//! ```text
//! cargo run -p leakwatch-http --example hyper
//! curl http://127.0.0.1:6060/debug/leaks
//! ```

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:6060").await?;
    println!("leaks at http://{}/debug/leaks", listener.local_addr()?);
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
