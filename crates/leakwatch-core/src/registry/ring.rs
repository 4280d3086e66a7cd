//! A lock-free table with one slot per key modulo its size.
//!
//! Short-lived items (a server's tasks, a hundred alive at a time; the
//! files and sockets a request opens) have keys close together, so nearly
//! every one finds its slot free: opening it is a few plain stores (and a
//! compare-exchange where several threads open in one ring), closing it two.
//! A key whose slot is taken goes elsewhere (the caller's choice). Id tables
//! key their rings by task id, a thread's [`own`](super::own) ring by a count
//! of its opens. Who may write which field of a slot, and how readers stay
//! consistent: the registry's docs, "# Rings".

use std::panic::Location;

pub(in crate::registry) use super::record::Number;
use crate::scope_id::ScopeId;
use crate::sync::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};

/// Slots per ring: a few hundred short tasks alive at once fit without
/// collisions, and a snapshot reads the whole ring in about a microsecond.
pub(in crate::registry) const SLOTS: usize = 256;

/// A slot with nothing in it.
const FREE: u64 = 0;
/// A slot being filled in by an open.
const WRITING: u64 = u64::MAX;
/// Keys from here on do not fit a slot's state (`key + 1` must be neither
/// [`FREE`] nor [`WRITING`]); the caller puts them elsewhere.
const TOO_BIG: u64 = u64::MAX - 1;

/// In `number_of`: a setter is writing the number.
const SETTING: u64 = 1 << 63;
/// In `number_of`: the number is a file descriptor, not an id.
const IS_FD: u64 = 1 << 62;
/// Keys at or above this cannot carry a number (their `key + 1` would
/// reach the flags); none comes near it.
const NUMBERED_KEYS: u64 = IS_FD - 1;

/// `N` slots indexed by key modulo `N`.
#[derive(Debug)]
pub(in crate::registry) struct Ring<const N: usize = SLOTS> {
    slots: Box<[Slot; N]>,
}

/// A cache line each: on a multi-thread runtime a task is opened on one
/// core and closed on another, and neighbouring ids are on different cores
/// at once.
#[derive(Debug)]
#[repr(align(64))]
struct Slot {
    /// [`FREE`], [`WRITING`] or the live item's key plus one.
    state: AtomicU64,
    scope: AtomicU64,
    /// Always made from a `&'static Location<'static>` (a placeholder one
    /// until the slot is first filled).
    site: AtomicPtr<Location<'static>>,
    opened: AtomicU64,
    /// With `kind_len`, always made from one `&'static str` (`""` until a
    /// thread's own ring fills the slot; id tables keep their kind
    /// themselves and leave both as they are).
    kind_ptr: AtomicPtr<u8>,
    kind_len: AtomicU32,
    thread: AtomicU32,
    /// The number of the item whose key plus one is in `number_of`.
    number: AtomicU64,
    /// The key plus one of the item `number` belongs to (0 for none), with
    /// [`IS_FD`], or [`SETTING`] while a setter writes: see "# Rings".
    number_of: AtomicU64,
}

