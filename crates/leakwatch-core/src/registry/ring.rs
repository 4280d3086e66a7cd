//! A lock-free table with one slot per key modulo its size.
//!
//! Short-lived items (a server's tasks, a hundred alive at a time; the
//! files and sockets a request opens) have keys close together, so nearly
//! every one finds its slot free: opening it is a few plain stores (and a
//! compare-exchange where several threads open in one ring), closing it two.
//! A key whose slot is taken goes elsewhere (the caller's choice). Id tables
//! key their rings by task id, a thread's [`own`](super::own) ring by a count
//! of its opens. A slot is written only through the guards of [`slot`]; who
//! may take which, and how readers stay consistent: the registry's docs,
//! "# Rings".

mod slot;

use std::panic::Location;

pub(in crate::registry) use super::record::Number;
use crate::scope_id::ScopeId;
use slot::Slot;

/// Slots per ring: a few hundred short tasks alive at once fit without
/// collisions, and a snapshot reads the whole ring in about a microsecond.
pub(in crate::registry) const SLOTS: usize = 256;

/// `N` slots indexed by key modulo `N`.
#[derive(Debug)]
pub(in crate::registry) struct Ring<const N: usize = SLOTS> {
    slots: Box<[Slot; N]>,
}

/// An item as an open gives it, or as a reader took it from a live slot.
#[derive(Clone, Copy, Debug)]
pub(in crate::registry) struct Seen {
    /// The item's key: a task id in an id table, the count of the
    /// thread's opens in a thread's own ring.
    pub(in crate::registry) id: u64,
    pub(in crate::registry) scope: ScopeId,
    pub(in crate::registry) site: &'static Location<'static>,
    pub(in crate::registry) opened: u64,
    pub(in crate::registry) thread: u32,
    /// What [`Ring::insert_owned`] was given (`""` in an id table).
    pub(in crate::registry) kind: &'static str,
    /// The item's number, if it has one.
    pub(in crate::registry) number: Option<Number>,
}

impl Seen {
    /// A plain item (a kind and a site) for a thread's own ring, whose
    /// insert gives it its key.
    #[inline(always)]
    pub(in crate::registry) fn plain(
        kind: &'static str,
        site: &'static Location<'static>,
        scope: ScopeId,
        opened: u64,
        thread: u32,
    ) -> Seen {
        Seen {
            id: 0,
            scope,
            site,
            opened,
            thread,
            kind,
            number: None,
        }
    }
}

impl Ring {
    pub(in crate::registry) fn new() -> Ring {
        Ring::sized()
    }
}

impl<const N: usize> Ring<N> {
    /// A ring of `N` free slots.
    pub(in crate::registry) fn sized() -> Ring<N> {
        let placeholder = Location::caller();
        // Built on the heap: a large ring would not fit a worker's stack.
        let slots: Box<[Slot]> = (0..N).map(|_| Slot::new(placeholder)).collect();
        let Ok(slots) = slots.try_into() else {
            unreachable!("{N} slots were made")
        };
        Ring { slots }
    }

    #[inline]
    fn slot(&self, key: u64) -> &Slot {
        &self.slots[(key % N as u64) as usize]
    }

    /// Records item `seen.id` in its slot if the slot is free; false if it
    /// is not (or the key is too big for a slot), for the caller to put
    /// elsewhere. Any thread may call this.
    #[inline]
    pub(in crate::registry) fn insert(&self, seen: &Seen) -> bool {
        let Some(claim) = self.slot(seen.id).claim(seen.id) else {
            return false;
        };
        claim.fill(seen);
        true
    }

    /// [`Ring::insert`] for a ring only one thread opens in (a thread's own),
    /// which needs no compare-exchange: nobody else changes a free slot.
    /// Records `seen.kind` and a descriptor number too.
    #[inline]
    pub(in crate::registry) fn insert_owned(&self, seen: &Seen) -> bool {
        let Some(claim) = self.slot(seen.id).claim_owned(seen.id) else {
            return false;
        };
        claim.fill(seen);
        claim.kind(seen.kind);
        if let Some(Number::Fd(fd)) = seen.number {
            claim.fd(fd);
        }
        true
    }

