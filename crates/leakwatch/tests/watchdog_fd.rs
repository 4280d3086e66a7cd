//! The watchdog over the live view: a descriptor opened by std, not by
//! leakwatch's wrappers, held past `fd=...` is warned about once, and its
//! release noted; one closed in time is not. Its own binary: the
//! watchdog's events go to the process's `tracing` subscriber.

#![cfg(target_os = "linux")]

use std::time::Duration;

use leakwatch::integration::Support;
use leakwatch::watchdog;
use tests_support::log::Log;

#[test]
fn an_unwrapped_descriptor_held_past_its_threshold_is_warned_about() {
    if leakwatch::integration::support() != Support::Active {
        return;
    }
    let log = Log::installed();
    let dir = tests_support::temp::temp_dir("held");
    let (held_path, quick_path) = (dir.join("held.log"), dir.join("quick.log"));

    let dog = watchdog::start("fd=150ms".parse().unwrap());
    // In a scope, so that its stack, and so the line, is recorded.
    let scope = leakwatch::Scope::new("held");
    let line = line!() + 1;
    let held = scope.run(|| std::fs::File::create(&held_path).unwrap());
    let quick = std::fs::File::create(&quick_path).unwrap();
    drop(quick); // closed in time: never warned about

    let warned = log.wait_for(|t| t.contains("held.log"));
    assert!(warned.contains("WARN"), "{warned}");
    assert!(warned.contains("fd held for"), "{warned}");
    assert!(
        warned.contains(&format!("opened at {}:{line}:", file!())),
        "{warned}"
    );
    assert!(!warned.contains("quick.log"), "{warned}");

    // Held on for several more looks: still one warning.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        log.text().matches("fd held for").count(),
        1,
        "{}",
        log.text()
    );

    drop(held);
    let released = log.wait_for(|t| t.contains("released after"));
    assert!(
        released.contains(&format!("fd opened at {}:{line}:", file!())),
        "{released}"
    );
    drop(dog);
    std::fs::remove_dir_all(&dir).unwrap();
}
