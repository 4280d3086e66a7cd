//! The registry of live items.
//!
//! Every thread that opens a tracked item gets a [`Shard`] of its own: a slab
//! behind a lock that only that thread takes on open, so opening never
//! contends with other threads. Dropping an item locks the shard it lives in,
//! which is the opening thread's unless the item moved. A check walks every
//! shard; checks are rare, opens and drops are not.
//!
//! Shards are never freed. When a thread exits, its shard (and whatever is
//! still open in it) goes to a pool that the next new thread takes from, so
//! their number stays at the most threads that were ever alive at once.
//!
//! Must-close items dropped without `close` leave the slab and become
//! findings of their scope, kept in [`unclosed`] until the scope checks them.

mod counts;
pub(crate) use counts::Tally;
mod record;
mod shard;
mod thread;
pub(crate) mod unclosed;

pub(crate) use record::{NumberIs, Record};
pub(crate) use shard::Shard;
pub(crate) use thread::thread_label;

use crate::scope::ScopeId;

/// Where a live record sits: its shard and its slot in it.
#[derive(Debug)]
pub(crate) struct Handle {
    shard: &'static Shard,
    index: u32,
}

/// Records an item as open, in the calling thread's shard.
#[inline]
pub(crate) fn insert(mut record: Record) -> Handle {
    let (shard, number) = thread::current();
    record.thread = number;
    let index = shard.insert(record);
    Handle { shard, index }
}

/// Gives a live item an id (a task's, known only once it is spawned).
#[inline]
pub(crate) fn set_id(handle: &Handle, id: u64) {
    handle.shard.set_id(handle.index, id);
}

/// Removes an item, returning what was recorded for it.
#[inline]
pub(crate) fn remove(handle: Handle) -> Record {
    handle.shard.remove(handle.index)
}

/// Removes an item on drop, returning its record only if it was must-close.
#[inline]
pub(crate) fn release(handle: Handle) -> Option<Record> {
    handle.shard.release(handle.index)
}

/// What the registry holds of `scopes`, from each shard's per-scope counts:
/// no record is looked at.
pub(crate) fn tally(scopes: &[ScopeId]) -> Tally {
    let mut tally = Tally::default();
    for shard in shard::all() {
        tally += shard.tally(scopes);
    }
    tally
}

/// Whether nothing of `scopes` was open at some instant during the call.
///
/// Shards are read one at a time, so one pass can miss a record: a task of
/// the scope opens one in a shard already read, then closes its own in a
/// shard not read yet. So a pass that finds nothing open is confirmed by a
/// second one that finds nothing open *and* no removal in between: anything
/// open in between would have had to be removed before the second pass
/// read its shard. Gives up (returning false) after a few tries while the
/// scopes keep changing.
pub(crate) fn quiet(scopes: &[ScopeId]) -> bool {
    let mut before = tally(scopes);
    for _ in 0..64 {
        if before.open != 0 {
            return false;
        }
        let after = tally(scopes);
        if after == before {
            return true;
        }
        before = after;
    }
    false
}

/// Calls `f` with every live record, shard by shard.
pub(crate) fn for_each_live(mut f: impl FnMut(&Record)) {
    for shard in shard::all() {
        shard.for_each(&mut f);
    }
}

#[cfg(test)]
mod tests;