    /// Gives live item `key` an id; false if its slot does not hold it.
    /// Any thread may call this, at any time: see "# Rings".
    #[inline]
    pub(in crate::registry) fn set_number(&self, key: u64, number: u64) -> bool {
        self.slot(key).set_number(key, number)
    }

    /// The scope of item `key`, if its slot holds it.
    #[inline]
    pub(in crate::registry) fn scope(&self, key: u64) -> Option<ScopeId> {
        self.slot(key).scope(key)
    }

    /// Removes item `key` if its slot holds it, returning its scope. Only
    /// the closer of `key` may call this.
    #[inline]
    pub(in crate::registry) fn remove(&self, key: u64) -> Option<ScopeId> {
        self.slot(key).close(key)
    }

    /// Removes every item, calling `f` with each one's scope. No open may
    /// run at the same time (the table is being retired).
    pub(in crate::registry) fn clear(&self, mut f: impl FnMut(ScopeId)) {
        for slot in self.slots.iter() {
            if let Some(scope) = slot.live_key().and_then(|key| slot.close(key)) {
                f(scope);
            }
        }
    }

    /// Calls `f` with every live item.
    pub(in crate::registry) fn for_each(&self, f: &mut impl FnMut(&Seen)) {
        // Free slots (most of a wide part's) are skipped in this loop, so
        // their loads overlap rather than each waiting behind a call.
        let live = self.slots.iter().filter(|slot| !slot.looks_free());
        for seen in live.filter_map(Slot::read) {
            f(&seen);
        }
    }
}

#[cfg(test)]
#[cfg(not(loom))]
pub(in crate::registry) mod tests {
    use std::panic::Location;

    use super::slot::TOO_BIG;
    use super::{Number, Ring, SLOTS, Seen};
    use crate::scope_id::ScopeId;

    /// Item `id` of `scope`, as an id table's open gives it.
    pub(in crate::registry) fn seen(id: u64, scope: ScopeId) -> Seen {
        Seen {
            id,
            scope,
            site: Location::caller(),
            opened: 5,
            thread: 3,
            kind: "",
            number: None,
        }
    }

    #[test]
    fn opens_finds_and_closes_by_id() {
        let (a, b) = (ScopeId::from_raw(2_001), ScopeId::from_raw(2_002));
        let ring = Ring::new();
        assert!(ring.insert(&seen(7, a)));
        assert!(ring.insert(&seen(8, b)));
        assert_eq!((ring.scope(7), ring.scope(8), ring.scope(9)), (Some(a), Some(b), None));
        let mut items = Vec::new();
        ring.for_each(&mut |s| items.push((s.id, s.scope, s.site.line(), s.opened, s.thread)));
        let line = seen(0, a).site.line();
        assert_eq!(items, [(7, a, line, 5, 3), (8, b, line, 5, 3)]);

        assert_eq!(ring.remove(7), Some(a));
        assert_eq!(ring.remove(7), None, "closed already");
        assert_eq!(ring.scope(7), None);
        let mut cleared = Vec::new();
        ring.clear(|scope| cleared.push(scope));
        assert_eq!(cleared, [b]);
        assert_eq!(ring.scope(8), None);
    }

    #[test]
    fn a_taken_slot_or_a_huge_id_is_left_to_the_caller() {
        let scope = ScopeId::from_raw(2_003);
        let ring = Ring::new();
        assert!(ring.insert(&seen(1, scope)));
        assert!(!ring.insert(&seen(1 + SLOTS as u64, scope)), "same slot");
        assert!(!ring.insert(&seen(1, scope)), "same id, still open");
        assert_eq!(ring.remove(1 + SLOTS as u64), None, "not here");
        assert_eq!(ring.scope(1 + SLOTS as u64), None);
        for id in [TOO_BIG, u64::MAX] {
            assert!(!ring.insert(&seen(id, scope)));
            assert_eq!(ring.remove(id), None);
            assert_eq!(ring.scope(id), None);
        }
        assert_eq!(ring.remove(1), Some(scope));
        assert!(ring.insert(&seen(1 + SLOTS as u64, scope)), "free again");
    }

