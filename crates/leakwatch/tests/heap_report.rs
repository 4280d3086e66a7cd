//! With the counting allocator installed, a failing check's report ends
//! with one line of information: the heap allocated in the scope and still
//! live. A passing check says nothing. (`it/heap_report_unset.rs` is the same
//! without the allocator: no such line.)

#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::alloc::System;
use std::fs::File;
use std::panic::{self, AssertUnwindSafe};

use leakwatch::alloc::Counting;

#[global_allocator]
static ALLOCATOR: Counting<System> = Counting::new(System);

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");

/// The message `leakwatch::check(f)` failed with, or `None` if it passed.
fn check_message(f: impl FnOnce()) -> Option<String> {
    let payload = panic::catch_unwind(AssertUnwindSafe(|| leakwatch::check(f))).err()?;
    Some(
        payload
            .downcast_ref::<String>()
            .expect("a check fails with its report")
            .clone(),
    )
}

#[test]
fn a_failing_report_shows_the_heap_still_live_as_information() {
    let message = check_message(|| {
        // A plain file left open fails the check; 100 bytes kept in a
        // leaked box are the scope's live heap.
        std::mem::forget(File::open(CONFIG).unwrap());
        Box::leak(vec![7u8; 100].into_boxed_slice());
    })
    .expect("the file is still open");
    assert!(message.contains("LEAK   1 fd still open"), "{message}");
    let info = message
        .lines()
        .filter(|line| line.contains("heap block"))
        .collect::<Vec<_>>();
    assert_eq!(
        info,
        [
            "LEAK leakwatch: info: 1 heap block (100 bytes) allocated in this scope is still live; \
          heap alive at the end is not by itself a leak (a cache, a value kept on purpose): \
          #[leakwatch::test(hunt = \"3:5\")] judges heap by repetition"
        ],
        "{message}"
    );
    // After the report, as its last line.
    assert!(
        message.trim_end().ends_with("judges heap by repetition"),
        "{message}"
    );
}

#[test]
fn heap_freed_before_the_end_is_not_shown() {
    let message = check_message(|| {
        std::mem::forget(File::open(CONFIG).unwrap());
        drop(vec![7u8; 100]);
    })
    .expect("the file is still open");
    assert!(!message.contains("heap block"), "{message}");
}

#[test]
fn heap_alone_does_not_fail_a_check() {
    let message = check_message(|| {
        Box::leak(vec![7u8; 100].into_boxed_slice());
    });
    assert_eq!(message, None);
}
