//! The `tokio_unstable` tier: runtime hooks make every task a tracked item
//! with its spawn site, in its spawner's scope, however it was spawned.
//!
//! Runs only with `RUSTFLAGS="--cfg tokio_unstable"` (CI runs it so).

#![cfg(all(feature = "tokio", tokio_unstable))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use leakwatch::integration::Finding;
use leakwatch::{Scope, Tag};
use support::only_group;
use support::tasks::{LONG, RUNTIME_THREADS, SHORT, check_on, drive, hooked};

#[test]
fn a_plain_tokio_spawn_is_reported_at_its_site_with_its_id() {
    for flavor in ["current_thread", "multi_thread"] {
        let runtime = hooked(flavor);
        let (result, (line, id)) = check_on(&runtime, SHORT, async {
            let (handle, line) = (tokio::spawn(std::future::pending::<()>()), line!());
            (line, handle.id())
        });
        let report = result.unwrap_err();
        let group = only_group(&report, "task", Finding::StillOpen, line);
        assert_eq!(group.details(), [format!("id {id}")], "{flavor}");
    }
}

#[test]
fn plain_tasks_that_finish_pass() {
    for flavor in ["current_thread", "multi_thread"] {
        let runtime = hooked(flavor);
        let (result, ()) = check_on(&runtime, LONG, async {
            tokio::spawn(async { 1 }).await.unwrap();
            let stuck = tokio::spawn(std::future::pending::<()>());
            stuck.abort();
            assert!(stuck.await.unwrap_err().is_cancelled());
            let mut set = tokio::task::JoinSet::new();
            for i in 0..10 {
                set.spawn(async move {
                    tokio::task::yield_now().await;
                    i
                });
            }
            while set.join_next().await.is_some() {}
            // Finishes after the body, inside the grace.
            drop(tokio::spawn(tokio::time::sleep(Duration::from_millis(20))));
        });
        result.unwrap_or_else(|report| panic!("{flavor}: {report}"));
    }
}

#[test]
fn a_burst_of_tasks_alive_at_once_is_counted_and_one_left_behind_reported() {
    // Thousands of tasks alive together fill the hooks' first ring: the
    // rest are kept further back, where checks must see them too.
    const BURST: usize = 5_000;
    for flavor in ["current_thread", "multi_thread"] {
        let runtime = hooked(flavor);
        let scope = Scope::new("burst");
        let (go, wait) = tokio::sync::watch::channel(false);
        let (line, stuck) = scope.run(|| {
            let _rt = runtime.enter();
            for _ in 0..BURST {
                let mut wait = wait.clone();
                tokio::spawn(async move { wait.wait_for(|&go| go).await.map(|_| ()) });
            }
            (line!(), tokio::spawn(std::future::pending::<()>()))
        });
        assert_eq!(scope.open_count("task"), BURST + 1, "{flavor}");
        go.send(true).unwrap();
        runtime.block_on(async {
            let waiting = std::time::Instant::now();
            while scope.open_count("task") > 1 && waiting.elapsed() < LONG {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let wait = drive(&runtime);
        let report = scope.check_within_using(SHORT, wait).unwrap_err();
        let group = only_group(&report, "task", Finding::StillOpen, line);
        assert_eq!(group.details(), [format!("id {}", stuck.id())], "{flavor}");
        stuck.abort();
        let fixed = scope.check_within_using(LONG, wait);
        fixed.unwrap_or_else(|r| panic!("{flavor}: {r}"));
    }
}

#[test]
fn grandchildren_and_what_they_open_belong_to_the_scope() {
    let runtime = hooked("multi_thread");
    let (result, line) = check_on(&runtime, SHORT, async {
        let child = tokio::spawn(async {
            // A library spawning on our behalf, with plain tokio.
            let work = async {
                let conn = Tag::new("db-conn");
                std::future::pending::<()>().await;
                drop(conn);
            };
            let (grandchild, line) = (tokio::spawn(work), line!());
            drop(grandchild);
            line
        });
        child.await.unwrap()
    });
    let report = result.unwrap_err();
    assert_eq!(report.total(), 2, "{report}");
    let task = report.groups().iter().find(|g| g.kind() == "task").unwrap();
    assert_eq!(task.site().line(), line, "{report}");
    assert!(
        report.groups().iter().any(|g| g.kind() == "db-conn"),
        "{report}"
    );
}

#[test]
fn tasks_spawned_through_leakwatch_are_recorded_once_with_their_name() {
    let runtime = hooked("multi_thread");
    let (result, ()) = check_on(&runtime, SHORT, async {
        drop(
            leakwatch::tokio::Builder::new()
                .name("named")
                .spawn(std::future::pending::<()>())
                .unwrap(),
        );
        let mut set = leakwatch::tokio::JoinSet::new();
        set.spawn(std::future::pending::<()>());
        std::mem::forget(set);
    });
    let report = result.unwrap_err();
    assert_eq!(report.total(), 2, "{report}");
    assert!(
        report
            .groups()
            .iter()
            .any(|g| g.details()[0].starts_with("'named' (id ")),
        "{report}"
    );
}

#[test]
fn scopes_sharing_a_hooked_runtime_see_only_their_own_tasks() {
    let runtime = Arc::new(hooked("multi_thread"));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let runtime = runtime.clone();
            std::thread::spawn(move || {
                let scope = Scope::new(format!("test-{i}"));
                let line = scope.run(|| {
                    runtime.block_on(async move {
                        let child = tokio::spawn(async move {
                            let work = async move {
                                if i % 2 == 0 {
                                    std::future::pending::<()>().await;
                                }
                            };
                            let (grandchild, line) = (tokio::spawn(work), line!());
                            drop(grandchild);
                            line
                        });
                        child.await.unwrap()
                    })
                });
                (
                    i,
                    line,
                    scope.check_within(if i % 2 == 0 { SHORT } else { LONG }),
                )
            })
        })
        .collect();
    for thread in threads {
        let (i, line, result) = thread.join().unwrap();
        if i % 2 == 0 {
            let report = result.expect_err("leaky scope passed");
            assert_eq!(report.total(), 1, "{report}");
            only_group(&report, "task", Finding::StillOpen, line);
        } else {
            result.unwrap();
        }
    }
}

/// Many short tasks of several scopes at once, spawned and ended on two
/// workers, each spawning a child: every task and child runs in its own
/// scope, whatever ran on its worker before (task ids may be used again
/// once their task ended, so nothing is kept of an earlier lookup).
#[test]
fn tasks_started_and_ended_in_turn_never_run_in_another_scope() {
    let runtime = Arc::new(hooked("multi_thread"));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let runtime = runtime.clone();
            std::thread::spawn(move || {
                let scope = Scope::new(format!("turns-{i}"));
                let id = scope.id();
                let wrong = scope.run(|| {
                    runtime.block_on(async move {
                        let mut wrong = 0;
                        for _ in 0..2_000 {
                            let task = tokio::spawn(async move {
                                let mine = leakwatch::integration::ScopeId::current() == id;
                                let child = tokio::spawn(async move {
                                    leakwatch::integration::ScopeId::current() == id
                                });
                                mine && child.await.unwrap()
                            });
                            wrong += usize::from(!task.await.unwrap());
                        }
                        wrong
                    })
                });
                (wrong, scope.check_within(LONG))
            })
        })
        .collect();
    for thread in threads {
        let (wrong, result) = thread.join().unwrap();
        assert_eq!(wrong, 0, "tasks that ran in another scope");
        result.unwrap();
    }
}

