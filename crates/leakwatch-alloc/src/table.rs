//! The counts per scope: a thread's own words, the shared table and its
//! shards, and the moves between them (the protocol is in the crate's
//! docs, "# Protocol").

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};

pub(super) const HEADER: usize = size_of::<u64>();
pub(super) const BLOCK: u64 = 1 << 36;
pub(super) const BYTES_MASK: u64 = BLOCK - 1;
pub(super) const SLOTS: usize = 1 << 16;
pub(super) const PROBES: usize = 32;
pub(super) const SHARDS: usize = 256;
pub(super) const WORDS: usize = 32;
pub(super) const LOST: usize = 64;
/// A global slot's scope while it is being freed. No scope has this id: a
/// scope's slot index in the registry is below 2^20.
pub(super) const RETIRING: u64 = u64::MAX;

/// A scope's word in a shard (see "# Protocol").
pub(super) struct Word {
    /// The scope's id, 0 while free.
    pub(super) scope: AtomicU64,
    /// Live blocks × 2^36 + live bytes, wrapping; the shard's own part, so
    /// it may be "negative".
    pub(super) packed: AtomicU64,
}

impl Word {
    const fn new() -> Word {
        Word {
            scope: AtomicU64::new(0),
            packed: AtomicU64::new(0),
        }
    }
}

/// A scope's slot in the global table (see "# Protocol").
pub(super) struct Slot {
    /// The scope's id, 0 while free, [`RETIRING`] while being freed.
    pub(super) scope: AtomicU64,
    /// As [`Word::packed`].
    pub(super) packed: AtomicU64,
    /// Threads between reading `scope` and adding to `packed`.
    pub(super) pins: AtomicU64,
}

impl Slot {
    /// Adds `delta` if the slot is still `scope`'s, freeing it if that
    /// brings it to zero; false if it is not `scope`'s.
    pub(super) fn add(&self, scope: u64, delta: u64) -> bool {
        self.pins.fetch_add(1, Ordering::SeqCst);
        let mine = self.scope.load(Ordering::SeqCst) == scope;
        let now = mine.then(|| {
            self.packed
                .fetch_add(delta, Ordering::Relaxed)
                .wrapping_add(delta)
        });
        self.pins.fetch_sub(1, Ordering::SeqCst);
        if now == Some(0) {
            self.retire(scope, false);
        }
        mine
    }