    #[test]
    fn an_owned_ring_keeps_kinds_numbers_and_descriptors() {
        let scope = ScopeId::from_raw(2_005);
        let ring = Ring::new();
        let file = Seen {
            kind: "file",
            number: Some(Number::Fd(9)),
            ..seen(3, scope)
        };
        assert!(ring.insert_owned(&file));
        assert!(ring.insert_owned(&Seen { kind: "task", ..seen(4, scope) }));
        assert!(!ring.insert_owned(&seen(3 + SLOTS as u64, scope)), "taken");
        assert!(ring.set_number(4, 77));
        assert!(!ring.set_number(5, 1), "nothing there");
        let mut items = Vec::new();
        ring.for_each(&mut |s| items.push((s.id, s.kind, s.number)));
        assert_eq!(
            items,
            [(3, "file", Some(Number::Fd(9))), (4, "task", Some(Number::Id(77)))]
        );

        // An id set later replaces the descriptor.
        assert!(ring.set_number(3, 5));
        let mut numbers = Vec::new();
        ring.for_each(&mut |s| numbers.push(s.number));
        assert_eq!(numbers, [Some(Number::Id(5)), Some(Number::Id(77))]);
        assert!(ring.remove(3).is_some());
        let fd = Seen {
            number: Some(Number::Fd(9)),
            ..seen(3 + 2 * SLOTS as u64, scope)
        };
        assert!(ring.insert_owned(&fd));

        assert_eq!(ring.remove(4), Some(scope));
        assert!(!ring.set_number(4, 78), "closed");
        // The next item in the slot starts with no number.
        assert!(ring.insert_owned(&Seen { kind: "tcp", ..seen(4 + SLOTS as u64, scope) }));
        let mut items = Vec::new();
        ring.for_each(&mut |s| items.push((s.id, s.kind, s.number)));
        assert_eq!(
            items,
            [(3 + 2 * SLOTS as u64, "", Some(Number::Fd(9))), (4 + SLOTS as u64, "tcp", None)],
            "the next items of the slots keep their own descriptor, or none"
        );
    }
}

/// Models of a ring and of its slot's guards under loom: `RUSTFLAGS="--cfg
/// loom" cargo test -p leakwatch-core --lib --release --features production
/// loom`.
#[cfg(test)]
#[cfg(loom)]
mod loom {
    use std::panic::Location;

    use loom::sync::Arc;
    use loom::thread;

    use super::slot::Slot;
    use super::{Number, Ring, Seen};
    use crate::scope_id::ScopeId;

    fn item(id: u64, kind: &'static str) -> Seen {
        Seen {
            id,
            ..Seen::plain(kind, Location::caller(), ScopeId::from_raw(1), 0, 1)
        }
    }

    /// What a reader finds in the ring: key, kind and number of each item.
    fn items<const N: usize>(ring: &Ring<N>) -> Vec<(u64, String, Option<Number>)> {
        let mut seen = Vec::new();
        ring.for_each(&mut |s| seen.push((s.id, s.kind.to_owned(), s.number)));
        seen
    }

    /// A one-slot ring holding item 0 (a file), and a thread reading it.
    fn file_and_reader() -> (
        Arc<Ring<1>>,
        thread::JoinHandle<Vec<(u64, String, Option<Number>)>>,
    ) {
        let ring = Arc::new(Ring::<1>::sized());
        assert!(ring.insert_owned(&item(0, "file")));
        let reader = {
            let ring = ring.clone();
            thread::spawn(move || items(&ring))
        };
        (ring, reader)
    }

    /// A number set on another thread than the ring's owner, while the
    /// item closes and the owner fills its slot with another item of
    /// another kind: the new item keeps its own kind, whole, and no number.
    #[test]
    fn a_late_number_never_lands_on_the_next_item() {
        loom::model(|| {
            let ring = Arc::new(Ring::<1>::sized());
            assert!(ring.insert_owned(&item(0, "file")));
            let setter = {
                let ring = ring.clone();
                thread::spawn(move || {
                    ring.set_number(0, 7);
                })
            };
            assert!(ring.remove(0).is_some());
            assert!(ring.insert_owned(&item(1, "ab")));
            setter.join().unwrap();
            assert_eq!(items(&ring), [(1, "ab".to_owned(), None)]);
        });
    }

