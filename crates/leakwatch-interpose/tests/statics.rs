//! What a static's initializer opens or starts belongs to the process, not
//! to the scope that happened to touch the static first; what a scope opens
//! later and leaves in the static stays its own.
#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::fs::File;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{LazyLock, Mutex, OnceLock};

use leakwatch_core::Scope;
use leakwatch_interpose::open_in;

static CONFIG: LazyLock<File> = LazyLock::new(|| File::open("Cargo.toml").unwrap());
static ONCE_CONFIG: OnceLock<File> = OnceLock::new();
static POOL: LazyLock<Mutex<Vec<File>>> = LazyLock::new(|| Mutex::new(Vec::new()));

#[test]
fn a_file_a_lazy_lock_opens_is_the_processes() {
    let scope = Scope::new("lazy");
    scope.run(|| assert!(CONFIG.metadata().unwrap().len() > 0));
    assert!(
        open_in(&[scope.id()]).is_empty(),
        "{:?}",
        open_in(&[scope.id()])
    );
}

#[test]
fn a_file_a_once_lock_opens_is_the_processes() {
    let scope = Scope::new("once-lock");
    scope.run(|| ONCE_CONFIG.get_or_init(|| File::open("Cargo.toml").unwrap()));
    assert!(
        open_in(&[scope.id()]).is_empty(),
        "{:?}",
        open_in(&[scope.id()])
    );
}

#[test]
fn a_file_left_in_a_static_after_its_initialization_is_the_scopes() {
    let scope = Scope::new("pooled");
    scope.run(|| POOL.lock().unwrap().push(File::open("Cargo.toml").unwrap()));
    let open = open_in(&[scope.id()]);
    assert_eq!(open.fds.len(), 1, "{open:?}");
    POOL.lock().unwrap().clear();
    assert!(open_in(&[scope.id()]).is_empty());
}

/// A worker thread a static starts, which opens files when asked.
struct Worker {
    ask: Mutex<Sender<Sender<File>>>,
}

static WORKER: LazyLock<Worker> = LazyLock::new(|| {
    let (ask, asked): (Sender<Sender<File>>, Receiver<Sender<File>>) = channel();
    std::thread::Builder::new()
        .name("static-worker".into())
        .spawn(move || {
            for reply in asked {
                let _ = reply.send(File::open("Cargo.toml").unwrap());
            }
        })
        .unwrap();
    Worker {
        ask: Mutex::new(ask),
    }
});

#[test]
fn a_thread_a_static_starts_and_what_it_opens_later_are_the_processes() {
    let scope = Scope::new("worker");
    let file = scope.run(|| {
        let (reply, replied) = channel();
        WORKER.ask.lock().unwrap().send(reply).unwrap();
        replied.recv().unwrap()
    });
    let kept: Vec<File> = (0..2)
        .map(|_| {
            let (reply, replied) = channel();
            WORKER.ask.lock().unwrap().send(reply).unwrap();
            replied.recv().unwrap()
        })
        .collect();
    assert!(
        open_in(&[scope.id()]).is_empty(),
        "{:?}",
        open_in(&[scope.id()])
    );
    drop((file, kept));
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
});

/// Eight scopes in parallel share one multi-thread runtime in a static;
/// each odd one leaks a file of its own: the even ones have nothing (not
/// the runtime's threads, epoll or eventfd, whichever touched it first),
/// and each odd one exactly its file.
#[test]
fn parallel_scopes_sharing_a_static_runtime_each_see_only_their_own() {
    let leaked: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                s.spawn(move || {
                    let scope = Scope::new(format!("shared-{i}"));
                    let file = scope.run(|| {
                        RUNTIME.block_on(async {
                            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                        });
                        (i % 2 == 1).then(|| File::open("Cargo.toml").unwrap())
                    });
                    let open = open_in(&[scope.id()]);
                    (i, open, file)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, open, file) in leaked {
        if i % 2 == 0 {
            assert!(open.is_empty(), "scope {i}: {open:?}");
        } else {
            assert_eq!(open.fds.len(), 1, "scope {i}: {open:?}");
            assert!(
                open.threads.is_empty() && open.children.is_empty(),
                "scope {i}: {open:?}"
            );
        }
        drop(file);
    }
}
