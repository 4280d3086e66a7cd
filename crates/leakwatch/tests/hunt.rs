//! `#[leakwatch::test(hunt = "warmup:measured")]`: the body runs in rounds,
//! and a count that grows in every measured round (or descriptors that
//! change at all) fails the test with the per-round deltas, sync or async;
//! `leakwatch::hunt` judges a closure the same way (`closures`).
//!
//! This binary installs the counting allocator, so heap is measured. The
//! leaky tests fail on purpose: they are `#[ignore]`d and run in a child
//! process by a parent test here.

#![cfg(all(feature = "macros", leakwatch_hooks, debug_assertions))]

mod support;

use std::alloc::System;

use leakwatch::alloc::Counting;

use crate::support::{child, messages};

#[global_allocator]
static ALLOCATOR: Counting<System> = Counting::new(System);

const THIS_FILE: &str = "crates/leakwatch/tests/hunt.rs";

/// A library-style module that knows nothing of leakwatch: a cache that
/// keeps something on every call, and a table filled on the first.
mod library {
    use std::fs::File;
    use std::sync::{Mutex, OnceLock};

    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static FILES: Mutex<Vec<File>> = Mutex::new(Vec::new());
    static TABLE: OnceLock<Vec<u64>> = OnceLock::new();

    /// Remembers one more 64-byte string on every call: one heap block a
    /// call (the vector's growth moves its own block, adding none).
    pub fn remember() {
        SEEN.lock().unwrap().push("x".repeat(64));
    }

    /// Keeps one more open file on every call.
    pub fn keep_open() {
        let file = File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
        FILES.lock().unwrap().push(file);
    }

    /// Fills a table on the first call only, and allocates and frees a
    /// scratch buffer on every call.
    pub fn lookup(i: usize) -> u64 {
        let table = TABLE.get_or_init(|| (0..1000).collect());
        let scratch: Vec<u64> = table.iter().take(i + 1).copied().collect();
        scratch.iter().sum()
    }
}

#[leakwatch::test(hunt = "3:5")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn cache_growing_every_call() {
    library::remember();
}

#[test]
fn a_cache_that_grows_every_call_fails_its_hunt_with_the_deltas() {
    let out = child::fails_with(
        module_path!(),
        THIS_FILE,
        "cache_growing_every_call",
        "LEAK leakwatch: `hunt::cache_growing_every_call` leaks by repetition (hunt = \"3:5\")",
    );
    assert!(
        out.contains("LEAK leak hunt: 5 measured rounds (after 3 warm-up)"),
        "{out}"
    );
    assert!(
        out.contains("LEAK   heap blocks grew [1, 1, 1, 1, 1] (+"),
        "{out}"
    );
    // Blocks are what a leak adds; nothing else leaked.
    assert!(!out.contains("fds leaked"), "{out}");
    assert!(!out.contains("note: heap not measured"), "{out}");
    // The ordinary check after the rounds found nothing open: only the
    // hunt's lines are the report.
    assert!(!out.contains("still open"), "{out}");
}

#[leakwatch::test(hunt = "3:5")]
fn a_table_filled_in_warm_up_passes_its_hunt() {
    assert_eq!(library::lookup(3), 6);
}

#[leakwatch::test(hunt = "0:3")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn table_filled_in_the_first_measured_round() {
    assert_eq!(library::lookup(3), 6);
}

/// Without a warm-up round, the table's one-off growth falls in the first
/// measured round only: not every round, so not a leak either.
#[test]
fn a_one_off_growth_in_a_measured_round_is_not_a_leak() {
    let run = child::run(
        module_path!(),
        "table_filled_in_the_first_measured_round",
        &[],
    );
    assert!(run.passed, "{}", run.output);
}

#[leakwatch::test(hunt = "2:3", grace = "20ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn file_kept_every_call() {
    library::keep_open();
}

#[test]
fn descriptors_kept_every_call_fail_the_hunt_and_then_the_check() {
    let out = child::fails_with(
        module_path!(),
        THIS_FILE,
        "file_kept_every_call",
        "LEAK   fds leaked [1, 1, 1]",
    );
    // As `docs/messages.md` shows it.
    messages::assert_shown("hunt-leak", &out);
    messages::assert_shown("heap-info", &out);
    // Descriptors are counted once, not again as tracked items.
    assert!(!out.contains("tracked items leaked"), "{out}");
    // The ordinary check still applies after the rounds: every file the
    // rounds kept is open.
    assert!(out.contains("LEAK   5 fds still open"), "{out}");
    // With the counting allocator, the report ends with the heap still
    // live in the test's scope, as information: the cache's vector.
    assert!(out.contains(HEAP_INFO), "{out}");
}

