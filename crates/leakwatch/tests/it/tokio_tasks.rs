//! Tasks as tracked items, scopes that follow tasks (to grandchildren and
//! across worker threads), and isolation on a shared runtime.

#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use crate::support::only_group;
use crate::support::tasks::{LONG, SHORT, check_async, runtime};
use leakwatch::integration::Finding;
use leakwatch::{Scope, Tracked};

#[test]
fn task_that_never_ends_is_reported_with_its_name_and_site() {
    let (result, line) = check_async(SHORT, async {
        let builder = leakwatch::tokio::Builder::new().name("poller");
        let (spawned, line) = (builder.spawn(std::future::pending::<()>()), line!());
        (line, spawned.unwrap().id())
    });
    let (line, id) = line;
    let report = result.unwrap_err();
    let group = only_group(&report, "task", Finding::StillOpen, line);
    assert_eq!(group.details(), [format!("'poller' (id {id})")]);
}

/// The id comes from the join handle, on the spawning thread: a task the
/// runtime has not polled yet has it too.
#[test]
fn a_task_never_polled_is_reported_with_its_id() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let scope = Scope::new("never-polled");
    let (task, line) = scope.run(|| {
        let _rt = runtime.enter();
        (leakwatch::tokio::spawn(async {}), line!())
    });
    let report = scope.check_now().unwrap_err();
    let group = only_group(&report, "task", Finding::StillOpen, line);
    assert_eq!(group.details(), [format!("id {}", task.id())]);
    drop(runtime); // drops the task unpolled
    scope.check_now().unwrap();
}

#[test]
fn awaited_and_aborted_tasks_pass() {
    let (result, ()) = check_async(LONG, async {
        leakwatch::tokio::spawn(async { 1 }).await.unwrap();
        let stuck = leakwatch::tokio::spawn(std::future::pending::<()>());
        stuck.abort();
        assert!(stuck.await.unwrap_err().is_cancelled());
        leakwatch::tokio::spawn_blocking(|| 2).await.unwrap();
    });
    result.unwrap();
}

#[test]
fn what_a_grandchild_task_opens_belongs_to_the_scope() {
    let (result, (conn, line)) = check_async(SHORT, async {
        leakwatch::tokio::spawn(async {
            leakwatch::tokio::spawn(async { (Tracked::new((), "db-conn"), line!()) })
                .await
                .unwrap()
        })
        .await
        .unwrap()
    });
    let report = result.unwrap_err();
    only_group(&report, "db-conn", Finding::StillOpen, line);
    drop(conn);
}

#[test]
fn blocking_task_still_running_is_reported() {
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let (result, line) = check_async(SHORT, async move {
        let task = move || blocked.recv();
        let (handle, line) = (leakwatch::tokio::spawn_blocking(task), line!());
        (line, handle.id())
    });
    let (line, id) = line;
    let report = result.unwrap_err();
    let group = only_group(&report, "blocking-task", Finding::StillOpen, line);
    assert_eq!(group.details(), [format!("id {id}")]);
    drop(release);
}

#[test]
fn join_set_tasks_are_tracked_and_dropping_the_set_aborts_them() {
    let (result, line) = check_async(SHORT, async {
        let mut set = leakwatch::tokio::JoinSet::new();
        let (abort, line) = (set.spawn(std::future::pending::<()>()), line!());
        set.detach_all(); // detached: still running
        (line, abort.id())
    });
    let (line, id) = line;
    let report = result.unwrap_err();
    let group = only_group(&report, "task", Finding::StillOpen, line);
    assert_eq!(group.details(), [format!("id {id}")]);

    let (result, ()) = check_async(LONG, async {
        let mut set = leakwatch::tokio::JoinSet::new();
        for _ in 0..4 {
            set.spawn(std::future::pending::<()>());
        }
        set.spawn_blocking(|| ());
        drop(set); // aborts them all
    });
    result.unwrap();
}

/// Every spawner of the set tracks its task from the caller's line: tokio's
/// `spawn_on`, `spawn_local_on` and `spawn_blocking_on` are wrapped, not
/// reached through `Deref` (which would start untracked tasks).
#[test]
fn join_set_spawners_on_a_handle_or_local_set_are_tracked() {
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let (result, lines) = check_async(SHORT, async move {
        let handle = tokio::runtime::Handle::current();
        let mut set = leakwatch::tokio::JoinSet::new();
        let wait = move || {
            blocked.recv().ok();
        };
        let (_, on) = (set.spawn_on(std::future::pending::<()>(), &handle), line!());
        let (_, blocking_on) = (set.spawn_blocking_on(wait, &handle), line!());
        set.detach_all(); // detached: still running
        (on, blocking_on)
    });
    let report = result.unwrap_err();
    let mut found: Vec<_> = report
        .groups()
        .iter()
        .map(|group| (group.kind(), group.finding(), group.site().line()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("blocking-task", Finding::StillOpen, lines.1),
            ("task", Finding::StillOpen, lines.0),
        ],
        "{report}"
    );
    drop(release);

    let (result, ()) = check_async(LONG, async {
        let handle = tokio::runtime::Handle::current();
        let mut set = leakwatch::tokio::JoinSet::new();
        set.spawn_on(async { 1 }, &handle);
        set.spawn_blocking_on(|| 2, &handle);
        let local = tokio::task::LocalSet::new();
        set.spawn_local_on(async { 3 }, &local);
        let sum = local
            .run_until(async move {
                let mut sum = 0;
                while let Some(out) = set.join_next().await {
                    sum += out.unwrap();
                }
                sum
            })
            .await;
        assert_eq!(sum, 6);
    });
    result.unwrap();
}

