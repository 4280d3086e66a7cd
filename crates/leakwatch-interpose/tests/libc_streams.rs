//! Descriptors that libc opens and closes for its callers (directory
//! streams, `FILE` streams, `creat`, `close_range`), duplications onto
//! open numbers, and records whose number was closed where no hook saw it:
//! each leak found with its call, each clean twin silent, and nothing
//! charged to a scope that did not open it.
#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::ffi::CString;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::path::PathBuf;

use leakwatch_core::Scope;
use leakwatch_interpose::{Open, open_in};

fn open(scope: &Scope) -> Open {
    open_in(&[scope.id()])
}

/// A directory of this test's own under the system's temporary one.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("leakwatch-streams-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    std::fs::write(dir.join("a/b/f"), "x").unwrap();
    dir
}

fn c(path: &std::path::Path) -> CString {
    CString::new(path.as_os_str().as_encoded_bytes()).unwrap()
}

fn close(fd: i32) {
    // SAFETY: the caller owns `fd` and closes it once.
    assert_eq!(unsafe { libc::close(fd) }, 0);
}

#[test]
fn a_directory_stream_never_closed_is_found() {
    let dir = scratch("opendir");
    let scope = Scope::new("opendir");
    // SAFETY: a valid NUL-terminated path.
    let stream = scope.run(|| unsafe { libc::opendir(c(&dir).as_ptr()) });
    assert!(!stream.is_null());
    let found = open(&scope);
    assert_eq!(found.fds.len(), 1, "{found:?}");
    assert_eq!(found.fds[0].created.call, "opendir");
    // SAFETY: `stream` is open and closed once.
    assert_eq!(unsafe { libc::closedir(stream) }, 0);
    assert!(open(&scope).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn read_dir_and_remove_dir_all_leave_nothing() {
    let dir = scratch("read-dir");
    let scope = Scope::new("read-dir");
    scope.run(|| {
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    });
    assert!(open(&scope).is_empty(), "{:?}", open(&scope));
}

#[test]
fn a_file_stream_never_closed_is_found_and_fclose_forgets_it() {
    let scope = Scope::new("fopen");
    let mode = CString::new("r").unwrap();
    // SAFETY: valid NUL-terminated path and mode.
    let file =
        scope.run(|| unsafe { libc::fopen(c("Cargo.toml".as_ref()).as_ptr(), mode.as_ptr()) });
    assert!(!file.is_null());
    let found = open(&scope);
    assert_eq!(found.fds.len(), 1, "{found:?}");
    assert!(found.fds[0].created.call.starts_with("fopen"), "{found:?}");
    // SAFETY: `file` is open and closed once.
    assert_eq!(unsafe { libc::fclose(file) }, 0);
    assert!(open(&scope).is_empty());
}

#[test]
fn creat_is_seen() {
    let dir = scratch("creat");
    let scope = Scope::new("creat");
    // SAFETY: a valid NUL-terminated path.
    let fd = scope.run(|| unsafe { libc::creat(c(&dir.join("new")).as_ptr(), 0o600) });
    assert!(fd >= 0);
    let found = open(&scope);
    assert_eq!(found.fds.len(), 1, "{found:?}");
    assert_eq!(found.fds[0].created.call, "creat");
    close(fd);
    assert!(open(&scope).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn close_range_forgets_what_it_closes_but_not_what_it_marks_cloexec() {
    let scope = Scope::new("close-range");
    let fds: Vec<i32> = scope.run(|| {
        (0..3)
            .map(|_| std::fs::File::open("Cargo.toml").unwrap().into_raw_fd())
            .collect()
    });
    let (lo, hi) = (*fds.iter().min().unwrap(), *fds.iter().max().unwrap());
    // Only numbers this test owns: the three, if they are contiguous.
    if hi - lo != 2 {
        fds.into_iter().for_each(close);
        return;
    }
    // SAFETY: marks this test's own descriptors close-on-exec.
    let rc = unsafe { libc::close_range(lo as u32, hi as u32, libc::CLOSE_RANGE_CLOEXEC as i32) };
    assert_eq!(rc, 0);
    assert_eq!(open(&scope).fds.len(), 3, "still open");
    // SAFETY: closes this test's own descriptors.
    assert_eq!(unsafe { libc::close_range(lo as u32, hi as u32, 0) }, 0);
    assert!(open(&scope).is_empty(), "{:?}", open(&scope));
}

#[test]
fn duplicating_onto_an_open_number_is_not_a_new_item_and_onto_a_free_one_is() {
    let before = std::fs::File::open("Cargo.toml").unwrap();
    let target = before.as_raw_fd();
    let scope = Scope::new("dup2");
    scope.run(|| {
        // Redirect `target` to another file and restore it, as a test that
        // captures stdout does.
        // SAFETY: duplicates descriptors this test owns.
        let saved = unsafe { libc::dup(target) };
        let other = std::fs::File::open("src/lib.rs").unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { libc::dup2(other.as_raw_fd(), target) }, target);
        // SAFETY: as above.
        assert_eq!(unsafe { libc::dup2(saved, target) }, target);
        close(saved);
    });
    assert!(open(&scope).is_empty(), "{:?}", open(&scope));
    drop(before);

    // Onto a number nothing holds: a new descriptor.
    let scope = Scope::new("dup2-new");
    let file = std::fs::File::open("Cargo.toml").unwrap();
    // SAFETY: 900 is a number this test owns.
    let fd = scope.run(|| unsafe { libc::dup3(file.as_raw_fd(), 900, libc::O_CLOEXEC) });
    assert_eq!(fd, 900);
    let found = open(&scope);
    assert_eq!(found.fds.len(), 1, "{found:?}");
    assert_eq!(found.fds[0].created.call, "dup3");
    close(fd);
}

/// A record whose number was closed unseen (a raw system call) and then
/// reused by an open nobody saw names another file: the scope that opened
/// the first is not blamed for the second.
#[test]
fn a_number_reused_unseen_is_not_the_recorded_file() {
    let scope = Scope::new("reused");
    let fd = scope.run(|| std::fs::File::open("Cargo.toml").unwrap().into_raw_fd());
    assert_eq!(open(&scope).fds.len(), 1);
    // SAFETY: closes the descriptor above, which nothing else owns, by a
    // system call that no hook sees.
    assert_eq!(unsafe { libc::syscall(libc::SYS_close, fd) }, 0);
    let path = CString::new("src/lib.rs").unwrap();
    let mut reused = None;
    let mut taken = Vec::new();
    for _ in 0..64 {
        // SAFETY: opens a file by a raw system call, unseen by the hooks.
        let again = unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        } as i32;
        assert!(again >= 0);
        if again == fd {
            reused = Some(again);
            break;
        }
        // Another test took the number meanwhile: keep this one until done.
        taken.push(again);
    }
    for other in taken {
        // SAFETY: closes the raw descriptors opened above.
        unsafe { libc::syscall(libc::SYS_close, other) };
    }
    let Some(again) = reused else { return };
    assert!(open(&scope).is_empty(), "{:?}", open(&scope));
    // SAFETY: closes the raw descriptor opened above.
    unsafe { libc::syscall(libc::SYS_close, again) };
}

/// A `vfork` child shares the parent's memory; what it closes before
/// `_exit` is still open in the parent, and stays recorded there.
#[test]
fn a_vfork_child_closing_a_descriptor_leaves_the_parents_record() {
    let scope = Scope::new("vfork");
    let fd = scope.run(|| std::fs::File::open("Cargo.toml").unwrap().into_raw_fd());
    #[allow(deprecated)] // `libc` warns of `vfork` misuse; the child here only exits.
    // SAFETY: the child only closes a descriptor and exits.
    let pid = unsafe { libc::vfork() };
    if pid == 0 {
        // SAFETY: as above.
        unsafe {
            libc::close(fd);
            libc::_exit(0);
        }
    }
    assert!(pid > 0);
    let mut status = 0;
    // SAFETY: reaps our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let found = open(&scope);
    assert_eq!(found.fds.len(), 1, "{found:?}");
    assert_eq!(found.fds[0].fd, fd);
    close(fd);
}