#[test]
fn a_poll_nested_in_another_puts_back_the_outer_tasks_scope() {
    // A task that drives a second hooked runtime from `block_in_place`
    // runs that runtime's polls inside its own: each inner poll must put
    // back the scope of the code around it, not the thread's outermost.
    use leakwatch::integration::ScopeId;
    let outer_runtime = hooked("multi_thread");
    // `block_in_place` hands the worker's other tasks to a new worker thread,
    // started from inside the task and so in its scope: that thread is the
    // runtime's, left out by name as the support runtimes' threads are.
    let outer = Scope::new("outer").ignoring([RUNTIME_THREADS.clone()]);
    let inner = Scope::new("inner");
    let inner_id = inner.id();
    let task = outer.run(|| {
        outer_runtime.spawn(async move {
            let in_task = ScopeId::current();
            tokio::task::block_in_place(|| {
                hooked("current_thread").block_on(async move {
                    for _ in 0..3 {
                        let job = inner.run(|| tokio::spawn(async { ScopeId::current() }));
                        assert_eq!(job.await.unwrap(), inner_id, "the inner task's scope");
                        assert_eq!(ScopeId::current(), in_task, "put back after the inner poll");
                    }
                });
            });
            (in_task, ScopeId::current())
        })
    });
    let (in_task, after) = outer_runtime.block_on(task).unwrap();
    assert_eq!((in_task, after), (outer.id(), outer.id()));
    assert_eq!(ScopeId::current(), ScopeId::NONE);
    // The task ended; its end hook may still be running on a worker.
    assert!(outer.check_within(LONG).is_ok());
}

