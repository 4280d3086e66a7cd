//! The atomics of the registry's lock-free parts, from `std`, or from
//! `loom` in `--cfg loom` builds so that the same code runs under its model
//! checker (as tokio's `src/loom/` does).
//!
//! Only the types that the models exercise come from here: rings, the
//! per-scope counts and the seqlock. Statics keep `std`'s atomics, since
//! loom's have no `const` constructor; nothing a model checks lives in one.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
