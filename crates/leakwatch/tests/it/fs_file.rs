//! Tracked files: each way a file outlives its user is reported at the line
//! that opened it, and the fixed code passes.

use std::cell::RefCell;
use std::io::Read;
use std::rc::{Rc, Weak};
use std::sync::Mutex;

use crate::support::{leaks, only_group, temp_path};
use leakwatch::Scope;
use leakwatch::fs::{File, OpenOptions};
use leakwatch::integration::Finding;

#[test]
fn forgotten_file_is_reported_with_its_path_and_line() {
    let path = temp_path("forgotten.csv");
    let scope = Scope::new("forgotten");
    let line = scope.run(|| {
        let (file, line) = (File::open(&path).unwrap(), line!());
        std::mem::forget(file);
        line
    });
    let report = leaks(&scope);
    let group = only_group(&report, "file", Finding::StillOpen, line);
    assert_eq!(group.site().file(), file!());
    assert_eq!(group.details(), [path.display().to_string()]);
    assert!(
        report
            .to_string()
            .contains(&format!("opened at {}:{line}:", file!()))
    );
}

#[test]
fn box_leaked_file_is_reported() {
    let path = temp_path("leaked.csv");
    let scope = Scope::new("box-leak");
    let line = scope.run(|| {
        let (file, line) = (Box::new(File::open(&path).unwrap()), line!());
        let _forever: &'static mut File = Box::leak(file);
        line
    });
    only_group(&leaks(&scope), "file", Finding::StillOpen, line);
}

static OPEN_LOGS: Mutex<Vec<File>> = Mutex::new(Vec::new());

#[test]
fn file_parked_in_a_global_is_reported_until_removed() {
    let path = temp_path("global.log");
    let scope = Scope::new("global");
    let line = scope.run(|| {
        let options = OpenOptions::new().append(true).clone();
        let (file, line) = (options.open(&path).unwrap(), line!());
        OPEN_LOGS.lock().unwrap().push(file);
        line
    });
    only_group(&leaks(&scope), "file", Finding::StillOpen, line);
    OPEN_LOGS.lock().unwrap().clear();
    assert!(scope.check_now().is_ok());
}

struct Node {
    _file: File,
    peer: RefCell<Option<Rc<Node>>>,
    weak_peer: RefCell<Weak<Node>>,
}

#[test]
fn file_held_by_an_rc_cycle_is_reported() {
    let path = temp_path("cycle.csv");
    let scope = Scope::new("rc-cycle");
    let line = scope.run(|| {
        let line = line!() + 1;
        let open = || File::open(&path).unwrap();
        let node = |file| {
            Rc::new(Node {
                _file: file,
                peer: RefCell::new(None),
                weak_peer: RefCell::new(Weak::new()),
            })
        };
        let (a, b) = (node(open()), node(open()));
        *a.peer.borrow_mut() = Some(b.clone());
        *b.peer.borrow_mut() = Some(a.clone());
        line
    });
    let report = leaks(&scope);
    let group = only_group(&report, "file", Finding::StillOpen, line);
    assert_eq!(group.count(), 2, "{report}");
}

#[test]
fn weak_back_edge_frees_the_files() {
    let path = temp_path("weak.csv");
    let scope = Scope::new("weak");
    scope.run(|| {
        let node = |file| {
            Rc::new(Node {
                _file: file,
                peer: RefCell::new(None),
                weak_peer: RefCell::new(Weak::new()),
            })
        };
        let a = node(File::open(&path).unwrap());
        let b = node(File::open(&path).unwrap());
        *a.peer.borrow_mut() = Some(b.clone());
        *b.weak_peer.borrow_mut() = Rc::downgrade(&a);
    });
    scope.check_now().unwrap();
}

#[test]
fn files_closed_in_time_pass_and_still_work() {
    let path = temp_path("clean.csv");
    leakwatch::check(|| {
        let mut text = String::new();
        File::open(&path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "id,name\n1,ada\n");
        let file = File::open(&path).unwrap();
        let clone = file.try_clone().unwrap();
        assert_eq!(clone.metadata().unwrap().len(), 14);
        let _std: std::fs::File = file.into_inner(); // no longer tracked
    });
}

#[test]
fn check_panics_with_the_report() {
    let path = temp_path("panics.csv");
    let err = std::panic::catch_unwind(|| {
        leakwatch::check(|| std::mem::forget(File::open(&path).unwrap()));
    })
    .unwrap_err();
    let message = err.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with("LEAK leakwatch: 1 item leaked in `check at "),
        "{message}"
    );
    assert!(message.contains("1 file still open"), "{message}");
}

/// The line of the `leakwatch::check` call below.
const CHECK_LINE: u32 = line!() + 6;

#[test]
#[ignore = "fails on purpose: run by `a_failing_check_points_at_its_call`"]
fn a_check_that_finds_a_leak() {
    let path = temp_path("located.csv");
    leakwatch::check(|| std::mem::forget(File::open(&path).unwrap()));
}

#[test]
fn a_failing_check_points_at_its_call() {
    let output = crate::support::child::fails_with(
        module_path!(),
        file!(),
        "a_check_that_finds_a_leak",
        "1 file still open",
    );
    let at = format!("panicked at {}:{CHECK_LINE}:5:", file!());
    assert!(output.contains(&at), "expected `{at}` in:\n{output}");
    assert!(!output.contains("leakwatch/src/"), "{output}");
}

/// Runs out of descriptors (the parent lowers the limit): the failing open
/// prints the live files by site, once.
#[test]
#[ignore = "run by `running_out_of_descriptors_prints_the_live_table_once` under a low limit"]
fn opens_until_out_of_descriptors() {
    let mut kept = Vec::new();
    let err = loop {
        match File::open("Cargo.toml") {
            Ok(file) => kept.push(file),
            Err(err) => break err,
        }
    };
    assert_eq!(err.raw_os_error(), Some(24), "{err}");
    // A second failure prints nothing more.
    assert!(File::open("Cargo.toml").is_err());
    drop(kept);
}

#[cfg(unix)]
#[test]
fn running_out_of_descriptors_prints_the_live_table_once() {
    if !leakwatch::integration::COMPILED_IN {
        return;
    }
    let run =
        crate::support::child::Rerun::ignored(module_path!(), "opens_until_out_of_descriptors")
            .after_shell("ulimit -n 64")
            .run();
    let (stdout, stderr) = (run.stdout, run.stderr);
    assert!(run.passed, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test: {stdout}"
    );
    assert_eq!(
        stderr.matches("LEAK leakwatch: an open failed (").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("file open, opened at crates/leakwatch/tests/it/fs_file.rs:"),
        "{stderr}"
    );
}
