//! std's own descriptors, threads and children reach the hooks.
#![cfg(all(target_os = "linux", target_env = "gnu", debug_assertions))]

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

use leakwatch_core::Scope;
use leakwatch_interpose::{Support, open_in};

#[test]
fn file_open_is_seen_and_close_forgets_it() {
    assert_eq!(leakwatch_interpose::support(), Support::Active);
    let scope = Scope::new("file");
    let file = scope.run(|| std::fs::File::open("Cargo.toml").unwrap());
    let open = open_in(&[scope.id()]);
    assert_eq!(open.fds.len(), 1, "{open:?}");
    assert_eq!(open.fds[0].created.call, "open64");
    assert_eq!(open.fds[0].created.scope, scope.id());
    drop(file);
    assert!(open_in(&[scope.id()]).is_empty());
}

#[test]
fn tcp_connect_and_accept_are_seen() {
    let scope = Scope::new("tcp");
    let (listener, client, server) = scope.run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (listener, client, server)
    });
    let calls: Vec<_> = open_in(&[scope.id()])
        .fds
        .iter()
        .map(|f| f.created.call)
        .collect();
    assert_eq!(calls, ["socket", "socket", "accept4"]);
    drop((listener, client, server));
    assert!(open_in(&[scope.id()]).is_empty());
}

#[test]
fn thread_spawn_is_seen_until_it_returns() {
    let scope = Scope::new("thread");
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let handle = scope.run(|| std::thread::spawn(move || rx.recv().ok()));
    let open = open_in(&[scope.id()]);
    assert_eq!(open.threads.len(), 1, "{open:?}");
    assert_eq!(open.threads[0].created.call, "pthread_create");
    drop(tx);
    handle.join().unwrap();
    assert!(open_in(&[scope.id()]).threads.is_empty());
}

#[test]
fn command_spawn_is_seen_until_waited() {
    let scope = Scope::new("child");
    let mut child = scope.run(|| {
        Command::new("sleep")
            .arg("0")
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    });
    let open = open_in(&[scope.id()]);
    assert_eq!(open.children.len(), 1, "{open:?}");
    assert_eq!(open.children[0].pid, child.id() as i32);
    child.wait().unwrap();
    assert!(
        open_in(&[scope.id()]).is_empty(),
        "{:?}",
        open_in(&[scope.id()])
    );
}
