//! Builds and platforms without interposition: nothing is recorded, and
//! [`support`] says why.

use leakwatch_core::ScopeId;

use crate::open::{OpenCounts, Open};
use crate::{Stacks, Support};

const WHY: &str = if cfg!(not(any(debug_assertions, feature = "production"))) {
    "tracking is compiled out of this build (no debug_assertions, no `production` feature)"
} else if cfg!(not(feature = "interpose")) {
    "leakwatch is built without its `interpose` feature, so libc's functions are not interposed"
} else if cfg!(target_feature = "crt-static") {
    "libc is linked statically (`+crt-static`), where its functions cannot be interposed"
} else {
    "descriptors, threads and children created outside leakwatch's wrappers are seen only on glibc Linux (x86_64, aarch64)"
};

pub(crate) fn support() -> Support {
    Support::Unavailable(WHY)
}

pub(crate) fn open_in(_: &[ScopeId]) -> Open {
    Open::default()
}

pub(crate) fn open_all() -> Open {
    Open::default()
}

pub(crate) fn counts_in(_: &[ScopeId]) -> OpenCounts {
    OpenCounts::default()
}

pub(crate) fn set_recording(_: bool) {}

pub(crate) fn set_stacks(_: Stacks) {}

pub(crate) fn unrecorded<R>(f: impl FnOnce() -> R) -> R {
    f()
}

pub(crate) fn missed() -> u64 {
    0
}

pub(crate) fn is_recorded(_: i32) -> bool {
    false
}

pub(crate) fn scope_main_spawns(_: fn() -> Option<ScopeId>, _: fn(ScopeId)) -> bool {
    false
}

pub(crate) fn set_initializer_code(_: Vec<std::ops::Range<usize>>) -> bool {
    false
}
