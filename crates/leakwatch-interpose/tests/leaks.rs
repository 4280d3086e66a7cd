//! Leaks through plain std code, each with a clean twin: the leaky test
//! finds exactly what it leaked, the clean one nothing.
#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::os::fd::{AsRawFd, IntoRawFd};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use leakwatch_core::Scope;
use leakwatch_interpose::{Open, open_in};

fn open(scope: &Scope) -> Open {
    open_in(&[scope.id()])
}

/// A module that knows nothing of leakwatch and keeps a file for good.
mod config_cache {
    use std::fs::File;
    use std::sync::Mutex;

    static KEPT: Mutex<Vec<File>> = Mutex::new(Vec::new());

    pub fn load(path: &str) -> std::io::Result<u64> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        KEPT.lock().unwrap().push(file);
        Ok(len)
    }

    pub fn peek(path: &str) -> std::io::Result<u64> {
        Ok(File::open(path)?.metadata()?.len())
    }
}

#[test]
fn into_raw_fd_never_closed_is_found() {
    let scope = Scope::new("raw");
    let fd = scope.run(|| std::fs::File::open("Cargo.toml").unwrap().into_raw_fd());
    let found = open(&scope);
    assert_eq!(found.fds.len(), 1, "{found:?}");
    assert_eq!(found.fds[0].fd, fd);
    assert_eq!(found.fds[0].created.call, "open64");
    // SAFETY: `fd` came from `into_raw_fd` above and is owned by nothing else.
    drop(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) });
}

#[test]
fn into_raw_fd_then_closed_is_clean() {
    let scope = Scope::new("raw-closed");
    scope.run(|| {
        let fd = std::fs::File::open("Cargo.toml").unwrap().into_raw_fd();
        // SAFETY: `fd` came from `into_raw_fd` and is closed once, here.
        assert_eq!(unsafe { libc::close(fd) }, 0);
    });
    assert!(open(&scope).is_empty(), "{:?}", open(&scope));
}

#[test]
fn file_parked_in_a_global_by_a_plain_module_is_found() {
    let scope = Scope::new("global");
    scope.run(|| config_cache::load("Cargo.toml").unwrap());
    let found = open(&scope);
    assert_eq!(found.fds.len(), 1, "{found:?}");
    assert_eq!(found.fds[0].created.scope, scope.id());
}

#[test]
fn file_read_by_a_plain_module_and_dropped_is_clean() {
    let scope = Scope::new("global-clean");
    scope.run(|| config_cache::peek("Cargo.toml").unwrap());
    assert!(open(&scope).is_empty());
}

#[test]
fn leaked_pipe_pair_is_found() {
    let scope = Scope::new("pipe");
    let (r, w) = scope.run(std::io::pipe).unwrap();
    let (r_fd, w_fd) = (r.as_raw_fd(), w.as_raw_fd());
    std::mem::forget((r, w));
    let fds: Vec<_> = open(&scope)
        .fds
        .iter()
        .map(|f| (f.fd, f.created.call))
        .collect();
    assert_eq!(fds, [(r_fd, "pipe2"), (w_fd, "pipe2")]);
}

#[test]
fn dropped_pipe_pair_is_clean() {
    let scope = Scope::new("pipe-clean");
    scope.run(|| drop(std::io::pipe().unwrap()));
    assert!(open(&scope).is_empty());
}

/// Senders that keep the leaked threads blocked for the rest of the run.
static KEEP_BLOCKED: Mutex<Vec<std::sync::mpsc::Sender<()>>> = Mutex::new(Vec::new());

/// A plain std thread that blocks until the process ends.
fn spawn_forever(name: &str) -> std::thread::JoinHandle<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    KEEP_BLOCKED.lock().unwrap().push(tx);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = rx.recv();
        })
        .unwrap()
}

#[test]
fn thread_never_joined_is_found() {
    let scope = Scope::new("thread");
    let handle = scope.run(|| spawn_forever("leaky-worker"));
    let found = wait_for(
        || open(&scope),
        |o| o.threads.iter().all(|t| t.tid.is_some()),
    );
    assert_eq!(found.threads.len(), 1, "{found:?}");
    assert_eq!(found.threads[0].created.call, "pthread_create");
    drop(handle); // detached, still running
}

#[test]
fn thread_joined_is_clean() {
    let scope = Scope::new("thread-clean");
    scope.run(|| std::thread::spawn(|| ()).join().unwrap());
    assert!(open(&scope).is_empty());
}

