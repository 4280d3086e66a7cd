//! Live records by scope, so that a query for scopes with none skips the
//! tables.
//!
//! A query walks every slot of the thread and child tables (a record is
//! [`W`](super::record::W) words, so each slot is a cache miss), which
//! would be most of a clean check's cost. So every record that is not free
//! and names a scope counts one in that scope's bucket, a hash of the scope
//! among [`BUCKETS`]. A count changes only while its slot is locked, by
//! [`Locked`] as the lock is let go, from what the slot held when it was
//! locked to what it holds then; so at every point of a bucket's modification order its count is
//! the number of live records of its scopes, and a query that reads zero
//! in every bucket of its scopes had nothing of theirs recorded at that
//! point (a record made before the query began, in the query's
//! happens-before, is counted before it). Other scopes sharing a bucket
//! only cost a walk.

use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};

use leakwatch_core::ScopeId;

use super::record::{Record, State, Writer};

/// Buckets of scopes: a few dozen scopes with records alive at once (tests
/// running in parallel) leave most empty.
const BUCKETS: usize = 256;

type Buckets = [AtomicU32; BUCKETS];

static LIVE: Buckets = [const { AtomicU32::new(0) }; BUCKETS];

fn bucket(buckets: &Buckets, scope: u64) -> &AtomicU32 {
    &buckets[(scope.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % BUCKETS]
}

/// The scope a slot's record counts in, if it counts.
fn counted(writer: &Writer<'_>) -> Option<u64> {
    let scope = writer.scope();
    (writer.state() != State::Free && scope != ScopeId::NONE).then_some(scope.as_u64())
}

/// A slot locked for writing, whose count follows what it holds when the
/// lock is let go.
pub(crate) struct Locked<'a> {
    writer: Writer<'a>,
    before: Option<u64>,
    buckets: &'static Buckets,
}

/// Locks `slot` for writing (see [`Record::lock`]).
#[inline]
pub(crate) fn lock(slot: &Record) -> Locked<'_> {
    lock_in(slot, &LIVE)
}

#[inline]
fn lock_in<'a>(slot: &'a Record, buckets: &'static Buckets) -> Locked<'a> {
    let writer = slot.lock();
    let before = counted(&writer);
    Locked {
        writer,
        before,
        buckets,
    }
}

impl<'a> Deref for Locked<'a> {
    type Target = Writer<'a>;

    fn deref(&self) -> &Writer<'a> {
        &self.writer
    }
}

impl Drop for Locked<'_> {
    /// Runs before the writer's own drop publishes the record, so the
    /// slot is still locked.
    #[inline]
    fn drop(&mut self) {
        let after = counted(&self.writer);
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
    use super::*;

    #[test]
    fn a_scope_counts_while_a_record_of_it_is_live() {
        static BUCKETS: Buckets = [const { AtomicU32::new(0) }; super::BUCKETS];
        let slot = Record::new();
        let (a, b, none) = (11, 12, ScopeId::NONE.as_u64());
        assert_ne!(
            bucket(&BUCKETS, a) as *const _,
            bucket(&BUCKETS, b) as *const _
        );
        let set = |state: State, scope: u64| {
            let g = lock_in(&slot, &BUCKETS);
            g.set_scope(ScopeId::from_u64(scope));
            g.set_state(state);
        };
        let none_of = |scopes: &[u64]| none_in(&BUCKETS, scopes.iter().copied());
        assert!(none_of(&[a, b]));
        set(State::Live, a);
        assert!(!none_of(&[a]) && !none_of(&[b, a]) && none_of(&[b]));
        // A change of scope under one lock moves the count.
        set(State::Running, b);
        assert!(none_of(&[a]) && !none_of(&[b]));
        set(State::Free, b);
        assert!(none_of(&[a, b]));
        // Records of no scope never count.
        set(State::Live, none);
        assert!(BUCKETS.iter().all(|b| b.load(Ordering::SeqCst) == 0));
    }
}
