//! A thread started in a scope is seen running, with its id, whether or not
//! its creation recorded a stack.
#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::time::{Duration, Instant};

use leakwatch_core::Scope;
use leakwatch_interpose::{Stacks, open_in, set_stacks};

fn running_tid_within(scope: &Scope, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(tid) = open_in(&[scope.id()]).threads.first().and_then(|t| t.tid) {
            return Some(tid);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One test: the stack setting is process-wide.
#[test]
fn a_started_thread_is_seen_running_with_and_without_a_stack() {
    for stacks in [Stacks::Never, Stacks::Always] {
        set_stacks(stacks);
        let scope = Scope::new("running");
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let handle = scope.run(|| std::thread::spawn(move || blocked.recv()));
        let tid = running_tid_within(&scope, Duration::from_secs(10));
        assert!(tid.is_some(), "{stacks:?}: {:?}", open_in(&[scope.id()]));
        drop(release);
        handle.join().unwrap().unwrap_err();
    }
    // At `LEAKWATCH=stacks`.
    set_stacks(Stacks::AtLevel);
    leakwatch_core::set_level(leakwatch_core::Level::Stacks);
    let scope = Scope::new("running");
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let handle = scope.run(|| std::thread::spawn(move || blocked.recv()));
    let tid = running_tid_within(&scope, Duration::from_secs(10));
    assert!(tid.is_some(), "stacks: {:?}", open_in(&[scope.id()]));
    drop(release);
    handle.join().unwrap().unwrap_err();
    leakwatch_core::set_level(leakwatch_core::Level::Sites);
}