/// Many scopes at once on one shared multi-thread runtime, some leaky: each
/// leaky one reports only its own tasks, grandchildren included.
#[test]
fn scopes_on_a_shared_runtime_see_only_their_own_tasks() {
    let runtime = Arc::new(runtime("multi_thread"));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let runtime = runtime.clone();
            std::thread::spawn(move || {
                let scope = Scope::new(format!("test-{i}"));
                let _rt = runtime.enter();
                scope.run(|| {
                    let name = format!("child-of-{i}");
                    leakwatch::tokio::spawn(async move {
                        // Library code spawning on our behalf: a grandchild.
                        let grandchild = leakwatch::tokio::Builder::new()
                            .name(&name)
                            .spawn(async move {
                                if i % 2 == 0 {
                                    std::future::pending::<()>().await;
                                }
                            })
                            .unwrap();
                        drop(grandchild);
                    });
                });
                (i, scope.check_within(if i % 2 == 0 { SHORT } else { LONG }))
            })
        })
        .collect();
    for thread in threads {
        let (i, result) = thread.join().unwrap();
        if i % 2 == 0 {
            let report = result.expect_err("leaky scope passed");
            assert_eq!(report.total(), 1, "{report}");
            let details = report.groups()[0].details();
            assert!(
                details[0].starts_with(&format!("'child-of-{i}' (id ")),
                "{details:?}"
            );
        } else {
            result.unwrap();
        }
    }
    drop(runtime);
}

#[leakwatch::test(grace = "30ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn leakwatch_test_reports_a_detached_task() {
    drop(leakwatch::tokio::spawn(std::future::pending::<()>()));
}

// A task that ends 20 ms after the body, and a grace of 10 s.
#[leakwatch::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn leakwatch_test_waits_for_tasks_that_are_finishing() {
    drop(leakwatch::tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }));
}

#[leakwatch::test(grace = "20ms", ignore = "kind:task, site:no-such-file.rs")]
async fn ignored_tasks_pass_but_other_leaks_do_not_hide() {
    drop(leakwatch::tokio::spawn(std::future::pending::<()>()));
}

#[leakwatch::test(grace = "20ms", ignore = "name:reaper")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn ignore_rules_leave_out_only_what_they_match() {
    let never = || std::future::pending::<()>();
    drop(
        leakwatch::tokio::Builder::new()
            .name("reaper")
            .spawn(never())
            .unwrap(),
    );
    drop(
        leakwatch::tokio::Builder::new()
            .name("worker")
            .spawn(never())
            .unwrap(),
    );
}

#[test]
fn leaking_tests_fail_with_their_tasks() {
    let name = "leakwatch_test_reports_a_detached_task";
    crate::support::child::fails_with(
        module_path!(),
        file!(),
        name,
        "1 task still open, spawned at crates/leakwatch/tests/it/tokio_tasks.rs:",
    );
    let name = "ignore_rules_leave_out_only_what_they_match";
    let output =
        crate::support::child::fails_with(module_path!(), file!(), name, "1 task still open");
    assert!(
        output.contains("'worker'") && !output.contains("'reaper'"),
        "{output}"
    );
}

/// Without task dumps, a report of leaked tasks says how to get them; a
/// report without tasks says nothing of the kind.
#[cfg(not(tokio_unstable))]
#[test]
fn without_dumps_a_task_report_says_how_to_get_them() {
    const { assert!(!leakwatch::tokio::dump::AVAILABLE) };
    let report = crate::support::tasks::stuck_task_report();
    assert_eq!(report.groups()[0].waiting(), None);
    let text = report.to_string();
    assert!(
        text.contains("LEAK leakwatch: build with RUSTFLAGS=\"--cfg tokio_unstable\" to see where each leaked task is stuck"),
        "{text}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let files = Scope::new("files");
    let tag = files.run(|| leakwatch::Tag::new("file"));
    let report = runtime.block_on(leakwatch::tokio::dump::attach(
        files.check_now().unwrap_err(),
        runtime.handle(),
    ));
    assert!(report.hints().is_empty(), "{report}");
    drop(tag);
}

#[test]
fn local_tasks_are_tracked_and_scoped() {
    let runtime = runtime("current_thread");
    let local = tokio::task::LocalSet::new();
    let scope = Scope::new("local");
    let (stuck, line) = scope.run(|| {
        local.block_on(&runtime, async {
            let counter = std::rc::Rc::new(std::cell::Cell::new(0)); // not Send
            let seen = counter.clone();
            leakwatch::tokio::spawn_local(async move { seen.set(1) })
                .await
                .unwrap();
            assert_eq!(counter.get(), 1);
            let conn = async { Tracked::new((), "db-conn") };
            let conn = leakwatch::tokio::spawn_local(conn).await.unwrap();
            let never = std::future::pending::<()>();
            let (stuck, line) = (leakwatch::tokio::spawn_local(never), line!());
            drop(conn);
            (stuck, line)
        })
    });
    let report = scope.check_now().unwrap_err();
    let group = only_group(&report, "task", Finding::StillOpen, line);
    assert_eq!(group.details(), [format!("id {}", stuck.id())]);
    stuck.abort();
    local.block_on(&runtime, tokio::task::yield_now());
    scope.check_now().unwrap();
}
