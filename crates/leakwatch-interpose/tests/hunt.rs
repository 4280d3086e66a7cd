//! Leak hunting by repetition: a growing cache is caught with its per-round
//! deltas; warm-up-only growth and one-off growth are not leaks; any change
//! in descriptors is.
#![cfg(any(debug_assertions, feature = "production"))]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use leakwatch_interpose::{Counting, Measure, hunt};

#[global_allocator]
static A: Counting<std::alloc::System> = Counting::new(std::alloc::System);

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

#[cfg(all(target_os = "linux", target_env = "gnu", debug_assertions))]
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
    let err = "3:x".parse::<leakwatch_interpose::Rounds>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "`hunt = \"3:x\"` is not valid: the measured count `x` is not a whole number; expected \
         \"WARMUP:MEASURED\" rounds, such as `hunt = \"3:5\"`"
    );
}
