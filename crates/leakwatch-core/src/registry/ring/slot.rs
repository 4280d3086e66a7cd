//! One slot of a ring: a seqlock over its item's fields, and a small lock
//! over its item's number.
//!
//! Every store to a slot is in this file, and each goes through one of two
//! guards, whose fields the ring cannot reach:
//!
//! - a [`Claim`] is the only writer of the item's fields (`scope`, `site`,
//!   `opened`, `thread`, `kind_ptr`, `kind_len`). It is taken by moving
//!   `state` from free to being-written and publishes the item's key when
//!   it drops;
//! - a [`NumberLock`] is the only writer of `number`. It is taken by
//!   setting `SETTING` in `number_of`, and it releases by storing there the
//!   key the number belongs to (or the value it found) when it drops.
//!
//! Apart from these, `state` changes only when the closer of the slot's key
//! frees it ([`Slot::close`]). Readers go through [`Slot::read`] (or
//! [`Slot::scope`], the same seqlock read for one field), whose `unsafe`
//! relies only on what [`Claim`] stores. Why each step is enough, and who
//! may take which guard: the registry's docs, "# Rings".

use std::panic::Location;

use super::{Number, Seen};
use crate::scope_id::ScopeId;
use crate::sync::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};

/// A slot with nothing in it.
const FREE: u64 = 0;
/// A slot held by a [`Claim`].
const WRITING: u64 = u64::MAX;
/// Keys from here on do not fit a slot's state (`key + 1` must be neither
/// [`FREE`] nor [`WRITING`]); the caller puts them elsewhere.
pub(super) const TOO_BIG: u64 = u64::MAX - 1;

/// In `number_of`: a [`NumberLock`] is held.
const SETTING: u64 = 1 << 63;
/// In `number_of`: the number is a file descriptor, not an id.
const IS_FD: u64 = 1 << 62;
/// Keys at or above this cannot carry a number (their `key + 1` would
/// reach the flags); none comes near it.
pub(super) const NUMBERED_KEYS: u64 = IS_FD - 1;

/// Tries a reader makes before giving up on a number being set.
const NUMBER_TRIES: u32 = 64;

/// A cache line each: on a multi-thread runtime a task is opened on one
/// core and closed on another, and neighbouring ids are on different cores
/// at once.
#[derive(Debug)]
#[repr(align(64))]
pub(super) struct Slot {
    /// [`FREE`], [`WRITING`] (a [`Claim`] is held) or the live item's key
    /// plus one.
    state: AtomicU64,
    scope: AtomicU64,
    /// Always made from a `&'static Location<'static>`: the one given to
    /// [`Slot::new`], or a [`Seen`]'s.
    site: AtomicPtr<Location<'static>>,
    opened: AtomicU64,
    /// With `kind_len`, always made from one `&'static str`: `""`, or a
    /// [`Seen`]'s kind given to [`Claim::kind`].
    kind_ptr: AtomicPtr<u8>,
    kind_len: AtomicU32,
    thread: AtomicU32,
    /// The number of the item whose key plus one is in `number_of`.
    number: AtomicU64,
    /// The key plus one of the item `number` belongs to (0 for none), with
    /// [`IS_FD`], or [`SETTING`] while a [`NumberLock`] is held.
    number_of: AtomicU64,
}

// A slot is one cache line: a field more doubles every ring (loom's
// atomics are larger).
#[cfg(not(loom))]
const _: () = assert!(size_of::<Slot>() == 64);

impl Slot {
    /// A free slot whose site, until a claim fills it, is `placeholder`.
    pub(super) fn new(placeholder: &'static Location<'static>) -> Slot {
        let placeholder: *const Location<'static> = placeholder;
        Slot {
            state: AtomicU64::new(FREE),
            scope: AtomicU64::new(0),
            site: AtomicPtr::new(placeholder.cast_mut()),
            opened: AtomicU64::new(0),
            kind_ptr: AtomicPtr::new("".as_ptr().cast_mut()),
            kind_len: AtomicU32::new(0),
            thread: AtomicU32::new(0),
            number: AtomicU64::new(0),
            number_of: AtomicU64::new(0),
        }
    }

    /// Whether the slot holds live item `key` now.
    #[inline]
    pub(super) fn holds(&self, key: u64) -> bool {
        key < TOO_BIG && self.state.load(Ordering::Acquire) == key + 1
    }

