//! A leaked task that tokio's dump has no chain for (it waits on nothing of
//! tokio's) is not passed over in silence: its report says so in one line,
//! and why.
//!
//! Runs only where tokio takes task dumps: `RUSTFLAGS="--cfg tokio_unstable"`
//! on Linux x86, x86_64 or aarch64 (CI runs it so).

#![cfg(all(
    feature = "tokio",
    tokio_unstable,
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
))]

mod support;

#[test]
fn a_task_waiting_outside_tokio_says_why_it_has_no_chain() {
    let report = support::tasks::stuck_task_report();
    assert_eq!(report.groups()[0].waiting(), None, "{report}");
    let text = report.to_string();
    assert!(
        text.contains(
            "\nLEAK     no await chain in tokio's task dump: tokio traces a task only where it \
             waits on tokio's own leaf futures (channels, timers, I/O readiness, locks), and this \
             one waits elsewhere\n"
        ),
        "{text}"
    );
    assert!(!text.contains("is waiting at"), "{text}");
}