/// A thread that ends where no hook sees it end (here a raw `exit` system
/// call, which skips its start routine's return) is not charged to its
/// scope once it is gone.
#[test]
fn a_thread_gone_without_returning_is_forgotten() {
    let scope = Scope::new("thread-gone");
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    scope.run(|| {
        std::thread::spawn(move || {
            // SAFETY: `gettid` has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            // SAFETY: ends this thread only; it holds no lock and nothing
            // waits for it.
            unsafe { libc::syscall(libc::SYS_exit, 0) };
        })
    });
    let tid = tid_rx.recv().unwrap();
    let task = format!("/proc/self/task/{tid}");
    for _ in 0..1000 {
        if !std::path::Path::new(&task).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(
        !std::path::Path::new(&task).exists(),
        "the thread still runs"
    );
    assert_eq!(leakwatch_interpose::counts_in(&[scope.id()]).threads, 0);
    assert!(open(&scope).is_empty());
}

#[test]
fn child_never_waited_is_found_and_waiting_clears_it() {
    let scope = Scope::new("child");
    let mut child = scope.run(|| Command::new("sleep").arg("30").spawn().unwrap());
    let found = open(&scope);
    assert_eq!(found.children.len(), 1, "{found:?}");
    assert_eq!(found.children[0].pid, child.id() as i32);
    assert_eq!(found.children[0].created.call, "posix_spawnp");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(open(&scope).is_empty());
}

#[test]
fn child_waited_is_clean() {
    let scope = Scope::new("child-clean");
    let status = scope.run(|| Command::new("true").status().unwrap());
    assert!(status.success());
    assert!(open(&scope).is_empty(), "{:?}", open(&scope));
}

#[test]
fn zombie_child_is_found() {
    let scope = Scope::new("zombie");
    let child = scope.run(|| Command::new("true").stdin(Stdio::null()).spawn().unwrap());
    let pid = child.id() as i32;
    drop(child);
    // It exits at once and, never waited for, stays a zombie.
    let state = wait_for(
        || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default(),
        |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        },
    );
    assert!(!state.is_empty());
    let found = open(&scope);
    assert_eq!(
        found.children.iter().map(|c| c.pid).collect::<Vec<_>>(),
        [pid]
    );
    reap(pid);
    assert!(open(&scope).is_empty());
}

fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waits for our own child, writing its status to a local.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
}

/// Polls `get` until `done` holds, for at most five seconds.
fn wait_for<T>(get: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    tests_support::wait::until(Duration::from_secs(5), Duration::from_millis(5), get, done)
}

mod described {
    use super::*;
    use leakwatch_interpose::{Census, ChildState, FdKind, describe_child, describe_thread};

    #[test]
    fn a_leaked_file_is_named_by_its_path() {
        let scope = Scope::new("path");
        let fd = scope.run(|| std::fs::File::open("Cargo.toml").unwrap().into_raw_fd());
        let fds: Vec<_> = open(&scope).fds.iter().map(|f| f.fd).collect();
        let census = Census::of(&fds).unwrap();
        let want = std::fs::canonicalize("Cargo.toml").unwrap();
        assert_eq!(census.get(fd), Some(&FdKind::File { path: want }));
        // SAFETY: `fd` came from `into_raw_fd` above and is closed once.
        unsafe { libc::close(fd) };
    }

