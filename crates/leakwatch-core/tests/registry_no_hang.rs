//! An allocator that asks [`ScopeId::current`] on every allocation (as
//! leakwatch-alloc's `Counting` does) never hangs the registry: inside
//! an item of the followed table that lives in the table's locked map (at
//! `LEAKWATCH=stacks`, every item), that question takes the map shard's
//! lock, so nothing may allocate while holding one. Its own test binary:
//! the allocator, the level and the followed table are process-wide.
#![cfg(all(feature = "stacks", any(debug_assertions, feature = "production")))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::Location;
use std::sync::mpsc;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use leakwatch_core::{IdTable, Level, Scope, ScopeId, set_level};

/// [`System`], asking for the current scope on each allocation.
struct AsksCurrent;

thread_local! {
    /// Set while the allocator asks, so that an allocation made by the
    /// asking itself is not asked about again.
    static ASKING: Cell<bool> = const { Cell::new(false) };
    /// The item of [`JOBS`] the thread runs.
    static RUNNING: Cell<Option<u64>> = const { Cell::new(None) };
}

impl AsksCurrent {
    fn ask() {
        // `try_with`: a thread being torn down still allocates.
        let _ = ASKING.try_with(|asking| {
            if !asking.replace(true) {
                std::hint::black_box(ScopeId::current());
                asking.set(false);
            }
        });
    }
}

// SAFETY: every call is handed to `System` unchanged; `ask` neither
// allocates through this allocator while asking (the thread-local guard)
// nor touches the blocks.
unsafe impl GlobalAlloc for AsksCurrent {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        AsksCurrent::ask();
        // SAFETY: the caller's layout, as `GlobalAlloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        AsksCurrent::ask();
        // SAFETY: the caller's layout, as `GlobalAlloc` requires.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        AsksCurrent::ask();
        // SAFETY: `ptr` came from `System` with `layout`; the caller's size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: AsksCurrent = AsksCurrent;

/// The followed table.
static JOBS: LazyLock<IdTable> = LazyLock::new(|| IdTable::new("job"));

/// The tests here use one followed table and the process's level: one at
/// a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Shards of the table's map: ids `SHARDS` apart share a lock.
const SHARDS: u64 = 32;

/// Runs `body` on a thread of its own at `LEAKWATCH=stacks`, with [`JOBS`]
/// followed, failing if it does not end within 20 s (a hang).
fn within_deadline(body: fn()) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    set_level(Level::Stacks);
    static FOLLOWED: LazyLock<bool> = LazyLock::new(|| JOBS.follow(|| RUNNING.get()));
    assert!(*FOLLOWED, "the table is followed");
    let (done, finished) = mpsc::channel();
    std::thread::Builder::new()
        .name("body".into())
        .spawn(move || {
            body();
            done.send(()).unwrap();
        })
        .unwrap();
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("hung: an allocation under a lock that `ScopeId::current` takes")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the body panicked"),
    }
}

#[test]
fn the_map_grows_while_one_of_its_items_runs() {
    within_deadline(|| {
        let scope = Scope::new("grows");
        let running = 1_000_001;
        assert!(JOBS.open(running, Location::caller(), scope.id()));
        RUNNING.set(Some(running));
        assert_eq!(ScopeId::current(), scope.id(), "inside the item, its scope");
        // Enough items in the running item's shard to grow its table
        // several times; each growth allocates, and the allocator asks for
        // the running item's scope, in that same shard.
        let others: Vec<u64> = (1..200).map(|k| running + k * SHARDS).collect();
        for &id in &others {
            assert!(JOBS.open(id, Location::caller(), scope.id()));
        }
        assert_eq!(ScopeId::current(), scope.id());
        assert_eq!(scope.snapshot().items().len(), others.len() + 1);
        RUNNING.set(None);
        for &id in others.iter().chain([&running]) {
            assert!(JOBS.close(id), "item {id}");
        }
        assert!(scope.check_now().is_ok());
    });
}

#[test]
fn a_snapshot_is_taken_inside_an_item_of_the_map() {
    within_deadline(|| {
        let scope = Scope::new("snapshot");
        let running = 2_000_003;
        assert!(JOBS.open(running, Location::caller(), scope.id()));
        RUNNING.set(Some(running));
        // The walk builds an item (allocating) for each record it keeps,
        // the running item's own among them.
        let snapshot = scope.snapshot();
        assert_eq!(snapshot.items().len(), 1);
        let report = scope.check_now().expect_err("the item is open");
        assert!(report.to_string().contains("job"), "{report}");
        RUNNING.set(None);
        assert!(JOBS.close(running));
        assert!(scope.check_now().is_ok());
    });
}
