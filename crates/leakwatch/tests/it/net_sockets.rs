//! Tracked sockets: a stream parked in a connection cache, a listener left
//! bound, a UDP socket forgotten; and the clean versions.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Mutex;

use crate::support::{leaks, only_group};
use leakwatch::Scope;
use leakwatch::integration::Finding;
use leakwatch::net::{TcpListener, TcpStream, UdpSocket};

static POOL: Mutex<Option<HashMap<String, TcpStream>>> = Mutex::new(None);

#[test]
fn stream_parked_in_a_cache_is_reported_with_its_addresses() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let scope = Scope::new("cache");
    let line = scope.run(|| {
        let (stream, line) = (TcpStream::connect(server).unwrap(), line!());
        POOL.lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .insert("primary".into(), stream);
        line
    });
    let report = leaks(&scope);
    let group = only_group(&report, "tcp", Finding::StillOpen, line);
    let detail = &group.details()[0];
    assert!(detail.ends_with(&format!(" -> {server}")), "{detail}");
    assert!(detail.starts_with("127.0.0.1:"), "{detail}");
    POOL.lock().unwrap().take();
    assert!(scope.check_now().is_ok());
}

#[test]
fn listener_and_accepted_stream_are_tracked_separately() {
    let scope = Scope::new("listener");
    let (bind_line, accept_line, kept) = scope.run(|| {
        let (listener, bind_line) = (TcpListener::bind("127.0.0.1:0").unwrap(), line!());
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let ((mut accepted, _), accept_line) = (listener.accept().unwrap(), line!());
        client.write_all(b"hi").unwrap();
        let mut buf = [0; 2];
        accepted.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        (bind_line, accept_line, (listener, accepted))
    });
    let report = leaks(&scope);
    let mut lines: Vec<_> = report
        .groups()
        .iter()
        .map(|g| (g.kind(), g.site().line()))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [("tcp", accept_line), ("tcp-listener", bind_line)],
        "{report}"
    );
    drop(kept);
    assert!(scope.check_now().is_ok());
}

#[test]
fn streams_from_incoming_are_reported_at_the_line_that_made_the_iterator() {
    let scope = Scope::new("incoming");
    let listener = scope.run(|| TcpListener::bind("127.0.0.1:0").unwrap());
    // The clients are the test's own, opened outside the scope.
    let clients: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap())
        .collect();
    let (line, kept) = scope.run(|| {
        // Through an adapter: the site is still this line, not core's.
        let (incoming, line) = (listener.incoming().take(2), line!());
        let accepted: Vec<TcpStream> = incoming.map(Result::unwrap).collect();
        (line, accepted)
    });
    let kept = (listener, clients, kept);
    let (listener, clients, accepted) = kept;
    drop(listener);
    let report = leaks(&scope);
    let group = only_group(&report, "tcp", Finding::StillOpen, line);
    assert_eq!(group.count(), 2, "{report}");
    // Each detail is `server -> client`, for one of the clients.
    let peers: Vec<String> = clients
        .iter()
        .map(|c| format!(" -> {}", c.local_addr().unwrap()))
        .collect();
    for detail in group.details() {
        assert!(peers.iter().any(|p| detail.ends_with(p)), "{detail}");
    }
    drop((clients, accepted));
    assert!(scope.check_now().is_ok());
}

#[test]
fn streams_from_incoming_handled_in_time_pass() {
    leakwatch::check(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(b"hi").unwrap();
        for stream in listener.incoming().take(1) {
            let mut stream = stream.unwrap();
            let mut buf = [0; 2];
            stream.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"hi");
        }
    });
}

#[test]
fn forgotten_udp_socket_is_reported() {
    let scope = Scope::new("udp");
    let line = scope.run(|| {
        let (socket, line) = (UdpSocket::bind("127.0.0.1:0").unwrap(), line!());
        std::mem::forget(socket);
        line
    });
    let report = leaks(&scope);
    let group = only_group(&report, "udp", Finding::StillOpen, line);
    assert!(
        group.details()[0].starts_with("bound to 127.0.0.1:"),
        "{report}"
    );
}

#[test]
fn sockets_closed_in_time_pass() {
    leakwatch::check(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let again = client.try_clone().unwrap();
        drop((client, server, again));
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.send_to(b"x", udp.local_addr().unwrap()).unwrap();
    });
}