    #[test]
    fn sockets_show_protocol_addresses_and_state() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let census =
            Census::of(&[listener.as_raw_fd(), client.as_raw_fd(), udp.as_raw_fd()]).unwrap();
        let l = listener.local_addr().unwrap();
        assert_eq!(
            census.get(listener.as_raw_fd()).unwrap().to_string(),
            format!("tcp {l} (LISTEN)")
        );
        assert_eq!(
            census.get(client.as_raw_fd()).unwrap().to_string(),
            format!("tcp {} -> {l} (ESTABLISHED)", client.local_addr().unwrap())
        );
        assert_eq!(
            census.get(udp.as_raw_fd()).unwrap().to_string(),
            format!("udp {}", udp.local_addr().unwrap())
        );
    }

    #[test]
    fn unix_sockets_show_their_path_and_type() {
        use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

        let path = std::env::temp_dir().join(format!("lw-interpose-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        let dgram = UnixDatagram::unbound().unwrap();
        let census = Census::of(&[listener.as_raw_fd(), a.as_raw_fd(), dgram.as_raw_fd()]).unwrap();
        assert_eq!(
            census.get(listener.as_raw_fd()).unwrap().to_string(),
            format!("unix stream {}", path.display())
        );
        assert_eq!(
            census.get(a.as_raw_fd()).unwrap().to_string(),
            "unix stream (unnamed)"
        );
        assert_eq!(
            census.get(dgram.as_raw_fd()).unwrap().to_string(),
            "unix dgram (unnamed)"
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn ipv6_sockets_show_their_addresses() {
        let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
            return; // no IPv6 loopback on this machine
        };
        let census = Census::of(&[listener.as_raw_fd()]).unwrap();
        assert_eq!(
            census.get(listener.as_raw_fd()).unwrap().to_string(),
            format!("tcp {} (LISTEN)", listener.local_addr().unwrap())
        );
    }

    #[test]
    fn a_census_of_the_whole_process_includes_stdout_and_stderr() {
        let census = Census::take().unwrap();
        for fd in 1..3 {
            assert!(census.get(fd).is_some(), "fd {fd}: {census:?}");
        }
        assert!(census.get(-1).is_none());
    }

    #[test]
    fn pipes_and_anonymous_inodes_are_named() {
        let (r, _w) = std::io::pipe().unwrap();
        // SAFETY: plain descriptor-creating calls; each result is checked
        // and closed below.
        let (efd, epfd, tfd, ifd, mfd) = unsafe {
            (
                libc::eventfd(0, libc::EFD_CLOEXEC),
                libc::epoll_create1(libc::EPOLL_CLOEXEC),
                libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC),
                libc::inotify_init1(libc::IN_CLOEXEC),
                libc::memfd_create(c"scratch".as_ptr(), libc::MFD_CLOEXEC),
            )
        };
        let fds = [r.as_raw_fd(), efd, epfd, tfd, ifd, mfd];
        assert!(fds.iter().all(|&fd| fd >= 0));
        let census = Census::of(&fds).unwrap();
        let names: Vec<_> = fds
            .iter()
            .map(|&fd| census.get(fd).unwrap().to_string())
            .collect();
        assert!(names[0].starts_with("pipe inode "), "{names:?}");
        assert_eq!(names[1..5], ["eventfd", "eventpoll", "timerfd", "inotify"]);
        assert!(names[5].starts_with("memfd scratch"), "{names:?}");
        for fd in &fds[1..] {
            // SAFETY: each was opened above and is closed once.
            unsafe { libc::close(*fd) };
        }
    }

    #[test]
    fn a_leaked_thread_is_named() {
        let scope = Scope::new("named");
        scope.run(|| spawn_forever("cache-refresher"));
        let found = wait_for(
            || open(&scope),
            |o| o.threads.iter().all(|t| t.tid.is_some()),
        );
        let tid = found.threads[0].tid.unwrap();
        assert_eq!(describe_thread(tid).unwrap().name, "cache-refresher");
    }

    #[test]
    fn children_show_state_and_command_line() {
        let scope = Scope::new("children");
        let mut running = scope.run(|| Command::new("sleep").arg("30").spawn().unwrap());
        let zombie = scope.run(|| Command::new("true").spawn().unwrap());
        let zpid = zombie.id() as i32;
        drop(zombie);
        let z = wait_for(
            || describe_child(zpid).unwrap(),
            |d| d.state == ChildState::Zombie,
        );
        assert_eq!(
            (z.state, z.command.clone()),
            (ChildState::Zombie, vec!["true".to_owned()])
        );
        // Just after exec its arguments may not be in place yet.
        let r = wait_for(
            || describe_child(running.id() as i32).unwrap(),
            |d| d.command.len() == 2,
        );
        assert_eq!(
            (r.state, r.command),
            (
                ChildState::Running,
                vec!["sleep".to_owned(), "30".to_owned()]
            )
        );
        assert_eq!(open(&scope).children.len(), 2);
        running.kill().unwrap();
        running.wait().unwrap();
        reap(zpid);
        assert!(open(&scope).is_empty());
    }

    #[test]
    fn an_unreadable_entry_is_named_in_the_error() {
        let err = describe_thread(i32::MAX).unwrap_err();
        assert_eq!(err.entry(), format!("/proc/self/task/{}/stat", i32::MAX));
        assert!(
            err.to_string().contains("cannot read /proc/self/task/"),
            "{err}"
        );
    }
}
