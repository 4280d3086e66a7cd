//! A test that redirects its stdout to a file and restores it (as output
//! capture does) is not charged with descriptor 1. In a binary of its own,
//! so no other test prints while stdout points elsewhere.
#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::io::Write;
use std::os::fd::AsRawFd;

use leakwatch_core::Scope;

#[test]
fn redirecting_stdout_and_restoring_it_leaves_nothing() {
    let path = tests_support::temp::temp_path("redirect");
    let scope = Scope::new("redirect");
    scope.run(|| {
        let file = std::fs::File::create(&path).unwrap();
        std::io::stdout().flush().unwrap();
        // SAFETY: duplicates stdout, which stays open, and restores it.
        unsafe {
            let saved = libc::dup(1);
            assert!(saved >= 0);
            assert_eq!(libc::dup2(file.as_raw_fd(), 1), 1);
            libc::write(1, b"captured\n".as_ptr().cast(), 9);
            assert_eq!(libc::dup2(saved, 1), 1);
            assert_eq!(libc::close(saved), 0);
        }
    });
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "captured\n");
    std::fs::remove_file(&path).unwrap();
    let open = leakwatch_interpose::open_in(&[scope.id()]);
    assert!(open.is_empty(), "{open:?}");
}