// A slot is one cache line: a field more doubles every ring (loom's
// atomics are larger).
#[cfg(not(loom))]
const _: () = assert!(size_of::<Slot>() == 64);

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
        let placeholder: *const Location<'static> = Location::caller();
        let slot = || Slot {
            state: AtomicU64::new(FREE),
            scope: AtomicU64::new(0),
            site: AtomicPtr::new(placeholder.cast_mut()),
            opened: AtomicU64::new(0),
            kind_ptr: AtomicPtr::new("".as_ptr().cast_mut()),
            kind_len: AtomicU32::new(0),
            thread: AtomicU32::new(0),
            number: AtomicU64::new(0),
            number_of: AtomicU64::new(0),
        };
        // Built on the heap: a large ring would not fit a worker's stack.
        let slots: Box<[Slot]> = (0..N).map(|_| slot()).collect();
        let Ok(slots) = slots.try_into() else {
            unreachable!("{N} slots were made")
        };
        Ring { slots }
    }

    #[inline]
    fn slot(&self, key: u64) -> &Slot {
        &self.slots[(key % N as u64) as usize]
    }

    /// The slot of `key`, if it holds that live item now.
    #[inline]
    fn holding(&self, key: u64) -> Option<&Slot> {
        let slot = self.slot(key);
        (key < TOO_BIG && slot.state.load(Ordering::Acquire) == key + 1).then_some(slot)
    }

    /// Records item `seen.id` in its slot if the slot is free; false if it
    /// is not (or the key is too big for a slot), for the caller to put
    /// elsewhere. Any thread may call this.
    #[inline]
    pub(in crate::registry) fn insert(&self, seen: &Seen) -> bool {
        let key = seen.id;
        if key >= TOO_BIG {
            return false;
        }
        let slot = self.slot(key);
        // A plain load first: with many items alive most slots are taken,
        // and a failed compare-exchange costs as much as one that succeeds.
        if slot.state.load(Ordering::Relaxed) != FREE
            || slot
                .state
                .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        slot.fill(seen);
        slot.state.store(key + 1, Ordering::Release);
        true
    }

    /// [`Ring::insert`] for a ring only one thread opens in (a thread's own),
    /// which needs no compare-exchange: nobody else changes a free slot.
    /// Records `seen.kind` and a descriptor number too.
    #[inline]
    pub(in crate::registry) fn insert_owned(&self, seen: &Seen) -> bool {
        let key = seen.id;
        let slot = self.slot(key);
        if key >= NUMBERED_KEYS || slot.state.load(Ordering::Acquire) != FREE {
            return false;
        }
        slot.state.store(WRITING, Ordering::Relaxed);
        slot.fill(seen);
        slot.kind_ptr.store(seen.kind.as_ptr().cast_mut(), Ordering::Relaxed);
        slot.kind_len.store(kind_len(seen.kind), Ordering::Relaxed);
        if let Some(Number::Fd(fd)) = seen.number {
            slot.set_number(WRITING, key + 1, fd, IS_FD);
        }
        slot.state.store(key + 1, Ordering::Release);
        true
    }

    /// Gives live item `key` an id; false if its slot does not hold it.
    /// Any thread may call this, at any time: see "# Rings".
    #[inline]
    pub(in crate::registry) fn set_number(&self, key: u64, number: u64) -> bool {
        if key >= NUMBERED_KEYS {
            return false;
        }
        let live = key + 1;
        self.holding(key)
            .is_some_and(|slot| slot.set_number(live, live, number, 0))
    }

    /// The scope of item `key`, if its slot holds it.
    #[inline]
    pub(in crate::registry) fn scope(&self, key: u64) -> Option<ScopeId> {
        let slot = self.holding(key)?;
        let scope = slot.scope.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        (slot.state.load(Ordering::Relaxed) == key + 1).then_some(ScopeId::from_raw(scope))
    }

    /// Removes item `key` if its slot holds it, returning its scope.
    #[inline]
    pub(in crate::registry) fn remove(&self, key: u64) -> Option<ScopeId> {
        let slot = self.holding(key)?;
        let scope = ScopeId::from_raw(slot.scope.load(Ordering::Relaxed));
        // Only the closer of this very key changes a slot that holds it
        // (keys are unique while open, an opener claims only a free slot,
        // and setters never write `state`), so a plain store frees it.
        slot.state.store(FREE, Ordering::Release);
        Some(scope)
    }

    /// Removes every item, calling `f` with each one's scope. No open may
    /// run at the same time (the table is being retired).
    pub(in crate::registry) fn clear(&self, mut f: impl FnMut(ScopeId)) {
        for slot in self.slots.iter() {
            let state = slot.state.load(Ordering::Acquire);
            if state != FREE
                && let Some(scope) = self.remove(state - 1)
            {
                f(scope);
            }
        }
    }

    /// Calls `f` with every live item.
    pub(in crate::registry) fn for_each(&self, f: &mut impl FnMut(&Seen)) {
        // Free slots (most of a wide part's) are skipped in this loop, so
        // their loads overlap rather than each waiting behind a call.
        let live = self.slots.iter().filter(|slot| slot.state.load(Ordering::Relaxed) != FREE);
        for seen in live.filter_map(Slot::read) {
            f(&seen);
        }
    }
}

/// A kind's length as a slot keeps it.
#[inline(always)]
fn kind_len(kind: &'static str) -> u32 {
    // Kinds are short names; one of 4 GiB is cut (at a char boundary
    // nobody will see, since such a kind cannot be written in source).
    u32::try_from(kind.len()).unwrap_or(0)
}

/// Tries a reader makes before giving up on a number being set.
const NUMBER_TRIES: u32 = 64;