#[test]
fn a_scope_entered_inside_a_task_wins_and_one_entered_around_the_runtime_does_not() {
    use leakwatch::integration::ScopeId;
    // Worker threads that enter a scope of their own as they start (as
    // `#[leakwatch::test]`'s do): entered outside any task, it loses to the
    // scope of the task a worker polls.
    let workers = Scope::new("workers");
    let workers_id = workers.id();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    leakwatch::tokio::hooks::install(&mut builder);
    thread_local!(static IN_WORKER: std::cell::Cell<Option<leakwatch::ScopeGuard>> = const { std::cell::Cell::new(None) });
    let runtime = builder
        .on_thread_start(move || IN_WORKER.set(Some(workers_id.enter())))
        .on_thread_stop(|| IN_WORKER.set(None))
        .build()
        .unwrap();

    let (test, inner) = (Scope::new("test"), Arc::new(Scope::new("inner")));
    let inner_id = inner.id();
    let inner_count = {
        let inner = inner.clone();
        move || inner.open_count("conn")
    };
    let task = test.run(|| {
        runtime.spawn(async move {
            let in_task = ScopeId::current();
            let (in_inner, tag) = inner.run(|| (ScopeId::current(), Tag::new("conn")));
            let after = ScopeId::current();
            tokio::task::yield_now().await; // maybe another worker now
            (in_task, in_inner, after, ScopeId::current(), tag)
        })
    });
    let (in_task, in_inner, after, after_yield, tag) = runtime.block_on(task).unwrap();
    assert_eq!(in_task, test.id(), "the task's scope, not the worker's");
    assert_eq!(in_inner, inner_id, "a scope entered inside the task wins");
    assert_eq!((after, after_yield), (test.id(), test.id()), "and is left");
    // The tag was opened in `inner` (a sibling of `test`), and nothing in
    // the workers' scope.
    assert_eq!((inner_count(), test.open_count("conn")), (1, 0));
    assert!(workers.check_now().is_ok());
    drop(tag);
    assert_eq!(inner_count(), 0);
    assert!(test.check_within(LONG).is_ok());
}

#[leakwatch::test(grace = "30ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn leakwatch_test_reports_a_plain_tokio_spawn_at_its_site() {
    drop(tokio::spawn(std::future::pending::<()>()));
}

#[leakwatch::test(flavor = "multi_thread", worker_threads = 2)]
async fn leakwatch_test_passes_plain_tasks_that_end() {
    let handles: Vec<_> = (0..20).map(|i| tokio::spawn(async move { i })).collect();
    for h in handles {
        h.await.unwrap();
    }
}

// `spawn_blocking` fires no spawn hook, so a plain blocking task has no
// record; with `--cfg tokio_unstable` the test's runtime still counts it.
// The blocking tasks below sleep 10 s against a grace of 30 ms: still
// running at the check however slow the machine. The child process ends
// without waiting for them.
#[leakwatch::test(grace = "30ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn leakwatch_test_reports_a_plain_spawn_blocking_still_running() {
    drop(tokio::task::spawn_blocking(|| {
        std::thread::sleep(Duration::from_secs(10))
    }));
}

#[leakwatch::test(grace = "30ms", flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn leakwatch_test_reports_a_plain_spawn_blocking_on_a_multi_thread_runtime() {
    drop(tokio::task::spawn_blocking(|| {
        std::thread::sleep(Duration::from_secs(10))
    }));
}

// One blocking task ends 20 ms after the body, and the grace is 10 s.
#[leakwatch::test(grace = "10s")]
async fn leakwatch_test_passes_plain_blocking_tasks_that_end() {
    // Awaited, and one left to finish within the grace period.
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(5)))
        .await
        .unwrap();
    drop(tokio::task::spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(20))
    }));
    // tokio's own blocking work (a file read) leaves nothing behind.
    tokio::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .await
        .unwrap();
}

// `block_in_place` hands the worker's core to a new thread of the blocking
// pool: that thread is a worker, not a blocking task, and must not count.
#[leakwatch::test(flavor = "multi_thread", worker_threads = 2)]
async fn leakwatch_test_passes_block_in_place() {
    tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(5)));
    tokio::task::yield_now().await;
}

#[leakwatch::test(grace = "30ms", ignore = "kind:blocking-task")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn an_ignored_tracked_blocking_task_does_not_hide_a_plain_one() {
    let sleep = || std::thread::sleep(Duration::from_secs(10));
    drop(leakwatch::tokio::spawn_blocking(sleep));
    drop(tokio::task::spawn_blocking(sleep));
}

#[test]
fn leaking_tests_fail_with_their_tasks() {
    use support::child::fails_with;
    fails_with(
        module_path!(),
        file!(),
        "leakwatch_test_reports_a_plain_tokio_spawn_at_its_site",
        "1 task still open, spawned at crates/leakwatch/tests/tokio_hooks.rs:",
    );
    fails_with(
        module_path!(),
        file!(),
        "leakwatch_test_reports_a_plain_spawn_blocking_still_running",
        "LEAK leakwatch: 1 blocking task still running on the runtime of `tokio_hooks::",
    );
    for name in [
        "leakwatch_test_reports_a_plain_spawn_blocking_on_a_multi_thread_runtime",
        "an_ignored_tracked_blocking_task_does_not_hide_a_plain_one",
    ] {
        fails_with(
            module_path!(),
            file!(),
            name,
            "1 blocking task still running",
        );
    }
}
