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
//! Items known only by an id (tasks seen by tokio's hooks) are kept in
//! [`ids`] tables instead, which checks read like shards.
//!
//! Must-close items dropped without `close` leave the slab and become
//! findings of their scope, kept in [`unclosed`] until the scope checks them.

mod counts;
pub(crate) use counts::Tally;
pub(crate) mod ids;
mod record;
mod shard;
mod thread;
pub(crate) mod unclosed;

pub(crate) use record::{NumberIs, Record};
pub(crate) use shard::Shard;
pub(crate) use thread::{number as thread_number, thread_label};

use crate::scope::ScopeId;

/// Where a live record sits: its shard and its slot in it.
#[derive(Debug)]
pub(crate) struct Handle {
    shard: &'static Shard,
    /// The slot (low half) and the shard's insert count just after this
    /// record's insert (high half), in one word: a handle is returned
    /// through memory, and a word written whole is read back whole, without
    /// the store-forwarding stall of reading two halves as one word (a perf
    /// profile put 4% of a tracked spawn's time on that one load).
    key: u64,
}

/// A copy of a [`Handle`] that may outlive its record: it can set the
/// record's id, and only while the record's slot is known to hold it.
#[derive(Debug)]
pub(crate) struct LateHandle {
    shard: &'static Shard,
    key: u64,
}

/// Records an item as open, in the calling thread's shard: `make` makes
/// its record, given the thread's number. (Made here rather than passed in,
/// so the record is not copied once more after its thread is filled in.)
#[inline(always)]
pub(crate) fn insert(scope: ScopeId, make: impl FnOnce(u32) -> Record) -> Handle {
    let (shard, number) = thread::current();
    let (index, stamp) = shard.insert(number, scope, make);
    Handle {
        shard,
        key: u64::from(index) | u64::from(stamp) << 32,
    }
}

/// Gives a live item an id (a task's, known only once it is spawned).
#[inline]
pub(crate) fn set_id(handle: &Handle, id: u64) {
    handle.shard.set_id(handle.index(), id);
}

impl Handle {
    /// The record's slot in its shard.
    #[inline]
    fn index(&self) -> u32 {
        self.key as u32
    }

    /// A handle that can give this item an id later, after the tag holding
    /// this handle moved on and perhaps was dropped.
    #[inline]
    pub(crate) fn late(&self) -> LateHandle {
        LateHandle {
            shard: self.shard,
            key: self.key,
        }
    }
}

/// Gives the item of `late` an id if nothing was inserted in its shard since
/// it was: then its slot holds it or, if it was dropped, nothing. Returns
/// whether the id was set.
#[inline]
pub(crate) fn set_id_late(late: &LateHandle, id: u64) -> bool {
    let (index, stamp) = (late.key as u32, (late.key >> 32) as u32);
    late.shard.set_id_if_unchanged(index, stamp, id)
}

/// Removes an item, returning what was recorded for it.
#[inline]
pub(crate) fn remove(handle: Handle) -> Record {
    handle.shard.remove(handle.index())
}

/// Removes an item on drop, returning its record only if it was must-close.
#[inline]
pub(crate) fn release(handle: Handle) -> Option<Record> {
    handle.shard.release(handle.index())
}

/// What the registry holds of `scopes`, from each shard's and id table's
/// per-scope counts: no record is looked at.
pub(crate) fn tally(scopes: &[ScopeId]) -> Tally {
    let mut tally = Tally::default();
    for shard in shard::all() {
        tally += shard.tally(scopes);
    }
    for table in ids::tables() {
        tally += table.tally(scopes);
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

/// Calls `f` with every live record, shard by shard, then table by table.
pub(crate) fn for_each_live(mut f: impl FnMut(&Record)) {
    for shard in shard::all() {
        shard.for_each(&mut f);
    }
    for table in ids::tables() {
        table.for_each(&mut f);
    }
}

#[cfg(test)]
mod tests;
