//! Without the counting allocator (this binary installs none), a failing
//! check's report has no heap line: nothing is measured, so nothing is
//! said (`tests/heap_report.rs` is the same with the allocator).

use std::panic::{self, AssertUnwindSafe};

#[test]
fn without_the_counting_allocator_no_heap_line_is_shown() {
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        leakwatch::check(|| {
            std::mem::forget(leakwatch::Tracked::new(1, "conn"));
            Box::leak(vec![7u8; 100].into_boxed_slice());
        })
    }))
    .expect_err("the connection is still open");
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(message.contains("1 conn still open"), "{message}");
    assert!(!message.contains("heap block"), "{message}");
}
