//! The side port: the routes on a small blocking HTTP/1.1 server
//! (`tiny_http`) with a thread of its own, for a service with no axum, or
//! no async runtime at all.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::Shared;
use crate::answer::respond;

/// A running side port, from [`serve`](crate::serve) or
/// [`Endpoint::serve`](crate::Endpoint::serve).
///
/// Dropping it leaves the server running until the process ends, as
/// dropping a `JoinHandle` leaves its thread running;
/// [`shutdown`](Server::shutdown) stops it.
///
/// ```no_run
/// let server = leakwatch_http::serve("127.0.0.1:6060")?;
/// println!("leaks at http://{}/debug/leaks", server.local_addr());
/// # Ok::<(), leakwatch_http::ServeError>(())
/// ```
pub struct Server {
    addr: SocketAddr,
    http: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("stopping", &self.stopping)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The address it listens on: with port 0 asked for, the port the
    /// system chose.
    ///
    /// ```
    /// let server = leakwatch_http::serve("127.0.0.1:0")?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # server.shutdown();
    /// # Ok::<(), leakwatch_http::ServeError>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops answering, and returns once the server's thread has ended.
    /// A request being answered is answered first; the listening socket
    /// closes right after.
    ///
    /// ```
    /// let server = leakwatch_http::serve("127.0.0.1:0")?;
    /// server.shutdown();
    /// # Ok::<(), leakwatch_http::ServeError>(())
    /// ```
    pub fn shutdown(self) {
        self.stopping.store(true, Ordering::Release);
        self.http.unblock();
        // The thread only answers requests; a panic there has been printed
        // by the panic hook already and leaves nothing to clean up here.
        let _ = self.thread.join();
    }
}

/// Why the side port could not start: the address as given, and what went
/// wrong with it.
///
/// ```
/// let err = leakwatch_http::serve("0.0.0.0:6060").unwrap_err();
/// assert_eq!(err.addr(), "0.0.0.0:6060");
/// assert!(matches!(err.kind(), leakwatch_http::ServeErrorKind::NotLoopback(_)));
/// ```
#[derive(Debug)]
pub struct ServeError {
    addr: String,
    kind: ServeErrorKind,
}

/// What went wrong in a [`ServeError`].
///
/// ```
/// # let err = leakwatch_http::serve("0.0.0.0:6060").unwrap_err();
/// match err.kind() {
///     leakwatch_http::ServeErrorKind::Bind(e) if e.kind() == std::io::ErrorKind::AddrInUse => {}
///     _ => {}
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeErrorKind {
    /// The address did not resolve, or resolved to nothing.
    Resolve(io::Error),
    /// The address resolved to this one, which is not a loopback address,
    /// and [`Endpoint::allow_any_address`](crate::Endpoint::allow_any_address)
    /// was not called.
    NotLoopback(SocketAddr),
    /// Binding failed: the address is in use, or not this machine's.
    Bind(io::Error),
    /// The HTTP server did not start on the bound socket.
    Start(String),
}

impl ServeError {
    /// The address as it was given.
    ///
    /// ```
    /// let err = leakwatch_http::serve("10.1.2.3:6060").unwrap_err();
    /// assert_eq!(err.addr(), "10.1.2.3:6060");
    /// ```
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// What went wrong.
    ///
    /// ```
    /// let err = leakwatch_http::serve("no port").unwrap_err();
    /// assert!(matches!(err.kind(), leakwatch_http::ServeErrorKind::Resolve(_)));
    /// ```
    pub fn kind(&self) -> &ServeErrorKind {
        &self.kind
    }
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addr = &self.addr;
        match &self.kind {
            ServeErrorKind::Resolve(e) => {
                write!(f, "cannot serve leakwatch on `{addr}`: not an address: {e}")
            }
            ServeErrorKind::NotLoopback(resolved) => write!(
                f,
                "refusing to serve leakwatch on `{addr}`: {resolved} is not a loopback address, \
                 and /debug/leaks shows file paths, addresses and command lines to whoever \
                 connects; serve on 127.0.0.1 or [::1] and reach it through a port-forward or \
                 an authenticating proxy, or call Endpoint::allow_any_address() to serve it \
                 anyway"
            ),
            ServeErrorKind::Bind(e) => write!(f, "cannot serve leakwatch on `{addr}`: {e}"),
            ServeErrorKind::Start(e) => {
                write!(f, "cannot start leakwatch's server on `{addr}`: {e}")
            }
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ServeErrorKind::Resolve(e) | ServeErrorKind::Bind(e) => Some(e),
            ServeErrorKind::NotLoopback(_) | ServeErrorKind::Start(_) => None,
        }
    }
}