impl Slot {
    /// Writes the fields of an item in a slot just claimed (`WRITING`).
    #[inline(always)]
    fn fill(&self, seen: &Seen) {
        // Orders the claim before the fields: a reader that sees any of
        // them sees `WRITING` (or later) when it checks `state` again.
        fence(Ordering::Release);
        let site: *const Location<'static> = seen.site;
        self.scope.store(seen.scope.as_u64(), Ordering::Relaxed);
        self.site.store(site.cast_mut(), Ordering::Relaxed);
        self.opened.store(seen.opened, Ordering::Relaxed);
        self.thread.store(seen.thread, Ordering::Relaxed);
    }

    /// Sets the number of the item whose key plus one is `live`, with
    /// `flags`, under the slot's number lock, if `state` is still `expect`
    /// once the lock is taken (`live`, or `WRITING` for the owner filling
    /// the slot); false if not.
    #[inline]
    fn set_number(&self, expect: u64, live: u64, number: u64, flags: u64) -> bool {
        let mut spins = 0u32;
        let before = loop {
            let before = self.number_of.load(Ordering::Relaxed);
            if before & SETTING == 0
                && self
                    .number_of
                    .compare_exchange_weak(before, SETTING, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                break before;
            }
            spins += 1;
            if spins.is_multiple_of(64) {
                crate::sync::yield_now();
            } else {
                crate::sync::spin_loop();
            }
        };
        // The item may have closed, and its slot be filled again, since the
        // caller looked: with the lock held, no other setter can change the
        // number, so one look at `state` now decides.
        if self.state.load(Ordering::Acquire) != expect {
            self.number_of.store(before, Ordering::Release);
            return false;
        }
        // Orders the lock before the number: a reader that sees the new
        // number sees `SETTING` (or later) when it checks `number_of` again.
        fence(Ordering::Release);
        self.number.store(number, Ordering::Relaxed);
        self.number_of.store(live | flags, Ordering::Release);
        true
    }

    /// The slot's item, if it holds one: read again until no open, close
    /// or number setter changed the slot while it was read.
    fn read(&self) -> Option<Seen> {
        let mut number_tries = 0;
        loop {
            let state = self.state.load(Ordering::Acquire);
            if state == FREE || state == WRITING {
                return None;
            }
            let scope = self.scope.load(Ordering::Relaxed);
            let site = self.site.load(Ordering::Relaxed);
            let opened = self.opened.load(Ordering::Relaxed);
            let thread = self.thread.load(Ordering::Relaxed);
            let kind_ptr = self.kind_ptr.load(Ordering::Relaxed);
            let kind_len = self.kind_len.load(Ordering::Relaxed);
            let number_of = self.number_of.load(Ordering::Acquire);
            let number = self.number.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.state.load(Ordering::Relaxed) != state {
                continue;
            }
            let number = if number_of & SETTING != 0
                || self.number_of.load(Ordering::Relaxed) != number_of
            {
                // A setter is at work: look again, unless it takes long
                // (a preempted setter), then go without the number.
                number_tries += 1;
                if number_tries < NUMBER_TRIES {
                    crate::sync::spin_loop();
                    continue;
                }
                None
            } else if number_of & !IS_FD != state {
                None
            } else if number_of & IS_FD != 0 {
                Some(Number::Fd(number))
            } else {
                Some(Number::Id(number))
            };
            // SAFETY: every pointer ever stored in `site`, the initial one
            // included, was made from a `&'static Location<'static>`, which
            // lives for the whole program and is never written through; an
            // atomic load returns one of those stores whole.
            let site = unsafe { &*site };
            // SAFETY: `kind_ptr` and `kind_len` are written only by the
            // open that fills the slot, while `state` is `WRITING`, from one
            // `&'static str` (or are the initial `""`): `state` held the same
            // key before and after they were read, so no open wrote either
            // in between. Such a string lives for the whole program and is
            // valid UTF-8, and `kind_len` is its whole length.
            let kind = unsafe {
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(kind_ptr, kind_len as usize))
            };
            return Some(Seen {
                id: state - 1,
                scope: ScopeId::from_raw(scope),
                site,
                opened,
                thread,
                kind,
                number,
            });
        }
    }
}

#[cfg(test)]
#[cfg(not(loom))]
pub(in crate::registry) mod tests {
    use std::panic::Location;

    use super::{Number, Ring, SLOTS, Seen, TOO_BIG};
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

/// Models of a ring's slot under loom: `RUSTFLAGS="--cfg loom" cargo test
/// -p leakwatch-core --lib --release --features production loom`.
#[cfg(test)]
#[cfg(loom)]
mod loom {
    use std::panic::Location;

    use loom::sync::Arc;
    use loom::thread;

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