/// The information line a failing report of a test here ends with: the
/// vector of the five files kept (capacity 8, 4 bytes a `File`).
const HEAP_INFO: &str = "LEAK leakwatch: info: 1 heap block (32 bytes) allocated in this \
                         scope is still live; heap alive at the end is not by itself a leak";

/// A kind switched off for the test is measured but not judged, by the
/// hunt as by the check.
#[leakwatch::test(hunt = "1:3", fds = false)]
fn descriptors_switched_off_are_not_judged_by_the_hunt() {
    library::keep_open();
}

#[leakwatch::test(hunt = "2:3")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn returns_an_error_in_a_round() -> Result<(), String> {
    library::remember();
    Err("the service is down".to_owned())
}

/// A round that returns an error ends the hunt: the test fails with that
/// error, as any test does, and the hunt is not judged on rounds that
/// did not run.
#[test]
fn a_round_that_returns_an_error_ends_the_hunt_with_it() {
    let run = child::run(module_path!(), "returns_an_error_in_a_round", &[]);
    assert!(!run.passed, "{}", run.output);
    assert!(
        run.output.contains("Error: \"the service is down\""),
        "{}",
        run.output
    );
    assert!(
        !run.output.contains("leaks by repetition"),
        "{}",
        run.output
    );
}

#[cfg(feature = "tokio")]
mod async_hunt {
    use super::{THIS_FILE, child, library};

    #[leakwatch::test(hunt = "3:5")]
    #[ignore = "fails on purpose: run by a parent test in a child process"]
    async fn cache_growing_every_call() {
        tokio::task::yield_now().await;
        library::remember();
    }

    #[test]
    fn an_async_cache_that_grows_every_call_fails_its_hunt() {
        let out = child::fails_with(
            module_path!(),
            THIS_FILE,
            "cache_growing_every_call",
            "LEAK   heap blocks grew [1, 1, 1, 1, 1] (+",
        );
        assert!(
            out.contains("`hunt::async_hunt::cache_growing_every_call` leaks by repetition"),
            "{out}"
        );
    }

    /// The rounds run on one multi-thread runtime; the task each spawns
    /// ends within its round.
    #[leakwatch::test(hunt = "1:3", flavor = "multi_thread", worker_threads = 2)]
    async fn a_table_filled_in_warm_up_passes_its_hunt_on_a_multi_thread_runtime() {
        let n = leakwatch::tokio::spawn(async { library::lookup(4) })
            .await
            .unwrap();
        assert_eq!(n, 10);
    }

    #[leakwatch::test(hunt = "2:3", grace = "20ms")]
    #[ignore = "fails on purpose: run by a parent test in a child process"]
    async fn file_kept_every_call() {
        library::keep_open();
    }

    #[test]
    fn async_descriptors_kept_every_call_fail_the_hunt() {
        let out = child::fails_with(
            module_path!(),
            THIS_FILE,
            "file_kept_every_call",
            "LEAK   fds leaked [1, 1, 1]",
        );
        assert!(!out.contains("tracked items leaked"), "{out}");
        assert!(out.contains("LEAK   5 fds still open"), "{out}");
        assert!(out.contains(super::HEAP_INFO), "{out}");
    }
}

/// `leakwatch::hunt` on a closure: a growing cache is caught with its
/// per-round deltas; warm-up-only growth and one-off growth are not leaks;
/// any change in descriptors is.
mod closures {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use leakwatch::hunt;
    use leakwatch::hunting::Measure;

