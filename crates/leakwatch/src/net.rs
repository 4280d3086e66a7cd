//! Tracked sockets: `std::net` types that report where they were opened.
//!
//! [`TcpStream`], [`TcpListener`] and [`UdpSocket`] are
//! [`Tracked`] std sockets whose constructors record the
//! addresses as the detail: `local -> peer` for a stream, the bound address
//! for a listener or a UDP socket. [`TcpListener`]'s `accept` and
//! `incoming` return tracked streams too. Everything else is there through `Deref`.
//!
//! ```
//! use std::io::{Read, Write};
//! use leakwatch::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let mut client = TcpStream::connect(listener.local_addr()?)?;
//! let (mut server, _peer) = listener.accept()?;
//! client.write_all(b"ping")?;
//! let mut buf = [0; 4];
//! server.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"ping");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::Tracked;

/// A tracked `std::net::TcpStream` (kind `"tcp"`).
///
/// ```
/// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let stream = leakwatch::net::TcpStream::connect(listener.local_addr()?)?;
/// println!("{:?}", stream.peer_addr()?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub type TcpStream = Tracked<std::net::TcpStream>;
/// A tracked `std::net::TcpListener` (kind `"tcp-listener"`).
///
/// ```
/// let listener = leakwatch::net::TcpListener::bind("127.0.0.1:0")?;
/// println!("{:?}", listener.local_addr()?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub type TcpListener = Tracked<std::net::TcpListener>;
/// A tracked `std::net::UdpSocket` (kind `"udp"`).
///
/// ```
/// let socket = leakwatch::net::UdpSocket::bind("127.0.0.1:0")?;
/// socket.send_to(b"ping", socket.local_addr()?)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub type UdpSocket = Tracked<std::net::UdpSocket>;

/// `local -> peer`, read from the socket only when a detail is recorded.
struct Ends<'a>(&'a std::net::TcpStream);

impl fmt::Display for Ends<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {}",
            Addr(self.0.local_addr()),
            Addr(self.0.peer_addr())
        )
    }
}

/// An address, or `?` when the socket could not say.
struct Addr(io::Result<SocketAddr>);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(addr) => addr.fmt(f),
            Err(_) => f.write_str("?"),
        }
    }
}

impl Tracked<std::net::TcpStream> {
    /// Connects like [`std::net::TcpStream::connect`], tracked from the
    /// caller's line.
    ///
    /// ```no_run
    /// let stream = leakwatch::net::TcpStream::connect("127.0.0.1:5432")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let stream = std::net::TcpStream::connect(addr).map_err(crate::exhausted::note)?;
        Ok(track_stream(stream))
    }

    /// Connects to `addr` within `timeout`, like
    /// [`std::net::TcpStream::connect_timeout`], tracked from the caller's
    /// line.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let stream = leakwatch::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let stream =
            std::net::TcpStream::connect_timeout(addr, timeout).map_err(crate::exhausted::note)?;
        Ok(track_stream(stream))
    }

    /// Starts tracking a stream made elsewhere, from the caller's line.
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let stream = leakwatch::net::TcpStream::from_std(std_stream);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn from_std(stream: std::net::TcpStream) -> TcpStream {
        track_stream(stream)
    }

    /// A second handle to the same socket, tracked on its own.
    ///
    /// ```
    /// # let listener = leakwatch::net::TcpListener::bind("127.0.0.1:0")?;
    /// let a = leakwatch::net::TcpStream::connect(listener.local_addr()?)?;
    /// let b = a.try_clone()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(track_stream((**self).try_clone()?))
    }
}

/// A tag for `socket`, holding its descriptor: a layer that sees libc's
/// calls (`leakwatch-interpose`) then reports the socket once, as this.
#[cfg(unix)]
#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
fn tag_for(
    kind: &'static str,
    socket: &impl std::os::fd::AsFd,
    detail: impl std::fmt::Display,
) -> crate::Tag {
    crate::Tag::for_fd_with_detail(kind, socket.as_fd(), detail)
}

#[cfg(not(unix))]
#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
fn tag_for<S>(kind: &'static str, _socket: &S, detail: impl std::fmt::Display) -> crate::Tag {
    crate::Tag::with_detail(kind, detail)
}

