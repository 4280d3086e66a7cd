use super::*;
use super::queries::{Among, scan_among};

/// Creating a scope decides the level, so hooks, which never read the
/// environment, record from then on.
#[test]
fn a_scope_makes_the_level_known_to_the_hooks() {
    let _scope = leakwatch_core::Scope::new("level");
    assert!(leakwatch_core::level_if_known().is_some());
    assert!(recording());
}

/// A child's atfork handler that calls a hooked function while a thread of
/// the parent held the slot it would write (here the forking thread itself
/// holds it) passes straight through rather than wait for ever.
#[test]
fn an_atfork_handler_in_the_child_never_waits_on_the_parents_locks() {
    use std::sync::Once;

    /// The number the handler duplicates onto: used by nothing else.
    const TARGET: i32 = 1000;
    static ARMED: AtomicBool = AtomicBool::new(false);
    extern "C" fn in_child() {
        if ARMED.load(Ordering::Relaxed) {
            // SAFETY: duplicates stdin onto a number this test owns.
            unsafe { libc::dup2(0, TARGET) };
        }
    }
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a child handler that is async-signal-safe
        // (`dup2` only, and only while armed).
        assert_eq!(unsafe { libc::pthread_atfork(None, None, Some(in_child)) }, 0);
    });

    let _scope = leakwatch_core::Scope::new("fork");
    let held = lock(&FDS[TARGET as usize]);
    ARMED.store(true, Ordering::Relaxed);
    // SAFETY: the child only runs the handler above and `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    ARMED.store(false, Ordering::Relaxed);
    drop(held);
    assert!(pid > 0, "fork failed");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child without blocking.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the forked child hung in its atfork handler");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
}


/// A `close` that finds its thread busy (as in a signal handler that
/// interrupted a hook) leaves the record, and the next query, finding the
/// descriptor closed, forgets it.
#[test]
fn a_close_while_busy_skips_the_table_and_queries_forget_it() {
    use std::os::fd::IntoRawFd;

    let scope = leakwatch_core::Scope::new("busy");
    let fd = scope.run(|| std::fs::File::open("Cargo.toml").unwrap().into_raw_fd());
    assert_eq!(FDS[fd as usize].peek_state(), State::Live);
    let busy = Busy::tables().expect("not busy outside a hook");
    assert!(Busy::tables().is_none(), "busy while a write is marked");
    // SAFETY: `fd` came from `into_raw_fd` above and is closed once.
    assert_eq!(unsafe { libc::close(fd) }, 0);
    drop(busy);
    assert_eq!(FDS[fd as usize].peek_state(), State::Live, "the busy close left it");
    assert!(open_in(&[scope.id()]).fds.is_empty());
    assert_eq!(FDS[fd as usize].peek_state(), State::Free, "the query forgot it");
}

/// Calls a hook makes itself (inside `Busy`) pass straight through, and
/// leave the hook's mark as it was.
#[test]
fn calls_made_inside_a_hook_are_not_recorded() {
    let scope = leakwatch_core::Scope::new("nested");
    let busy = Busy::enter().expect("recording, and not inside a hook");
    let file = scope.run(|| std::fs::File::open("Cargo.toml").unwrap());
    assert!(Busy::enter().is_none(), "still inside the hook");
    drop(busy);
    assert!(open_in(&[scope.id()]).is_empty());
    drop(file);
    let kept = scope.run(|| std::fs::File::open("Cargo.toml").unwrap());
    assert_eq!(open_in(&[scope.id()]).fds.len(), 1);
    drop(kept);
}

/// A slot claimed for a new thread or child belongs to no scope until its
/// creator writes the record: a query for the scope of the slot's previous
/// record, made in between, finds nothing.
#[test]
fn a_claimed_slot_is_no_earlier_scopes() {
    static TABLE: [Record; 2] = [const { Record::new() }; 2];
    static HINT: AtomicUsize = AtomicUsize::new(0);
    let earlier = leakwatch_core::Scope::new("earlier");
    {
        let g = lock(&TABLE[0]);
        g.set_scope(earlier.id());
        g.set_state(State::Live);
    }
    let mut found = 0;
    scan_among(&TABLE, Among::Scopes(&[earlier.id()]), |_, _, _| found += 1);
    assert_eq!(found, 1);
    free(&TABLE, 0);
    assert_eq!(claim(&TABLE, &HINT), Some(0));
    let mut found = 0;
    scan_among(&TABLE, Among::Scopes(&[earlier.id()]), |_, _, _| found += 1);
    assert_eq!(found, 0, "the claimed slot is not the earlier record");
    free(&TABLE, 0);
}