/// For a `main` that returns `std::io::Result`: the kind of a bind's
/// error is kept (`AddrInUse`), a refused address is `PermissionDenied`,
/// and the message is the [`ServeError`]'s.
impl From<ServeError> for io::Error {
    fn from(err: ServeError) -> io::Error {
        let kind = match &err.kind {
            ServeErrorKind::Resolve(e) | ServeErrorKind::Bind(e) => e.kind(),
            ServeErrorKind::NotLoopback(_) => io::ErrorKind::PermissionDenied,
            ServeErrorKind::Start(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, err.to_string())
    }
}

/// Binds `addr` (every address it resolves to must be loopback unless
/// `any_address`) and starts the thread that answers.
pub(crate) fn start(
    shared: Shared,
    addr: impl ToSocketAddrs + fmt::Display,
    any_address: bool,
) -> Result<Server, ServeError> {
    let error = |kind| ServeError {
        addr: addr.to_string(),
        kind,
    };
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| error(ServeErrorKind::Resolve(e)))?
        .collect();
    if resolved.is_empty() {
        return Err(error(ServeErrorKind::Resolve(io::Error::new(
            io::ErrorKind::NotFound,
            "it resolves to no address",
        ))));
    }
    if !any_address && let Some(&open) = resolved.iter().find(|a| !a.ip().is_loopback()) {
        return Err(error(ServeErrorKind::NotLoopback(open)));
    }
    let listener =
        std::net::TcpListener::bind(&resolved[..]).map_err(|e| error(ServeErrorKind::Bind(e)))?;
    let local = listener
        .local_addr()
        .map_err(|e| error(ServeErrorKind::Bind(e)))?;
    let http = tiny_http::Server::from_listener(listener, None)
        .map_err(|e| error(ServeErrorKind::Start(e.to_string())))?;
    let http = Arc::new(http);
    let stopping = Arc::new(AtomicBool::new(false));
    let thread = std::thread::Builder::new()
        .name("leakwatch-http".into())
        .spawn({
            let (http, stopping) = (Arc::clone(&http), Arc::clone(&stopping));
            move || answer_until_stopped(&shared, &http, &stopping)
        })
        .map_err(|e| {
            error(ServeErrorKind::Start(format!(
                "cannot start its thread: {e}"
            )))
        })?;
    Ok(Server {
        addr: local,
        http,
        stopping,
        thread,
    })
}

/// Answers requests one at a time until [`Server::shutdown`]. `recv` fails
/// both when unblocked by `shutdown` and when an accept fails (out of
/// descriptors, say); only the first ends the loop, and the second backs
/// off briefly so a lasting failure does not spin.
fn answer_until_stopped(shared: &Shared, http: &tiny_http::Server, stopping: &AtomicBool) {
    loop {
        match http.recv() {
            Ok(request) => answer_one(shared, request),
            Err(_) if stopping.load(Ordering::Acquire) => return,
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn answer_one(shared: &Shared, request: tiny_http::Request) {
    let (path, query) = match request.url().split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (request.url().to_owned(), None),
    };
    let answer = respond(shared, request.method().as_str(), &path, query.as_deref());
    let status = answer.status().as_u16();
    // Every header an answer carries is a fixed ASCII name and value, which
    // `from_bytes` always takes.
    let headers: Vec<tiny_http::Header> = answer
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            tiny_http::Header::from_bytes(name.as_str().as_bytes(), value.as_bytes()).ok()
        })
        .collect();
    let mut response = tiny_http::Response::from_data(answer.into_body()).with_status_code(status);
    for header in headers {
        response.add_header(header);
    }
    // A client that went away before the answer was written needs nothing
    // more; the next request is unaffected.
    let _ = request.respond(response);
}