#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
fn track_stream(stream: std::net::TcpStream) -> TcpStream {
    let tag = tag_for("tcp", &stream, Ends(&stream));
    Tracked::from_parts(stream, tag)
}

impl Tracked<std::net::TcpListener> {
    /// Binds like [`std::net::TcpListener::bind`], tracked from the
    /// caller's line.
    ///
    /// ```
    /// let listener = leakwatch::net::TcpListener::bind("127.0.0.1:0")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let listener = std::net::TcpListener::bind(addr).map_err(crate::exhausted::note)?;
        Ok(track_listener(listener))
    }

    /// A second handle to the same listener, tracked on its own from the
    /// caller's line, like [`std::net::TcpListener::try_clone`].
    ///
    /// ```
    /// let a = leakwatch::net::TcpListener::bind("127.0.0.1:0")?;
    /// let b: leakwatch::net::TcpListener = a.try_clone()?;
    /// assert_eq!(a.local_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(track_listener((**self).try_clone()?))
    }

    /// Accepts a connection; the stream is tracked from the caller's line.
    ///
    /// ```
    /// let listener = leakwatch::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (stream, peer) = listener.accept()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = (**self).accept().map_err(crate::exhausted::note)?;
        Ok((track_stream(stream), peer))
    }

    /// Accepted connections, like [`std::net::TcpListener::incoming`], each
    /// a tracked stream opened at the caller's line (the line that made the
    /// iterator, whatever adapters pull from it).
    ///
    /// ```
    /// let listener = leakwatch::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// for stream in listener.incoming().take(1) {
    ///     let stream: leakwatch::net::TcpStream = stream?;
    ///     println!("{:?}", stream.peer_addr()?);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            #[cfg(any(debug_assertions, feature = "production"))]
            site: std::panic::Location::caller(),
        }
    }
}

/// The connections a [`TcpListener`] accepts, as tracked streams: made by
/// [`TcpListener::incoming`](Tracked::incoming). Never ends; each item is
/// an accepted stream or the error `accept` gave. With tracking compiled out
/// it is the size of std's `Incoming`.
///
/// ```
/// let listener = leakwatch::net::TcpListener::bind("127.0.0.1:0")?;
/// let incoming: leakwatch::net::Incoming<'_> = listener.incoming();
/// # drop(incoming);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a std::net::TcpListener,
    /// The line that made the iterator: each stream's open site.
    #[cfg(any(debug_assertions, feature = "production"))]
    site: &'static std::panic::Location<'static>,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| {
            #[cfg(all(unix, any(debug_assertions, feature = "production")))]
            let tag = {
                use std::os::fd::AsFd;
                crate::Tag::for_fd_with_detail_at("tcp", stream.as_fd(), Ends(&stream), self.site)
            };
            #[cfg(all(not(unix), any(debug_assertions, feature = "production")))]
            let tag = crate::Tag::with_detail_at("tcp", Ends(&stream), self.site);
            #[cfg(not(any(debug_assertions, feature = "production")))]
            let tag = crate::Tag::new("tcp");
            Tracked::from_parts(stream, tag)
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl Tracked<std::net::UdpSocket> {
    /// Binds like [`std::net::UdpSocket::bind`], tracked from the caller's
    /// line.
    ///
    /// ```
    /// let socket = leakwatch::net::UdpSocket::bind("127.0.0.1:0")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let socket = std::net::UdpSocket::bind(addr).map_err(crate::exhausted::note)?;
        Ok(track_udp(socket))
    }

    /// A second handle to the same socket, tracked on its own from the
    /// caller's line, like [`std::net::UdpSocket::try_clone`].
    ///
    /// ```
    /// let a = leakwatch::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b: leakwatch::net::UdpSocket = a.try_clone()?;
    /// assert_eq!(a.local_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(track_udp((**self).try_clone()?))
    }
}

#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
fn track_listener(listener: std::net::TcpListener) -> TcpListener {
    let tag = tag_for(
        "tcp-listener",
        &listener,
        format_args!("listening on {}", Addr(listener.local_addr())),
    );
    Tracked::from_parts(listener, tag)
}

#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
fn track_udp(socket: std::net::UdpSocket) -> UdpSocket {
    let tag = tag_for(
        "udp",
        &socket,
        format_args!("bound to {}", Addr(socket.local_addr())),
    );
    Tracked::from_parts(socket, tag)
}
