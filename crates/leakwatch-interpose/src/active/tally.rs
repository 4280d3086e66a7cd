//! Live records by scope, so that a query for scopes with none skips the
//! tables.
//!
//! A query walks every slot of the thread and child tables (a record is
//! [`W`] words, so each slot is a cache miss): 4 µs a check, most of a clean
//! check's cost. So every record that is not free and names a scope counts
//! one in that scope's bucket, a hash of the scope among [`BUCKETS`]. A
//! count changes only while its slot is locked, by [`Locked`] as the lock
//! is let go, from what the slot held when it was locked to what it holds
//! then; so at every point of a bucket's modification order its count is
//! the number of live records of its scopes, and a query that reads zero
//! in every bucket of its scopes had nothing of theirs recorded at that
//! point (a record made before the query began, in the query's
//! happens-before, is counted before it). Other scopes sharing a bucket
//! only cost a walk.

use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};

use leakwatch_core::ScopeId;

use super::slot::{Guard, Slot};
use super::{FREE, SCOPE, STATE, W};

/// Buckets of scopes: a few dozen scopes with records alive at once (tests
/// running in parallel) leave most empty.
const BUCKETS: usize = 256;

type Buckets = [AtomicU32; BUCKETS];

static LIVE: Buckets = [const { AtomicU32::new(0) }; BUCKETS];

fn bucket(buckets: &Buckets, scope: u64) -> &AtomicU32 {
    &buckets[(scope.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % BUCKETS]
}

/// The scope a slot's record counts in, if it counts.
fn counted(guard: &Guard<'_, W>) -> Option<u64> {
    let scope = guard.get(SCOPE);
    (guard.get(STATE) != FREE && scope != ScopeId::NONE.as_u64()).then_some(scope)
}

/// A slot locked for writing, whose count follows what it holds when the
/// lock is let go.
pub(crate) struct Locked<'a> {
    guard: Guard<'a, W>,
    before: Option<u64>,
    buckets: &'static Buckets,
}

/// Locks `slot` for writing (see [`Slot::lock`]).
#[inline]
pub(crate) fn lock(slot: &Slot<W>) -> Locked<'_> {
    lock_in(slot, &LIVE)
}

#[inline]
fn lock_in<'a>(slot: &'a Slot<W>, buckets: &'static Buckets) -> Locked<'a> {
    let guard = slot.lock();
    let before = counted(&guard);
    Locked {
        guard,
        before,
        buckets,
    }
}

impl<'a> Deref for Locked<'a> {
    type Target = Guard<'a, W>;

    fn deref(&self) -> &Guard<'a, W> {
        &self.guard
    }
}

impl Drop for Locked<'_> {
    /// Runs before the guard's own drop publishes the words, so the slot
    /// is still locked.
    #[inline]
    fn drop(&mut self) {
        let after = counted(&self.guard);
        if after != self.before {
            if let Some(scope) = after {
                bucket(self.buckets, scope).fetch_add(1, Ordering::SeqCst);
            }
            if let Some(scope) = self.before {
                bucket(self.buckets, scope).fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// Whether no record of `scopes` is live (some may be, when another
/// scope's records share a bucket: then this says `false`).
pub(crate) fn none_of(scopes: &[ScopeId]) -> bool {
    none_in(&LIVE, scopes.iter().map(|scope| scope.as_u64()))
}

fn none_in(buckets: &Buckets, mut scopes: impl Iterator<Item = u64>) -> bool {
    scopes.all(|scope| bucket(buckets, scope).load(Ordering::SeqCst) == 0)
}

#[cfg(test)]
mod tests {
    use super::super::{LIVE as LIVE_STATE, RUNNING};
    use super::*;

    #[test]
    fn a_scope_counts_while_a_record_of_it_is_live() {
        static BUCKETS: Buckets = [const { AtomicU32::new(0) }; super::BUCKETS];
        let slot = Slot::<W>::new();
        let (a, b, none) = (11, 12, ScopeId::NONE.as_u64());
        assert_ne!(
            bucket(&BUCKETS, a) as *const _,
            bucket(&BUCKETS, b) as *const _
        );
        let set = |state: u64, scope: u64| {
            let g = lock_in(&slot, &BUCKETS);
            g.set(SCOPE, scope);
            g.set(STATE, state);
        };
        let none_of = |scopes: &[u64]| none_in(&BUCKETS, scopes.iter().copied());
        assert!(none_of(&[a, b]));
        set(LIVE_STATE, a);
        assert!(!none_of(&[a]) && !none_of(&[b, a]) && none_of(&[b]));
        // A change of scope under one lock moves the count.
        set(RUNNING, b);
        assert!(none_of(&[a]) && !none_of(&[b]));
        set(FREE, b);
        assert!(none_of(&[a, b]));
        // Records of no scope never count.
        set(LIVE_STATE, none);
        assert!(BUCKETS.iter().all(|b| b.load(Ordering::SeqCst) == 0));
    }
}
