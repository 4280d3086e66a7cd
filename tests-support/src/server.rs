//! Servers on 127.0.0.1 for tests and benches of real clients, each on a
//! tokio runtime and thread of its own: no hooks and no scope, so none of
//! its tasks or sockets are a test's items.

use std::future::Future;
use std::net::SocketAddr;

/// Binds a free port of 127.0.0.1 and runs `serve` with its listener on a
/// current-thread runtime, on a thread of its own, until the future ends
/// (for most servers: for the rest of the process); returns the address.
///
/// # Panics
///
/// If no port of 127.0.0.1 can be bound.
///
/// ```
/// use tokio::io::AsyncWriteExt as _;
///
/// let addr = tests_support::server::serve(|listener| async move {
///     let (mut stream, _) = listener.accept().await.unwrap();
///     stream.write_all(b"hello").await.unwrap();
/// });
/// let mut stream = std::net::TcpStream::connect(addr).unwrap();
/// let mut text = String::new();
/// std::io::Read::read_to_string(&mut stream, &mut text).unwrap();
/// assert_eq!(text, "hello");
/// ```
pub fn serve<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port of 127.0.0.1");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let addr = listener.local_addr().expect("the listener's address");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime");
        runtime.block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(listener).expect("a listener for tokio");
            serve(listener).await;
        });
    });
    addr
}

/// A hyper server, and a site of hyper-util's for tests of dependency
/// sites.
#[cfg(feature = "hyper")]
pub mod hyper {
    use std::convert::Infallible;
    use std::net::SocketAddr;

    use http_body_util::Empty;
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    /// Starts a hyper server on 127.0.0.1 (see [`serve`](super::serve)),
    /// answering every request with an empty 200 and keeping connections
    /// alive.
    ///
    /// ```
    /// use std::io::{Read as _, Write as _};
    ///
    /// let addr = tests_support::server::hyper::start();
    /// let mut stream = std::net::TcpStream::connect(addr).unwrap();
    /// stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
    /// let mut answer = String::new();
    /// stream.read_to_string(&mut answer).unwrap();
    /// assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    /// ```
    pub fn start() -> SocketAddr {
        super::serve(|listener| async move {
            loop {
                let (stream, _) = listener.accept().await.expect("a connection");
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(Empty::<Bytes>::new()))
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        })
    }

    /// hyper-util's spawn line, as a runtime's spawn hook is told it: a
    /// real `Location` in a dependency's sources, for `Tag`s made at it.
    ///
    /// ```
    /// # #[cfg(tokio_unstable)]
    /// # {
    /// let site = tests_support::server::hyper::hyper_util_spawn_site();
    /// assert!(site.file().contains("hyper-util"), "{site}");
    /// # }
    /// ```
    #[cfg(tokio_unstable)]
    pub fn hyper_util_spawn_site() -> &'static std::panic::Location<'static> {
        use hyper::rt::Executor as _;
        use std::sync::OnceLock;

        static SITE: OnceLock<&'static std::panic::Location<'static>> = OnceLock::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .on_task_spawn(|meta| {
                let _ = SITE.set(meta.spawned_at());
            })
            .build()
            .expect("a current-thread runtime");
        runtime.block_on(async { hyper_util::rt::TokioExecutor::new().execute(async {}) });
        SITE.get()
            .copied()
            .expect("the hook saw hyper-util's spawn")
    }
}
