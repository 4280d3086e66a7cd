//! The scope table: each scope's parent and children, so a check can find
//! the family of the scope it checks, and each scope's slot of
//! [`counts`](super::counts), taken back once the scope is dropped and
//! nothing counted in it is open.
//!
//! A dropped scope whose items are still open stays in the table, in its
//! parent's family, until they close: its parent's checks keep seeing them.
//! When it goes, its children (if any are alive) become its parent's.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::counts::{self, Slots};
use super::unclosed;
use crate::scope_id::ScopeId;

struct Entry {
    parent: ScopeId,
    /// Scopes created while this one was current.
    children: Vec<ScopeId>,
    /// The `Scope` is gone; the entry stays while items counted in it are
    /// open.
    dropped: bool,
}

#[derive(Default)]
struct Table {
    entries: HashMap<ScopeId, Entry>,
    slots: Slots,
    /// Dropped scopes with items still open, looked at again now and then.
    draining: Vec<ScopeId>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

/// Dropped scopes looked at again per scope created or dropped: enough to
/// keep up with any rate of drops, amortized O(1).
const RETRIES: usize = 2;

fn table() -> MutexGuard<'static, Option<Table>> {
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A new scope, a child of `parent`.
///
/// # Panics
///
/// When a million scopes are alive at once: a scope leaked per request,
/// most likely.
pub(crate) fn create(parent: ScopeId) -> ScopeId {
    let mut guard = table();
    let table = guard.get_or_insert_with(Table::default);
    table.retry_draining();
    let id = table
        .slots
        .allocate()
        .expect("leakwatch: over a million scopes alive at once (are `Scope`s being leaked?)");
    table.entries.insert(
        id,
        Entry {
            parent,
            children: Vec::new(),
            dropped: false,
        },
    );
    if let Some(entry) = table.entries.get_mut(&parent) {
        entry.children.push(id);
    }
    id
}

/// The `Scope` of `id` is gone: its unclosed findings go to its parent,
/// and its slot is taken back once nothing counted in it is open.
pub(crate) fn drop_scope(id: ScopeId) {
    let parent = {
        let mut guard = table();
        let Some(table) = guard.as_mut() else { return };
        let Some(entry) = table.entries.get_mut(&id) else {
            return;
        };
        entry.dropped = true;
        let parent = entry.parent;
        if !table.try_remove(id) {
            table.draining.push(id);
        }
        table.retry_draining();
        parent
    };
    unclosed::reparent(id, parent);
}

/// `id` and every scope below it, `id` first (none if `id` is not a scope
/// in the table): a walk down the children lists, so its cost is the size
/// of `id`'s own family, whatever else the process has.
pub(crate) fn family(id: ScopeId) -> Vec<ScopeId> {
    let guard = table();
    let Some(table) = guard.as_ref() else {
        return Vec::new();
    };
    if !table.entries.contains_key(&id) {
        return Vec::new();
    }
    let mut family = vec![id];
    let mut next = 0;
    while let Some(&at) = family.get(next) {
        if let Some(entry) = table.entries.get(&at) {
            family.extend_from_slice(&entry.children);
        }
        next += 1;
    }
    family
}

impl Table {
    /// Removes dropped scope `id` if nothing counted in it is open, giving
    /// its children to its parent and its slot back; false if something
    /// is open.
    fn try_remove(&mut self, id: ScopeId) -> bool {
        let Some(counts) = counts::counts(id) else {
            return false;
        };
        if !counts.balanced() {
            return false;
        }
        // Retired first, then looked at again: an open racing the
        // retirement either fails or shows here (see "# Counting").
        counts.retire();
        if !counts.balanced() {
            return false;
        }
        let Some(entry) = self.entries.remove(&id) else {
            return false;
        };
        if let Some(parent) = self.entries.get_mut(&entry.parent) {
            parent.children.retain(|&c| c != id);
            parent.children.extend_from_slice(&entry.children);
        }
        for child in &entry.children {
            if let Some(child) = self.entries.get_mut(child) {
                child.parent = entry.parent;
            }
        }
        self.slots.free(id);
        true
    }

    /// Looks at a few draining scopes again, oldest first.
    fn retry_draining(&mut self) {
        for _ in 0..RETRIES.min(self.draining.len()) {
            let id = self.draining.remove(0);
            if !self.try_remove(id) {
                self.draining.push(id);
            }
        }
    }
}

#[cfg(test)]
#[cfg(not(loom))]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_scope_with_open_items_stays_in_its_parents_family() {
        let parent = create(ScopeId::NONE);
        let child = create(parent);
        let grandchild = create(child);
        assert_eq!(family(parent), [parent, child, grandchild]);
        let item = counts::open(child, 1);
        assert_eq!(item, child);

        drop_scope(child);
        assert_eq!(family(parent), [parent, child, grandchild], "still open in it");
        counts::close(item, 1);
        // Scopes created and dropped later look at it again.
        for _ in 0..4 {
            drop_scope(create(ScopeId::NONE));
        }
        assert_eq!(family(parent), [parent, grandchild], "gone, its child kept");
        assert!(family(child).is_empty());
        assert_eq!(counts::open(child, 1), ScopeId::NONE, "its id is dead");
        drop_scope(grandchild);
        drop_scope(parent);
        assert!(family(parent).is_empty());
    }

    #[test]
    fn slots_of_clean_scopes_are_used_again() {
        // Tests running beside this one take slots too, but not hundreds.
        let mut slots = std::collections::HashSet::new();
        for _ in 0..1_000 {
            let id = create(ScopeId::NONE);
            slots.insert(id.index());
            drop_scope(id);
        }
        assert!(slots.len() < 100, "{} slots for 1,000 scopes", slots.len());
    }
}
