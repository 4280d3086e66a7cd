//! Scopes follow work into threads started through leakwatch, transitively.

use leakwatch::{Scope, Tag};

#[test]
fn grandchild_threads_belong_to_the_scope() {
    let scope = Scope::new("threads");
    let (tag, line) = scope.run(|| {
        leakwatch::thread::spawn(|| {
            leakwatch::thread::Builder::new()
                .name("grandchild".into())
                .spawn(|| (Tag::with_detail("socket", "from a grandchild"), line!()))
                .unwrap()
                .join()
                .unwrap()
        })
        .join()
        .unwrap()
    });
    let report = scope.check_now().unwrap_err();
    let group = &report.groups()[0];
    assert_eq!(group.site().line(), line);
    assert_eq!(group.details(), ["from a grandchild"]);
    // The thread exited, so it is named by number.
    assert!(group.threads()[0].starts_with('#'), "{report}");
    drop(tag);
    scope.check_now().unwrap();
}

/// Where libc's `pthread_create` is interposed (glibc Linux), a plain std
/// thread starts in its creator's scope like a `leakwatch::thread` does;
/// elsewhere it starts outside every scope.
#[test]
fn std_threads_carry_the_scope_only_where_thread_creation_is_seen() {
    let scope = Scope::new("std-threads");
    let tag = scope.run(|| std::thread::spawn(|| Tag::new("socket")).join().unwrap());
    let seen = cfg!(leakwatch_hooks);
    match scope.check_now() {
        Ok(()) => assert!(!seen || !leakwatch::integration::COMPILED_IN),
        Err(report) => {
            assert!(seen, "{report}");
            assert_eq!(report.groups()[0].kind(), "socket", "{report}");
        }
    }
    drop(tag);
    scope.check().unwrap();
}

#[test]
fn items_opened_by_a_running_named_thread_name_it() {
    let scope = Scope::new("named");
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let handle = scope.run(|| {
        leakwatch::thread::Builder::new()
            .name("uploader".into())
            .spawn(move || {
                let tag = Tag::new("http-body");
                tx.send(()).unwrap();
                done_rx.recv().unwrap();
                drop(tag);
            })
            .unwrap()
    });
    rx.recv().unwrap();
    let report = scope.check_now().unwrap_err();
    let body = report
        .groups()
        .iter()
        .find(|g| g.kind() == "http-body")
        .unwrap();
    assert_eq!(body.threads(), ["'uploader'"]);
    assert!(report.to_string().contains("thread 'uploader'"), "{report}");
    // The running thread is itself an item, named after the thread.
    let thread = report
        .groups()
        .iter()
        .find(|g| g.kind() == "thread")
        .unwrap();
    assert_eq!(thread.details(), ["'uploader'"]);
    done_tx.send(()).unwrap();
    handle.join().unwrap();
    scope.check_now().unwrap();
}

#[test]
fn what_scoped_threads_open_belongs_to_the_scope() {
    let scope = Scope::new("scoped");
    let mut kept = Vec::new();
    let line = scope.run(|| {
        leakwatch::thread::scope(|s| {
            let (handle, line) = (s.spawn(|| Tag::new("socket")), line!());
            kept.push(handle.join().unwrap());
            line
        })
    });
    let report = scope.check_now().unwrap_err();
    assert_eq!(report.total(), 1, "{report}");
    assert_eq!(report.groups()[0].kind(), "socket");
    assert_eq!(report.groups()[0].site().line(), line, "{report}");
    drop(kept);
    scope.check_now().unwrap();
}

#[test]
fn a_running_scoped_thread_is_seen_and_a_finished_one_is_not() {
    let scope = Scope::new("scoped-running");
    let (go, wait) = std::sync::mpsc::channel::<()>();
    scope.run(|| {
        leakwatch::thread::scope(|s| {
            let (worker, line) = (s.spawn(move || wait.recv().unwrap()), line!());
            let report = scope.check_now().unwrap_err();
            assert_eq!(report.groups()[0].kind(), "thread", "{report}");
            assert_eq!(report.groups()[0].site().line(), line, "{report}");
            assert_eq!(report.groups()[0].details(), ["scoped"]);
            go.send(()).unwrap();
            worker.join().unwrap();
        });
    });
    scope.check_now().unwrap();
}