    /// Frees the slot if it is `scope`'s, at zero and pinned by no one;
    /// put off while a reader sums, unless `now`.
    pub(super) fn retire(&self, scope: u64, now: bool) {
        let _move = if now {
            MOVES.begin()
        } else {
            let Some(m) = MOVES.try_begin() else {
                return;
            };
            m
        };
        if self
            .scope
            .compare_exchange(scope, RETIRING, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        // Reading no pins (SeqCst, after the swap) means every adder that
        // saw `scope` has unpinned, its add visible here, and later ones
        // see `RETIRING`.
        let idle =
            self.pins.load(Ordering::SeqCst) == 0 && self.packed.load(Ordering::Relaxed) == 0;
        self.scope
            .store(if idle { 0 } else { scope }, Ordering::Release);
    }
}

pub(super) static TABLE: [Slot; SLOTS] = [const {
    Slot {
        scope: AtomicU64::new(0),
        packed: AtomicU64::new(0),
        pins: AtomicU64::new(0),
    }
}; SLOTS];
/// Scopes that lost their count, 0 where free.
pub(super) static LOST_SCOPES: [AtomicU64; LOST] = [const { AtomicU64::new(0) }; LOST];
/// More scopes lost their count than `LOST_SCOPES` holds.
pub(super) static LOST_MORE: AtomicBool = AtomicBool::new(false);
pub(super) static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Aligned to a cache line, so threads writing neighbouring shards never
/// share one.
#[repr(align(64))]
pub(super) struct Shard {
    pub(super) taken: AtomicBool,
    /// The word to evict next; used by the owner only.
    pub(super) hand: AtomicUsize,
    pub(super) words: [Word; WORDS],
}

pub(super) static SHARDS_: [Shard; SHARDS] = [const {
    Shard {
        taken: AtomicBool::new(false),
        hand: AtomicUsize::new(0),
        words: [const { Word::new() }; WORDS],
    }
}; SHARDS];

/// Moves begun and finished, and readers summing (see "# Protocol").
pub(super) struct Moves {
    pub(super) begun: AtomicU64,
    pub(super) done: AtomicU64,
    pub(super) readers: AtomicU64,
}

pub(super) static MOVES: Moves = Moves {
    begun: AtomicU64::new(0),
    done: AtomicU64::new(0),
    readers: AtomicU64::new(0),
};

/// A move under way; finished when dropped.
pub(super) struct Move(&'static Moves);

impl Drop for Move {
    fn drop(&mut self) {
        self.0.done.fetch_add(1, Ordering::SeqCst);
    }
}

impl Moves {
    /// Begins a move that cannot wait.
    pub(super) fn begin(&'static self) -> Move {
        self.begun.fetch_add(1, Ordering::SeqCst);
        // The move's stores stay after the count a reader checks.
        fence(Ordering::Release);
        Move(self)
    }

    /// Begins a move that can wait: `None` while a reader is summing.
    pub(super) fn try_begin(&'static self) -> Option<Move> {
        if self.readers.load(Ordering::Relaxed) != 0 {
            return None;
        }
        self.begun.fetch_add(1, Ordering::SeqCst);
        // SeqCst with the reader's announcement: either the reader's
        // `begun` counts this move, or this sees the reader.
        if self.readers.load(Ordering::SeqCst) != 0 {
            // Taken back, having changed nothing: a sum that saw it begun
            // sums again, and one that did not has nothing to miss. A
            // taken-back move only adds to `begun` while it lasts, so it
            // cannot hide a real move from a reader's last look.
            self.begun.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        fence(Ordering::Release);
        Some(Move(self))
    }

    /// `sum()`, run again until no move overlapped it.
    pub(super) fn read<T>(&'static self, mut sum: impl FnMut() -> T) -> T {
        self.readers.fetch_add(1, Ordering::SeqCst);
        let value = loop {
            let begun = self.begun.load(Ordering::SeqCst);
            let done = self.done.load(Ordering::SeqCst);
            let value = sum();
            fence(Ordering::Acquire);
            if begun == done && self.begun.load(Ordering::Relaxed) == begun {
                break value;
            }
            std::hint::spin_loop();
        };
        self.readers.fetch_sub(1, Ordering::SeqCst);
        value
    }
}

#[inline]
pub(super) fn home(scope: u64) -> usize {
    (scope.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

/// The slots `scope` may use.
#[inline]
pub(super) fn probes(scope: u64) -> impl Iterator<Item = &'static Slot> {
    let h = home(scope);
    (0..PROBES).map(move |k| &TABLE[(h + k) % SLOTS])
}

/// Adds `delta` to `scope`'s count in the global table, or records the
/// scope as lost if it finds no slot.
#[inline(never)]
pub(super) fn global_charge(scope: u64, delta: u64) {
    if !global_add(scope, delta) {
        lose(scope);
    }
}

/// Adds `delta` to `scope`'s count in the global table, claiming a slot if
/// it has none; false if there is none to claim.
pub(super) fn global_add(scope: u64, delta: u64) -> bool {
    if delta == 0 {
        return true;
    }
    loop {
        if probes(scope).any(|s| s.scope.load(Ordering::Relaxed) == scope && s.add(scope, delta)) {
            return true;
        }
        let claimed = claim(scope).or_else(|| {
            // Slots left at zero, their freeing put off while a reader
            // summed, are freed now.
            for s in probes(scope) {
                let key = s.scope.load(Ordering::Relaxed);
                if key != 0 && key != RETIRING && s.packed.load(Ordering::Relaxed) == 0 {
                    s.retire(key, true);
                }
            }
            claim(scope)
        });
        match claimed {
            Some(slot) if slot.add(scope, delta) => return true,
            // Brought to zero by others and freed since: look again.
            Some(_) => {}
            None => return false,
        }
    }
}

/// A free slot among `scope`'s, claimed for it.
pub(super) fn claim(scope: u64) -> Option<&'static Slot> {
    probes(scope).find(|s| {
        s.scope.load(Ordering::Relaxed) == 0
            && s.scope
                .compare_exchange(0, scope, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
    })
}

#[cold]
pub(super) fn lose(scope: u64) {
    for l in &LOST_SCOPES {
        match l.compare_exchange(0, scope, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return,
            Err(now) if now == scope => return,
            Err(_) => {}
        }
    }
    LOST_MORE.store(true, Ordering::SeqCst);
}

pub(super) fn lost(scope: u64) -> bool {
    LOST_MORE.load(Ordering::SeqCst)
        || LOST_SCOPES
            .iter()
            .any(|l| l.load(Ordering::SeqCst) == scope)
}

// The calling thread's shard. The hot path reads only destructor-free
// cells; `FOLD_AT_EXIT`, touched once when the shard is taken, folds it
// when the thread ends.
thread_local! {
    /// The shard, null before the first counted allocation and after the
    /// fold. A thread that found no free shard keeps it null.
    static SHARD: Cell<*const Shard> = const { Cell::new(std::ptr::null()) };
    /// Whether a shard was looked for already.
    static LOOKED: Cell<bool> = const { Cell::new(false) };
    /// The scope counted last and its word in `SHARD`: the fast path.
    /// Scope 0 is never counted, so the initial entry never matches. Only
    /// this thread changes its words' scopes, so the entry stays right.
    static HOT: Cell<(u64, &'static AtomicU64)> = const { Cell::new((0, &UNUSED)) };
    static FOLD_AT_EXIT: FoldAtExit = const { FoldAtExit };
}

/// What `HOT` points at when it points at no shard.
pub(super) static UNUSED: AtomicU64 = AtomicU64::new(0);

/// Adds `delta` to `scope`'s word in the calling thread's shard; false if
/// it has none (or cannot take a word now).
#[inline(always)]
pub(super) fn add_mine(scope: u64, delta: u64) -> bool {
    let (hot, word) = HOT.get();
    if hot == scope {
        // Only this thread writes its shard's words: a load and a store
        // suffice, and readers see either value.
        word.store(
            word.load(Ordering::Relaxed).wrapping_add(delta),
            Ordering::Release,
        );
        return true;
    }
    add_mine_slow(scope, delta)
}

#[inline(never)]
pub(super) fn add_mine_slow(scope: u64, delta: u64) -> bool {
    mark_installed();
    let mut shard = SHARD.get();
    if shard.is_null() {
        if LOOKED.replace(true) {
            return false;
        }
        match take_shard() {
            Some(taken) => {
                // Registers the fold before the shard is used; if this
                // thread is already past its destructors, give it back.
                if FOLD_AT_EXIT.try_with(|_| ()).is_err() {
                    taken.taken.store(false, Ordering::Release);
                    return false;
                }
                shard = taken;
                SHARD.set(shard);
            }
            None => return false,
        }
    }
    // SAFETY: a non-null `SHARD` points into the static `SHARDS_`.
    let shard: &'static Shard = unsafe { &*shard };
    let Some(i) = find(shard, scope) else {
        return false;
    };
    let word = &shard.words[i].packed;
    HOT.set((scope, word));
    word.store(
        word.load(Ordering::Relaxed).wrapping_add(delta),
        Ordering::Release,
    );
    true
}

#[inline]
pub(super) fn mark_installed() {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

/// Folds the thread's shard into the global table when the thread ends.
pub(super) struct FoldAtExit;

impl Drop for FoldAtExit {
    fn drop(&mut self) {
        // The fast path must not write to a shard given back.
        HOT.set((0, &UNUSED));
        let shard = SHARD.replace(std::ptr::null());
        if shard.is_null() {
            return;
        }
        // SAFETY: a non-null `SHARD` points into the static `SHARDS_`.
        let shard = unsafe { &*shard };
        {
            let _move = MOVES.begin();
            for w in &shard.words {
                let packed = w.packed.load(Ordering::Relaxed);
                if packed != 0 {
                    global_charge(w.scope.load(Ordering::Relaxed), packed);
                }
                w.packed.store(0, Ordering::Relaxed);
                w.scope.store(0, Ordering::Relaxed);
            }
        }
        shard.taken.store(false, Ordering::Release);
    }
}

#[cold]
pub(super) fn take_shard() -> Option<&'static Shard> {
    SHARDS_.iter().find(|s| {
        !s.taken.load(Ordering::Relaxed)
            && s.taken
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    })
}

/// The index of `scope`'s word in `shard` (owned by the caller). A scope
/// without one is given a free word, or one whose part is zero, or else an
/// evicted one; `None` while a reader sums and the word would change scope,
/// or when the evicted word's value finds no room in the global table.
#[inline(never)]
pub(super) fn find(shard: &Shard, scope: u64) -> Option<usize> {
    let h = home(scope) % WORDS;
    let mut spare = None;
    for k in 0..WORDS {
        let i = (h + k) % WORDS;
        let w = &shard.words[i];
        let key = w.scope.load(Ordering::Relaxed);
        if key == scope {
            return Some(i);
        }
        if spare.is_none() && (key == 0 || w.packed.load(Ordering::Relaxed) == 0) {
            spare = Some(i);
        }
    }
    let _move = MOVES.try_begin()?;
    let i = match spare {
        Some(i) => i,
        None => {
            let i = shard.hand.load(Ordering::Relaxed);
            let w = &shard.words[i];
            // A full table keeps the word where it is: the caller adds to
            // the global table instead, where `scope` may have its slot.
            if !global_add(
                w.scope.load(Ordering::Relaxed),
                w.packed.load(Ordering::Relaxed),
            ) {
                return None;
            }
            shard.hand.store((i + 1) % WORDS, Ordering::Relaxed);
            w.packed.store(0, Ordering::Relaxed);
            i
        }
    };
    shard.words[i].scope.store(scope, Ordering::Relaxed);
    Some(i)
}
