//! Tracked sockets: `std::net` types that report where they were opened.
//!
//! [`TcpStream`], [`TcpListener`] and [`UdpSocket`] are
//! [`Tracked`] std sockets whose constructors record the
//! addresses as the detail: `local -> peer` for a stream, the bound address
//! for a listener or a UDP socket. [`TcpListener`]'s `accept` returns a
//! tracked stream too. Everything else is there through `Deref`.
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
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let stream = std::net::TcpStream::connect(addr)?;
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

#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
fn track_stream(stream: std::net::TcpStream) -> TcpStream {
    let tag = crate::Tag::with_detail("tcp", Ends(&stream));
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
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let listener = std::net::TcpListener::bind(addr)?;
        let tag = crate::Tag::with_detail(
            "tcp-listener",
            format_args!("listening on {}", Addr(listener.local_addr())),
        );
        Ok(Tracked::from_parts(listener, tag))
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
        let (stream, peer) = (**self).accept()?;
        Ok((track_stream(stream), peer))
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
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let socket = std::net::UdpSocket::bind(addr)?;
        let tag = crate::Tag::with_detail(
            "udp",
            format_args!("bound to {}", Addr(socket.local_addr())),
        );
        Ok(Tracked::from_parts(socket, tag))
    }
}
