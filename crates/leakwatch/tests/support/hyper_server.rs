//! A hyper server on 127.0.0.1 for tests and benches of real clients.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Starts a hyper server on 127.0.0.1, on a runtime and thread of its own
/// (no hooks, no scope: none of its tasks are a test's items), answering
/// every request with an empty 200 and keeping connections alive.
pub fn start() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(Empty::<Bytes>::new()))
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
    });
    addr
}

/// hyper-util's spawn line, as a runtime's spawn hook is told it: a real
/// `Location` in a dependency's sources, for `Tag`s made at it.
#[cfg(tokio_unstable)]
pub fn hyper_util_spawn_site() -> &'static std::panic::Location<'static> {
    use hyper::rt::Executor;
    use std::sync::OnceLock;

    static SITE: OnceLock<&'static std::panic::Location<'static>> = OnceLock::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .on_task_spawn(|meta| {
            let _ = SITE.set(meta.spawned_at());
        })
        .build()
        .unwrap();
    runtime.block_on(async { hyper_util::rt::TokioExecutor::new().execute(async {}) });
    SITE.get()
        .copied()
        .expect("the hook saw hyper-util's spawn")
}
