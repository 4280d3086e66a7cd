//! Where nothing is interposed (off glibc Linux): nothing to register,
//! said once.

use std::sync::Once;

pub(crate) fn register() -> bool {
    false
}

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "leakwatch: {}: descriptors, threads and child processes opened outside \
             leakwatch's wrappers are not checked",
            unseen_reason()
        );
    });
}

pub(crate) fn seen() -> bool {
    false
}

pub(crate) fn unseen_reason() -> &'static str {
    "descriptors, threads and children created outside leakwatch's wrappers are seen only \
     on glibc Linux (x86_64, aarch64)"
}

pub(crate) fn unrecorded<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// No descriptors are attributed here, so none is told apart.
#[derive(Debug)]
pub(crate) struct Unseen;

impl Unseen {
    pub(crate) fn begin() -> Option<Unseen> {
        None
    }

    pub(crate) fn end(self, _name: &str, _others: &str) -> Option<String> {
        None
    }
}

#[allow(dead_code)]
#[derive(Debug)]
pub(crate) struct RuntimeThread;

#[allow(dead_code)]
impl RuntimeThread {
    pub(crate) fn start() {}

    pub(crate) fn stop() {}
}
