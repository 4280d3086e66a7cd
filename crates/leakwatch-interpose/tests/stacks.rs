//! Raw stacks at creation: captured when asked for, naming the caller.
#![cfg(all(leakwatch_hooks, debug_assertions))]

mod support;
use support::names;

use std::os::fd::IntoRawFd;

use leakwatch_core::Scope;
use leakwatch_interpose::{Stacks, open_in, set_stacks};

#[inline(never)]
fn open_config_here() -> i32 {
    std::hint::black_box(std::fs::File::open("Cargo.toml").unwrap().into_raw_fd())
}

#[inline(never)]
fn spawn_worker_here() -> std::thread::JoinHandle<()> {
    std::hint::black_box(std::thread::spawn(|| ()))
}

/// One test, since the settings it changes are process-wide.
#[test]
fn stacks_name_the_opening_function_when_asked_for() {
    let scope = Scope::new("stacks");

    // At the default level of a test build every creation in a scope
    // carries its stack, so a report can name the user's line...
    leakwatch_core::set_level(leakwatch_core::Level::Sites);
    set_stacks(Stacks::AtLevel);
    let fd = scope.run(open_config_here);
    let open = open_in(&[scope.id()]);
    let frames = names(&open.fds[0].created.stack);
    assert!(
        frames.iter().any(|f| f.ends_with("open_config_here")),
        "{frames:#?}"
    );
    // SAFETY: `fd` came from `into_raw_fd` and is closed once.
    unsafe { libc::close(fd) };
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let blocked = scope.run(|| std::thread::spawn(move || rx.recv().ok()));
    assert!(!open_in(&[scope.id()]).threads[0].created.stack.is_empty());
    drop(tx);
    blocked.join().unwrap();

    // ...and so does every one when asked for.
    set_stacks(Stacks::Always);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let blocked = scope.run(|| std::thread::spawn(move || rx.recv().ok()));
    let frames = names(&open_in(&[scope.id()]).threads[0].created.stack);
    assert!(
        frames
            .iter()
            .any(|f| f.contains("stacks_name_the_opening_function")),
        "{frames:#?}"
    );
    drop(tx);
    blocked.join().unwrap();
    let fd = scope.run(open_config_here);
    let open = open_in(&[scope.id()]);
    let frames = names(&open.fds[0].created.stack);
    assert!(
        frames.iter().any(|f| f.ends_with("open_config_here")),
        "{frames:#?}"
    );
    // SAFETY: as above.
    unsafe { libc::close(fd) };

    // At LEAKWATCH=stacks they do by default.
    set_stacks(Stacks::AtLevel);
    leakwatch_core::set_level(leakwatch_core::Level::Stacks);
    let fd = scope.run(open_config_here);
    let frames = names(&open_in(&[scope.id()]).fds[0].created.stack);
    leakwatch_core::set_level(leakwatch_core::Level::Sites);
    assert!(
        frames.iter().any(|f| f.ends_with("open_config_here")),
        "{frames:#?}"
    );
    // SAFETY: as above.
    unsafe { libc::close(fd) };

    set_stacks(Stacks::Never);
    let handle = scope.run(spawn_worker_here);
    let open = open_in(&[scope.id()]);
    assert!(open.threads.iter().all(|t| t.created.stack.is_empty()));
    handle.join().unwrap();
    set_stacks(Stacks::AtLevel);

    // LEAKWATCH=off, and `set_recording(false)`, record nothing.
    leakwatch_core::set_level(leakwatch_core::Level::Off);
    let off = scope.run(|| std::fs::File::open("Cargo.toml").unwrap());
    leakwatch_core::set_level(leakwatch_core::Level::Sites);
    leakwatch_interpose::set_recording(false);
    let paused = scope.run(|| std::fs::File::open("Cargo.toml").unwrap());
    leakwatch_interpose::set_recording(true);
    assert!(open_in(&[scope.id()]).is_empty());
    drop((off, paused));
}
