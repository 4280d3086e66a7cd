//! What tokio and mio create (an epoll instance, an eventfd waker, worker
//! threads, sockets) is charged to the scope that built the runtime, and a
//! runtime shut down leaves nothing.
#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::time::{Duration, Instant};

use leakwatch_core::Scope;
use leakwatch_interpose::{Census, FdKind, open_in};

#[test]
fn a_runtime_and_its_sockets_are_seen_and_shutdown_clears_them() {
    let scope = Scope::new("tokio");
    let rt = scope.run(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_io()
            .build()
            .unwrap()
    });
    let (listener, stream) = scope.run(|| {
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let stream = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            (listener, stream)
        })
    });
    let open = open_in(&[scope.id()]);
    let calls: Vec<_> = open.fds.iter().map(|f| f.created.call).collect();
    assert!(calls.contains(&"epoll_create1"), "{calls:?}");
    assert!(calls.contains(&"eventfd"), "{calls:?}");
    assert_eq!(
        calls.iter().filter(|&&c| c == "socket").count(),
        2,
        "{calls:?}"
    );
    assert!(open.threads.len() >= 2, "{open:?}");
    let census = Census::of(&open.fds.iter().map(|f| f.fd).collect::<Vec<_>>()).unwrap();
    let kinds: Vec<_> = census.iter().map(|(_, k)| k.to_string()).collect();
    assert!(kinds.iter().any(|k| k == "eventpoll"), "{kinds:?}");
    assert!(
        census
            .iter()
            .any(|(_, k)| matches!(k, FdKind::Tcp { state, .. } if state == "LISTEN")),
        "{kinds:?}"
    );

    drop((listener, stream));
    rt.shutdown_timeout(Duration::from_secs(5));
    // Worker threads finish just after the runtime lets them go.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !open_in(&[scope.id()]).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        open_in(&[scope.id()]).is_empty(),
        "{:?}",
        open_in(&[scope.id()])
    );
}
