//! An axum server that lives in a static: started by whichever test needs
//! it first, inside the static's initializer, so its thread, listeners and
//! the connections it accepts belong to the process, never to a test.

use std::net::SocketAddr;
use std::sync::LazyLock;

/// How many ports the server listens on: a client keeps one pooled
/// connection per host and port, so each test that must open a connection
/// of its own asks on a port no other test uses.
pub const PORTS: usize = 16;

static ADDRS: LazyLock<Vec<SocketAddr>> = LazyLock::new(|| {
    let listeners: Vec<std::net::TcpListener> = (0..PORTS)
        .map(|_| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            listener
        })
        .collect();
    let addrs = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    std::thread::Builder::new()
        .name("static-server".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut servers = tokio::task::JoinSet::new();
                for listener in listeners {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    servers.spawn(async move { axum::serve(listener, app()).await });
                }
                while let Some(served) = servers.join_next().await {
                    served.unwrap().unwrap();
                }
            });
        })
        .unwrap();
    addrs
});

/// The router every test's server uses: `GET /` answers `ok`.
pub fn app() -> axum::Router {
    axum::Router::new().route("/", axum::routing::get(|| async { "ok" }))
}

/// The URL of the static server's port `port` (below [`PORTS`]).
pub fn url(port: usize) -> String {
    format!("http://{}/", ADDRS[port])
}
