//! How many records each scope has in one shard.
//!
//! Kept under the shard's lock, which open and drop take anyway, so a check
//! of a clean scope can answer from a few map lookups per shard instead of
//! walking every record in the process: a test's check stays fast however
//! much other tests and the rest of the program have open.

use std::collections::HashMap;

use crate::scope::ScopeId;

/// Live records per scope: a direct-mapped table (one multiply and one
/// array slot per open and drop) with a map for scopes whose slot another
/// scope holds. The counts are exact; a scope's count is its slot's, if the
/// slot is its own, plus its overflow entry. Nothing is allocated until the
/// first add, so shards and id tables start empty in `const` context.
///
/// Each slot also counts every removal of a record whose scope maps to it,
/// whoever owns the slot: shards are read one after another, so a check
/// needs these to know that nothing of its scope closed while it read (see
/// [`super::quiet`]).
#[derive(Debug, Default)]
pub(crate) struct ScopeCounts {
    table: Option<Box<Table>>,
}

#[derive(Debug)]
struct Table {
    slots: [Slot; SLOTS],
    /// Only scopes that find their slot taken: rare, so std's hasher does.
    overflow: HashMap<ScopeId, u32>,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    scope: ScopeId,
    live: u32,
    removed: u32,
}

/// What a shard holds of a family of scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Records open now.
    pub(crate) open: u64,
    /// Removals so far of records whose scopes share a slot with the
    /// family's: only compared with an earlier tally of the same family.
    pub(crate) removed: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.open += other.open;
        self.removed = self.removed.wrapping_add(other.removed);
    }
}

const SLOTS: usize = 256;

#[inline]
fn slot_of(scope: ScopeId) -> usize {
    (scope.as_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize
}

impl ScopeCounts {
    /// Counts of nothing, not yet allocated.
    pub(crate) const fn new() -> ScopeCounts {
        ScopeCounts { table: None }
    }

    #[inline]
    pub(crate) fn add(&mut self, scope: ScopeId) {
        self.table.get_or_insert_with(Table::new).add(scope);
    }

    #[inline]
    pub(crate) fn sub(&mut self, scope: ScopeId) {
        if let Some(table) = &mut self.table {
            table.sub(scope);
        }
    }

    /// Records of any of `scopes`.
    pub(crate) fn tally(&self, scopes: &[ScopeId]) -> Tally {
        self.table.as_ref().map_or(Tally::default(), |t| t.tally(scopes))
    }
}

impl Table {
    fn new() -> Box<Table> {
        Box::new(Table {
            slots: [Slot {
                scope: ScopeId::NONE,
                live: 0,
                removed: 0,
            }; SLOTS],
            overflow: HashMap::new(),
        })
    }

    #[inline]
    fn add(&mut self, scope: ScopeId) {
        let slot = &mut self.slots[slot_of(scope)];
        if slot.scope == scope {
            slot.live += 1;
        } else if slot.live == 0 {
            slot.scope = scope;
            slot.live = 1;
        } else {
            *self.overflow.entry(scope).or_insert(0) += 1;
        }
    }

    #[inline]
    fn sub(&mut self, scope: ScopeId) {
        let slot = &mut self.slots[slot_of(scope)];
        slot.removed = slot.removed.wrapping_add(1);
        if slot.scope == scope && slot.live > 0 {
            slot.live -= 1;
        } else if let Some(n) = self.overflow.get_mut(&scope) {
            *n -= 1;
            if *n == 0 {
                self.overflow.remove(&scope);
            }
        }
    }

    fn tally(&self, scopes: &[ScopeId]) -> Tally {
        let mut tally = Tally::default();
        for &s in scopes {
            let slot = self.slots[slot_of(s)];
            let own = if slot.scope == s { slot.live } else { 0 };
            let more = self.overflow.get(&s).copied().unwrap_or(0);
            tally += Tally {
                open: u64::from(own) + u64::from(more),
                removed: u64::from(slot.removed),
            };
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_adds_and_subs() {
        let (a, b) = (ScopeId::for_tests(7), ScopeId::for_tests(8));
        let mut counts = ScopeCounts::new();
        counts.add(a);
        counts.add(a);
        counts.add(b);
        assert_eq!(counts.tally(&[a]).open, 2);
        assert_eq!(counts.tally(&[a, b]).open, 3);
        counts.sub(a);
        counts.sub(b);
        assert_eq!(counts.tally(&[b]).open, 0);
        counts.sub(a);
        assert_eq!(counts.tally(&[a, b]).open, 0);
        assert_eq!(counts.tally(&[a]).removed, 2, "every removal is counted");
    }

    #[test]
    fn scopes_sharing_a_slot_keep_exact_counts() {
        let ids: Vec<ScopeId> = (1..5000).map(ScopeId::for_tests).collect();
        let first = ids[0];
        let rivals: Vec<ScopeId> = ids.into_iter().filter(|&s| slot_of(s) == slot_of(first)).collect();
        assert!(rivals.len() >= 3, "ids sharing a slot: {rivals:?}");
        let (a, b, c) = (rivals[0], rivals[1], rivals[2]);
        let mut counts = ScopeCounts::new();
        counts.add(a); // a takes the slot
        counts.add(b); // b overflows
        counts.add(b);
        counts.sub(a); // the slot is free again
        counts.add(c); // c takes it
        counts.add(b); // b overflows still
        assert_eq!((counts.tally(&[a]).open, counts.tally(&[b]).open, counts.tally(&[c]).open), (0, 3, 1));
        counts.sub(c);
        counts.add(b); // b takes the slot, with more in the overflow
        assert_eq!(counts.tally(&[b]).open, 4);
        for _ in 0..4 {
            counts.sub(b);
        }
        assert_eq!(counts.tally(&[a, b, c]).open, 0);
        assert!(counts.table.unwrap().overflow.is_empty());
    }
}