    /// A reader racing the owner's close of one item and fill of the next
    /// (with a descriptor): whatever it sees is one item, whole, with its
    /// own number.
    #[test]
    fn a_reader_sees_one_item_whole() {
        loom::model(|| {
            let (ring, reader) = file_and_reader();
            assert!(ring.remove(0).is_some());
            let fd = Seen {
                number: Some(Number::Fd(3)),
                ..item(1, "ab")
            };
            assert!(ring.insert_owned(&fd));
            for (id, kind, number) in reader.join().unwrap() {
                match id {
                    0 => assert!(kind == "file" && number.is_none()),
                    1 => assert!(kind == "ab" && number == Some(Number::Fd(3))),
                    _ => panic!("no item {id} was opened"),
                }
            }
        });
    }

    /// Two threads opening items of an id table's ring in the same slot,
    /// and a reader: one claims the slot, the other is refused, and the
    /// reader sees the winner's fields whole or nothing.
    #[test]
    fn openers_of_one_slot_never_mix_their_items() {
        loom::model(|| {
            let ring = Arc::new(Ring::<1>::sized());
            let opener = |id: u64| {
                let ring = ring.clone();
                thread::spawn(move || {
                    let seen = Seen {
                        opened: id,
                        thread: id as u32,
                        ..item(id, "")
                    };
                    ring.insert(&seen)
                })
            };
            let (a, b) = (opener(0), opener(1));
            let mut fields = Vec::new();
            ring.for_each(&mut |s| fields.push((s.id, s.opened, u64::from(s.thread))));
            let won = [a.join().unwrap(), b.join().unwrap()];
            assert_eq!(won.iter().filter(|w| **w).count(), 1, "one claims the slot");
            for (id, opened, thread) in fields {
                assert!(won[id as usize] && opened == id && thread == id, "{id}: {opened}, {thread}");
            }
        });
    }

    /// A claim on one slot, with a reader: the reader sees nothing until
    /// the claim drops, then every field the claim wrote, and nothing a
    /// claim did not write.
    #[test]
    fn a_claim_is_read_whole_once_it_drops() {
        loom::model(|| {
            let slot = Arc::new(Slot::new(Location::caller()));
            let reader = {
                let slot = slot.clone();
                thread::spawn(move || slot.read())
            };
            let claim = slot.claim_owned(4).expect("a free slot is claimed");
            assert!(slot.read().is_none(), "a claimed slot is not read");
            assert!(slot.claim(5).is_none(), "a claimed slot is not claimed again");
            claim.fill(&Seen {
                opened: 9,
                thread: 2,
                ..item(4, "")
            });
            claim.kind("file");
            drop(claim);
            if let Some(seen) = reader.join().unwrap() {
                assert_eq!(
                    (seen.id, seen.opened, seen.thread, seen.kind, seen.number),
                    (4, 9, 2, "file", None)
                );
            }
            assert_eq!(slot.read().map(|seen| seen.kind), Some("file"));
        });
    }

    /// A setter holding the number lock of a closed item while the slot is
    /// claimed for the next, which brings a descriptor: the claim's
    /// descriptor is the one that stays.
    #[test]
    fn a_claims_descriptor_outlasts_a_late_setter() {
        loom::model(|| {
            let slot = Arc::new(Slot::new(Location::caller()));
            drop(slot.claim_owned(0).expect("a free slot is claimed"));
            let setter = {
                let slot = slot.clone();
                thread::spawn(move || slot.set_number(0, 7))
            };
            assert!(slot.close(0).is_some());
            let claim = slot.claim_owned(1).expect("a freed slot is claimed");
            claim.fd(3);
            drop(claim);
            setter.join().unwrap();
            let seen = slot.read().expect("item 1 is live");
            assert_eq!((seen.id, seen.number), (1, Some(Number::Fd(3))));
        });
    }

    /// A reader racing a setter on another thread: the number is there
    /// whole, or not yet.
    #[test]
    fn a_reader_sees_a_number_whole_or_not_at_all() {
        loom::model(|| {
            let (ring, reader) = file_and_reader();
            assert!(ring.set_number(0, u64::MAX));
            let seen = reader.join().unwrap();
            assert!(
                matches!(seen.as_slice(), [(0, _, None | Some(Number::Id(u64::MAX)))]),
                "{seen:?}"
            );
        });
    }
}
