//! Each thread's shard (its own ring) and number, keys for the records
//! map, and the names of threads for reports.
//!
//! Shards are never freed. When a thread exits, its shard (and whatever is
//! still open in its ring) goes to a pool that the next new thread takes
//! from, so their number stays at the most threads that were ever alive at
//! once.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use super::own::OwnRing;
use crate::clock::Ticking;

/// What one thread opens in without a lock.
#[derive(Debug)]
pub(crate) struct Shard {
    /// The thread's ring; none in the [`FALLBACK`] shard, which any thread
    /// may use.
    pub(super) own: Option<OwnRing>,
    /// Items the thread opened in id tables so far (written by the thread
    /// alone, lost updates aside in the fallback shard): how busy the
    /// tables are, for the clock thread.
    pub(super) id_opens: AtomicU64,
}

impl Shard {
    /// Notes an open in an id table by the shard's thread.
    #[inline]
    pub(super) fn note_id_open(&self) {
        let opens = self.id_opens.load(Ordering::Relaxed);
        self.id_opens.store(opens.wrapping_add(1), Ordering::Relaxed);
    }
}

/// Used when a thread opens or drops items after its thread-locals are gone.
pub(super) static FALLBACK: Shard = Shard {
    own: None,
    id_opens: AtomicU64::new(0),
};

/// Every shard made, for snapshots.
static ALL: Mutex<Vec<&'static Shard>> = Mutex::new(Vec::new());

/// Every shard there is, the fallback one included.
pub(super) fn all() -> Vec<&'static Shard> {
    let mut shards = ALL.lock().unwrap_or_else(PoisonError::into_inner).clone();
    shards.push(&FALLBACK);
    shards
}

/// Shards whose threads have exited, ready for the next new thread.
static POOL: Mutex<Vec<&'static Shard>> = Mutex::new(Vec::new());
static NEXT_NUMBER: AtomicU32 = AtomicU32::new(1);
/// Keeps the clock thread watching once any thread has a shard: shards, and
/// so their rings, live as long as the process.
static TICKING: OnceLock<Ticking> = OnceLock::new();
/// Names of threads that are alive now, by number.
static NAMES: Mutex<Option<HashMap<u32, Box<str>>>> = Mutex::new(None);

struct ThreadCtx {
    shard: &'static Shard,
    number: u32,
}

thread_local! {
    static CTX: ThreadCtx = ThreadCtx::new();
    /// The thread's number once known (0 before): read by every open, and
    /// without a destructor, so reading it checks no set-up state.
    static NUMBER: Cell<u32> = const { Cell::new(0) };
}

impl ThreadCtx {
    fn new() -> ThreadCtx {
        let pooled = POOL.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let shard = pooled.unwrap_or_else(|| {
            let shard: &'static Shard = Box::leak(Box::new(Shard {
                own: Some(OwnRing::new()),
                id_opens: AtomicU64::new(0),
            }));
            ALL.lock().unwrap_or_else(PoisonError::into_inner).push(shard);
            // Plain opens in the shard's ring take their time from the clock
            // thread while the rings are busy (see `clock::recent`).
            TICKING.get_or_init(|| Ticking::start(super::activity));
            shard
        });
        let number = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed);
        if let Some(name) = std::thread::current().name() {
            NAMES
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert_with(HashMap::new)
                .insert(number, name.into());
        }
        ThreadCtx { shard, number }
    }
}

impl Drop for ThreadCtx {
    fn drop(&mut self) {
        if let Some(names) = NAMES.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            names.remove(&self.number);
        }
        POOL.lock().unwrap_or_else(PoisonError::into_inner).push(self.shard);
    }
}

/// The calling thread's shard and number; the fallback shard and number 0
/// once its thread-locals are gone.
#[inline]
pub(crate) fn current() -> (&'static Shard, u32) {
    CTX.try_with(|ctx| (ctx.shard, ctx.number))
        .unwrap_or((&FALLBACK, 0))
}

/// How a report names thread `number`: its name while it runs, else its number.
pub(crate) fn thread_label(number: u32) -> String {
    let names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    match names.as_ref().and_then(|n| n.get(&number)) {
        Some(name) => format!("'{name}'"),
        None => format!("#{number}"),
    }
}

/// The calling thread's number; 0 if its thread-locals were gone before
/// it was first asked for.
#[inline]
pub(crate) fn number() -> u32 {
    match NUMBER.get() {
        0 => {
            let number = CTX.try_with(|ctx| ctx.number).unwrap_or(0);
            NUMBER.set(number);
            number
        }
        number => number,
    }
}

/// Record keys a thread takes from the process's count at a time.
const KEY_BLOCK: u64 = 4_096;
/// The next block of record keys.
static NEXT_KEYS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The thread's next record key, and the end of its block. Without a
    /// destructor: usable while the thread is torn down.
    static KEYS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A key for the records map, used by no other record in the process's
/// life: taken from the thread's block, a new block once in [`KEY_BLOCK`].
#[inline]
pub(super) fn next_key() -> u64 {
    let (next, end) = KEYS.get();
    if next < end {
        KEYS.set((next + 1, end));
        return next;
    }
    let start = NEXT_KEYS.fetch_add(KEY_BLOCK, Ordering::Relaxed);
    KEYS.set((start + 1, start + KEY_BLOCK));
    start
}
