//! Each thread's shard and number, and the names of threads for reports.
//!
//! Shards are never freed, and a shard whose thread exited goes to the next
//! new thread: see "# Never freed" in the registry's docs.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use super::shard::{self, FALLBACK, Shard};
use crate::clock::Ticking;

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
            let shard: &'static Shard = Box::leak(Box::new(Shard::for_thread()));
            shard::register(shard);
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

