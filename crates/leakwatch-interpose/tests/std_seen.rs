//! std's own descriptors, threads and children reach the hooks.
#![cfg(all(leakwatch_hooks, debug_assertions))]

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

#[test]
fn fork_is_seen_and_the_child_records_nothing() {
    let scope = Scope::new("fork");
    // SAFETY: the child only reads an atomic (through `support`) and calls
    // `_exit`, both async-signal-safe.
    let pid = scope.run(|| unsafe { libc::fork() });
    if pid == 0 {
        let code = match leakwatch_interpose::support() {
            Support::Unavailable(_) => 0,
            Support::Active => 1,
        };
        // SAFETY: ends the forked child without running the parent's
        // destructors or atexit handlers.
        unsafe { libc::_exit(code) };
    }
    assert!(pid > 0);
    let open = open_in(&[scope.id()]);
    assert_eq!(open.children.len(), 1, "{open:?}");
    assert_eq!(
        (open.children[0].pid, open.children[0].created.call),
        (pid, "fork")
    );
    let mut status = 0;
    // SAFETY: waits for our own child into a local.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child still recorded"
    );
    assert!(open_in(&[scope.id()]).is_empty());
}

#[test]
fn waitid_reaps_and_wnowait_does_not() {
    let scope = Scope::new("waitid");
    let child = scope.run(|| Command::new("true").spawn().unwrap());
    let pid = child.id() as i32;
    // SAFETY: `info` is a writable `siginfo_t` for our own child's state.
    let mut info = unsafe { std::mem::zeroed::<libc::siginfo_t>() };
    // SAFETY: as above; WNOWAIT leaves the child waitable.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    assert_eq!(rc, 0);
    assert_eq!(
        open_in(&[scope.id()]).children.len(),
        1,
        "WNOWAIT does not reap"
    );
    // SAFETY: as above, now reaping.
    let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED) };
    assert_eq!(rc, 0);
    assert!(open_in(&[scope.id()]).is_empty());
    drop(child);
}

#[test]
fn a_thread_ending_in_pthread_exit_is_seen_to_end() {
    extern "C" fn exits(_: *mut std::ffi::c_void) -> *mut std::ffi::c_void {
        // SAFETY: no Rust frame with a destructor lies between here and
        // the thread's start (see the trampoline in the hooks).
        unsafe { libc::pthread_exit(std::ptr::null_mut()) }
    }
    let scope = Scope::new("pthread_exit");
    let mut thread: libc::pthread_t = 0;
    // SAFETY: `thread` is writable; default attributes; `exits` ignores
    // its argument.
    let rc = scope.run(|| unsafe {
        libc::pthread_create(&mut thread, std::ptr::null(), exits, std::ptr::null_mut())
    });
    assert_eq!(rc, 0);
    // SAFETY: joins the thread created above, once.
    let joined = unsafe { libc::pthread_join(thread, std::ptr::null_mut()) };
    assert_eq!(joined, 0);
    assert!(open_in(&[scope.id()]).threads.is_empty());
}

#[test]
fn fcntl_dupfd_and_dup2_are_seen() {
    use std::os::fd::AsRawFd;

    let scope = Scope::new("dup");
    let file = std::fs::File::open("Cargo.toml").unwrap();
    let (clone, target) = scope.run(|| {
        let clone = file.try_clone().unwrap();
        // SAFETY: duplicates an open descriptor onto a new number.
        let target = unsafe { libc::dup(file.as_raw_fd()) };
        // SAFETY: `target` was just opened by `dup`; `dup2` onto it makes
        // no new descriptor, so its record stays the `dup`'s.
        assert_eq!(unsafe { libc::dup2(file.as_raw_fd(), target) }, target);
        (clone, target)
    });
    let calls: Vec<_> = open_in(&[scope.id()])
        .fds
        .iter()
        .map(|f| (f.fd, f.created.call))
        .collect();
    assert_eq!(calls, [(clone.as_raw_fd(), "fcntl"), (target, "dup")]);
    // `dup2` onto itself changes nothing, so the record stays the opener's.
    let other = Scope::new("other");
    // SAFETY: `target` is open; duplicating it onto itself changes nothing.
    let same = other.run(|| unsafe { libc::dup2(target, target) });
    assert_eq!(same, target);
    assert!(open_in(&[other.id()]).is_empty());
    assert_eq!(open_in(&[scope.id()]).fds.len(), 2);
    // SAFETY: closes `target`, opened above, once.
    unsafe { libc::close(target) };
    drop(clone);
    assert!(open_in(&[scope.id()]).is_empty());
}