    /// Serializes the hunts: each measures its own scope, but the statics
    /// below are shared.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    #[test]
    fn a_cache_that_grows_on_every_call_is_caught() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        static CACHE: Mutex<Option<HashMap<u64, String>>> = Mutex::new(None);
        let mut n = 0;
        let hunt = hunt(2, 5, || {
            n += 1;
            let mut cache = CACHE.lock().unwrap();
            cache
                .get_or_insert_with(HashMap::new)
                .insert(n, format!("{n:032}"));
        })
        .unwrap();
        assert_eq!(hunt.deltas(Measure::HeapBlocks), [1, 1, 1, 1, 1], "{hunt}");
        assert!(hunt.leaked(Measure::HeapBlocks));
        let report = hunt.to_string();
        assert!(
            report.contains("heap blocks grew [1, 1, 1, 1, 1] (+"),
            "{report}"
        );
        assert!(hunt.check().is_err());
    }

    #[test]
    fn an_allocation_made_in_warm_up_only_is_clean() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        static TABLE: OnceLock<Vec<String>> = OnceLock::new();
        let hunt = hunt(1, 5, || {
            let table = TABLE.get_or_init(|| (0..50).map(|i| i.to_string()).collect());
            assert_eq!(table.len(), 50);
        })
        .unwrap();
        assert_eq!(hunt.deltas(Measure::HeapBlocks), [0; 5]);
        assert!(hunt.is_clean(), "{hunt}");
        assert!(hunt.to_string().starts_with("no leak in 5 measured rounds"));
    }

    #[test]
    fn growth_in_some_rounds_only_is_not_a_leak() {
        let _one = ONE_AT_A_TIME.lock().unwrap();
        static KEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());
        KEPT.lock().unwrap().reserve(16);
        let mut round = 0;
        let hunt = hunt(0, 4, || {
            round += 1;
            if round == 2 {
                KEPT.lock().unwrap().push("kept once".to_owned());
            }
        })
        .unwrap();
        assert_eq!(hunt.deltas(Measure::HeapBlocks), [0, 1, 0, 0]);
        assert!(hunt.is_clean(), "{hunt}");
    }

    mod descriptors {
        use super::*;
        use std::os::fd::IntoRawFd;

        #[test]
        fn a_descriptor_leaked_every_round_is_reported() {
            let _one = ONE_AT_A_TIME.lock().unwrap();
            let mut fds = Vec::new();
            let hunt = hunt(1, 3, || {
                fds.push(std::fs::File::open("Cargo.toml").unwrap().into_raw_fd());
            })
            .unwrap();
            assert!(
                hunt.to_string().contains("\n  fds leaked [1, 1, 1]"),
                "{hunt}"
            );
            for fd in fds {
                // SAFETY: each came from `into_raw_fd` and is closed once.
                unsafe { libc::close(fd) };
            }
        }

        #[test]
        fn a_descriptor_leaked_in_one_round_only_is_still_a_leak() {
            let _one = ONE_AT_A_TIME.lock().unwrap();
            let mut round = 0;
            let mut kept = None;
            let hunt = hunt(0, 3, || {
                round += 1;
                if round == 2 {
                    kept = Some(std::fs::File::open("Cargo.toml").unwrap());
                }
            })
            .unwrap();
            assert_eq!(hunt.deltas(Measure::Fds), [0, 1, 0]);
            assert!(hunt.leaked(Measure::Fds), "{hunt}");
            drop(kept);
        }

        #[test]
        fn descriptors_closed_each_round_are_clean() {
            let _one = ONE_AT_A_TIME.lock().unwrap();
            let hunt = hunt(1, 3, || drop(std::fs::File::open("Cargo.toml").unwrap())).unwrap();
            assert!(hunt.is_clean(), "{hunt}");
        }

        #[test]
        fn a_thread_left_running_every_round_is_reported() {
            let _one = ONE_AT_A_TIME.lock().unwrap();
            static KEEP: Mutex<Vec<std::sync::mpsc::Sender<()>>> = Mutex::new(Vec::new());
            let hunt = hunt(0, 3, || {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                KEEP.lock().unwrap().push(tx);
                std::thread::spawn(move || rx.recv().ok());
            })
            .unwrap();
            assert_eq!(hunt.deltas(Measure::Threads), [1, 1, 1], "{hunt}");
            assert!(
                hunt.to_string().contains("threads leaked [1, 1, 1]"),
                "{hunt}"
            );
        }
    }

    #[test]
    fn bad_rounds_are_refused_with_the_input_named() {
        let err = hunt(3, 1, || {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`hunt = \"3:1\"` is not valid: it needs at least 2 measured rounds to tell growth from a \
             one-off, such as `hunt = \"3:5\"`"
        );
        let err = "3:x".parse::<leakwatch::hunting::Rounds>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`hunt = \"3:x\"` is not valid: the measured count `x` is not a whole number; expected \
             \"WARMUP:MEASURED\" rounds, such as `hunt = \"3:5\"`"
        );
    }
}