    /// Whether the slot looked free: a hint for scans, which read it whole
    /// with [`Slot::read`] only if not.
    #[inline]
    pub(super) fn looks_free(&self) -> bool {
        self.state.load(Ordering::Relaxed) == FREE
    }

    /// The key of the slot's live item, if it holds one now.
    #[inline]
    pub(super) fn live_key(&self) -> Option<u64> {
        let state = self.state.load(Ordering::Acquire);
        (state != FREE && state != WRITING).then(|| state - 1)
    }

    /// Claims the slot for item `key` if it is free, where several threads
    /// may claim at once (an id table's ring): a compare-exchange decides.
    #[inline]
    pub(super) fn claim(&self, key: u64) -> Option<Claim<'_>> {
        if key >= TOO_BIG {
            return None;
        }
        // A plain load first: with many items alive most slots are taken,
        // and a failed compare-exchange costs as much as one that succeeds.
        if self.state.load(Ordering::Relaxed) != FREE
            || self
                .state
                .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        Some(Claim::taken(self, key))
    }

    /// [`Slot::claim`] where only the calling thread ever claims (a
    /// thread's own ring): nobody else changes a free slot, so a plain
    /// store claims it. Only keys that can carry a number are taken.
    #[inline]
    pub(super) fn claim_owned(&self, key: u64) -> Option<Claim<'_>> {
        if key >= NUMBERED_KEYS || self.state.load(Ordering::Acquire) != FREE {
            return None;
        }
        self.state.store(WRITING, Ordering::Relaxed);
        Some(Claim::taken(self, key))
    }

    /// Frees the slot of item `key` if it holds it, returning its scope.
    /// Only the closer of `key` may call this.
    #[inline]
    pub(super) fn close(&self, key: u64) -> Option<ScopeId> {
        if !self.holds(key) {
            return None;
        }
        // The fields are the ones a claim published with `key` (the acquire
        // above), and stay so: only this closer changes a slot holding
        // `key` (keys are unique while open, a claim takes only a free
        // slot, and a number lock never writes `state`), so a plain store
        // frees it.
        let scope = ScopeId::from_raw(self.scope.load(Ordering::Relaxed));
        self.state.store(FREE, Ordering::Release);
        Some(scope)
    }

    /// Gives live item `key` an id; false if the slot does not hold it.
    /// Any thread may call this, at any time.
    #[inline]
    pub(super) fn set_number(&self, key: u64, number: u64) -> bool {
        if key >= NUMBERED_KEYS {
            return false;
        }
        let live = key + 1;
        self.holds(key)
            && self
                .lock_number(live)
                .map(|lock| lock.set(number, live))
                .is_some()
    }

    /// Takes the number lock, if `state` is still `expect` once it is
    /// taken (`key + 1` for a setter, [`WRITING`] for a claim); `None`
    /// (the lock put back as it was) if not.
    #[inline]
    fn lock_number(&self, expect: u64) -> Option<NumberLock<'_>> {
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
        let lock = NumberLock {
            slot: self,
            release: before,
        };
        // The item may have closed, and its slot be claimed again, since
        // the caller looked: with the lock held, no other setter can change
        // the number, so one look at `state` now decides.
        if self.state.load(Ordering::Acquire) != expect {
            return None;
        }
        // Orders the lock before the number: a reader that sees the new
        // number sees `SETTING` (or later) when it checks `number_of` again.
        fence(Ordering::Release);
        Some(lock)
    }

    /// The one seqlock read: `load`'s view of the fields, with the `state`
    /// it held before and after, if that was a live item's.
    #[inline(always)]
    fn stable<T>(&self, load: impl Fn(&Slot) -> T) -> Option<(u64, T)> {
        loop {
            let state = self.state.load(Ordering::Acquire);
            if state == FREE || state == WRITING {
                return None;
            }
            let fields = load(self);
            fence(Ordering::Acquire);
            if self.state.load(Ordering::Relaxed) == state {
                return Some((state, fields));
            }
        }
    }

    /// The scope of item `key`, if the slot holds it.
    #[inline]
    pub(super) fn scope(&self, key: u64) -> Option<ScopeId> {
        let (state, scope) = self.stable(|slot| slot.scope.load(Ordering::Relaxed))?;
        (key < TOO_BIG && state == key + 1).then_some(ScopeId::from_raw(scope))
    }

    /// The slot's item, if it holds one: read again until no claim, close
    /// or number lock changed the slot while it was read.
    pub(super) fn read(&self) -> Option<Seen> {
        let mut number_tries = 0;
        loop {
            let (state, (scope, site, opened, thread, kind_ptr, kind_len, number_of, number)) =
                self.stable(|slot| {
                    (
                        slot.scope.load(Ordering::Relaxed),
                        slot.site.load(Ordering::Relaxed),
                        slot.opened.load(Ordering::Relaxed),
                        slot.thread.load(Ordering::Relaxed),
                        slot.kind_ptr.load(Ordering::Relaxed),
                        slot.kind_len.load(Ordering::Relaxed),
                        slot.number_of.load(Ordering::Acquire),
                        slot.number.load(Ordering::Relaxed),
                    )
                })?;
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
            // SAFETY: every pointer ever stored in `site` was made from a
            // `&'static Location<'static>` (by `Slot::new` or
            // `Claim::fill`, its only writers), which lives for the whole
            // program and is never written through; an atomic load returns
            // one of those stores whole.
            let site = unsafe { &*site };
            // SAFETY: `kind_ptr` and `kind_len` are written only by
            // `Slot::new` (`""`) and `Claim::kind`, from one `&'static str`,
            // while the claim holds `state` at `WRITING`: `state` held the
            // same key before and after they were read, so no claim wrote
            // either in between. Such a string lives for the whole program
            // and is valid UTF-8, and `kind_len` is its whole length.
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

/// Write access to a slot's item fields, held while `state` is
/// [`WRITING`]; dropping it publishes the item's key.
#[must_use = "a claim publishes its item when dropped"]
pub(super) struct Claim<'a> {
    slot: &'a Slot,
    /// The key plus one that the drop stores in `state`.
    live: u64,
}

impl<'a> Claim<'a> {
    /// The claim of `slot` for `key`, just moved to [`WRITING`].
    #[inline(always)]
    fn taken(slot: &'a Slot, key: u64) -> Claim<'a> {
        // Orders the claim before the fields: a reader that sees any of
        // them sees `WRITING` (or later) when it checks `state` again.
        fence(Ordering::Release);
        Claim {
            slot,
            live: key + 1,
        }
    }

    /// Writes the item's scope, site, opening time and thread.
    #[inline(always)]
    pub(super) fn fill(&self, seen: &Seen) {
        let site: *const Location<'static> = seen.site;
        self.slot.scope.store(seen.scope.as_u64(), Ordering::Relaxed);
        self.slot.site.store(site.cast_mut(), Ordering::Relaxed);
        self.slot.opened.store(seen.opened, Ordering::Relaxed);
        self.slot.thread.store(seen.thread, Ordering::Relaxed);
    }

    /// Writes the item's kind. Rings whose slots keep no kind (id tables
    /// keep theirs themselves) leave it `""`.
    #[inline(always)]
    pub(super) fn kind(&self, kind: &'static str) {
        // Kinds are short names; one of 4 GiB is cut to nothing (such a
        // kind cannot be written in source).
        let len = u32::try_from(kind.len()).unwrap_or(0);
        self.slot.kind_ptr.store(kind.as_ptr().cast_mut(), Ordering::Relaxed);
        self.slot.kind_len.store(len, Ordering::Relaxed);
    }

    /// Gives the item descriptor `fd` as its number.
    #[inline]
    pub(super) fn fd(&self, fd: u64) {
        if let Some(lock) = self.slot.lock_number(WRITING) {
            lock.set(fd, self.live | IS_FD);
        }
    }
}

impl Drop for Claim<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.slot.state.store(self.live, Ordering::Release);
    }
}

/// Write access to a slot's number, held while `number_of` has
/// [`SETTING`]; dropping it stores `release` there.
struct NumberLock<'a> {
    slot: &'a Slot,
    /// What the drop stores in `number_of`: the value the lock found, until
    /// [`NumberLock::set`] names the number's item.
    release: u64,
}

impl NumberLock<'_> {
    /// Writes `number` as the number of the item whose key plus one, with
    /// flags, is `number_of`.
    #[inline]
    fn set(mut self, number: u64, number_of: u64) {
        self.slot.number.store(number, Ordering::Relaxed);
        self.release = number_of;
    }
}

impl Drop for NumberLock<'_> {
    #[inline]
    fn drop(&mut self) {
        self.slot.number_of.store(self.release, Ordering::Release);
    }
}
