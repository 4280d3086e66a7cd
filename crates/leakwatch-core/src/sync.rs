//! The atomics of the registry's lock-free parts, from `std`, or from
//! `loom` in `--cfg loom` builds so that the same code runs under its model
//! checker (as tokio's `src/loom/` does).
//!
//! Only the types that the models exercise come from here: rings, the
//! per-scope counts and the seqlock. Statics keep `std`'s atomics, since
//! loom's have no `const` constructor; nothing a model checks lives in one.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};

/// A pause in a spin loop (under loom, a point where another thread runs).
#[cfg(not(loom))]
pub(crate) use std::hint::spin_loop;

#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;

/// Lets other threads run while a spin loop waits long.
#[cfg(not(loom))]
pub(crate) use std::thread::yield_now;

#[cfg(loom)]
pub(crate) use loom::thread::yield_now;

/// Where the counting protocol relies on the single total order of
/// sequentially consistent accesses (see "# Counting" in the registry's
/// docs). The real accesses are `SeqCst`, which gives that order, so this
/// is nothing. loom treats `SeqCst` loads and read-modify-writes as
/// acquire/release only, and would report races that cannot happen; a
/// `SeqCst` fence, which it does model, stands in for the order there.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn seq_cst_order() {}

#[cfg(loom)]
pub(crate) fn seq_cst_order() {
    loom::sync::atomic::fence(Ordering::SeqCst);
}
