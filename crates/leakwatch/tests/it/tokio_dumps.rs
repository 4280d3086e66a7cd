//! Task dumps: a leaked task's report shows where it is stuck, its await
//! chain in the user's code.
//!
//! Runs only where tokio takes task dumps: `RUSTFLAGS="--cfg tokio_unstable"`
//! on Linux x86, x86_64 or aarch64 (CI runs it so). Without them, reports
//! carry a hint instead: `tests/tokio_tasks.rs` checks that.

#![cfg(all(
    feature = "tokio",
    tokio_unstable,
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
))]

use crate::support::tasks::{SHORT, drive, runtime, stuck_task_report};
use leakwatch::Scope;

/// The line of the `recv` below, where the task is stuck.
const RECV_LINE: u32 = line!() + 4;

/// A row that never comes: the channel's sender is kept and never used.
async fn waiting_for_a_row(rows: &mut tokio::sync::mpsc::Receiver<u32>) -> Option<u32> {
    rows.recv().await
}

async fn sync_rows(mut rows: tokio::sync::mpsc::Receiver<u32>) {
    while let Some(_row) = waiting_for_a_row(&mut rows).await {}
}

#[test]
fn a_stuck_tasks_report_shows_its_await_chain_in_the_users_code() {
    const { assert!(leakwatch::tokio::dump::AVAILABLE) };
    for flavor in ["current_thread", "multi_thread"] {
        let runtime = runtime(flavor);
        let scope = Scope::new("dumped");
        let (tx, rx) = tokio::sync::mpsc::channel::<u32>(1);
        let handle = scope.run(|| {
            let _rt = runtime.enter();
            leakwatch::tokio::spawn(sync_rows(rx))
        });
        let report = scope
            .check_within_using(SHORT, drive(&runtime))
            .unwrap_err();
        let report = runtime.block_on(leakwatch::tokio::dump::attach(report, runtime.handle()));
        let group = &report.groups()[0];
        let (id, chain) = group
            .waiting()
            .unwrap_or_else(|| panic!("{flavor}: no chain\n{report}"));
        assert_eq!(id.to_string(), handle.id().to_string());
        let frames: Vec<&str> = chain.lines().collect();
        assert!(
            frames.iter().any(|f| f.starts_with(
                "→ it::tokio_dumps::sync_rows at crates/leakwatch/tests/it/tokio_dumps.rs:"
            )),
            "{flavor}: {chain}"
        );
        let recv = format!(
            "→ it::tokio_dumps::waiting_for_a_row at crates/leakwatch/tests/it/tokio_dumps.rs:{RECV_LINE}:"
        );
        assert!(
            frames.iter().any(|f| f.starts_with(&recv)),
            "{flavor}: {chain}"
        );
        // tokio's frames are one line, named by what the task waits on.
        assert!(
            frames.iter().any(|f| f.starts_with("tokio::sync::mpsc::")
                && (f.contains(" frames in tokio 1.x") || f.contains(" frame in tokio 1.x"))),
            "{flavor}: {chain}"
        );
        assert_eq!(
            frames.iter().filter(|f| f.contains("tokio::sync")).count(),
            1,
            "{flavor}: {chain}"
        );
        assert!(
            report
                .to_string()
                .contains(&format!("id {id} is waiting at:\n")),
            "{report}"
        );
        assert!(report.hints().is_empty(), "{report}");
        handle.abort();
        drop(tx);
    }
}

#[test]
fn a_task_waiting_outside_tokio_shows_no_chain() {
    let report = stuck_task_report();
    assert_eq!(report.groups()[0].waiting(), None, "{report}");
}

#[leakwatch::test(grace = "30ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn leakwatch_test_shows_where_a_leaked_task_is_stuck() {
    let (tx, rx) = tokio::sync::mpsc::channel::<u32>(1);
    drop(tokio::spawn(sync_rows(rx)));
    std::mem::forget(tx);
}

#[test]
fn a_leaking_test_shows_where_its_task_is_stuck() {
    let output = crate::support::child::fails_with(
        module_path!(),
        file!(),
        "leakwatch_test_shows_where_a_leaked_task_is_stuck",
        "is waiting at:",
    );
    assert!(
        output.contains("tokio_dumps::sync_rows at crates/leakwatch/tests/it/tokio_dumps.rs:"),
        "{output}"
    );
}
