//! The long-held watchdog: one warning per item held past its kind's
//! threshold, one note when such an item is released, nothing for items
//! released in time or of kinds not watched; the callback of `start_with`
//! sees exactly the items warned about. Its own binary: the watchdog's
//! events go to the process's `tracing` subscriber.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use leakwatch::Tag;
use leakwatch::watchdog::{self, Thresholds};
use tests_support::log::Log;

#[test]
fn bad_thresholds_are_refused_naming_them() {
    for (bad, why) in [
        ("db-conn", "expected `kind=duration`"),
        ("db-conn=10ms", "below the minimum of 100ms"),
        ("db-conn=soon", "the duration is not a number"),
        ("tcp=5m,db-conn=", "the duration is not a number"),
    ] {
        let err = bad.parse::<Thresholds>().unwrap_err().to_string();
        assert!(err.starts_with("LEAKWATCH_HELD `"), "{err}");
        assert!(err.contains(why), "{bad}: {err}");
    }
    let held: Thresholds = "db-conn=150ms, tcp=5m".parse().unwrap();
    assert_eq!(held.of("tcp"), Some(Duration::from_secs(300)));
}

#[test]
fn items_held_past_their_threshold_are_warned_about_once_and_released_noted() {
    if !leakwatch::integration::COMPILED_IN {
        return;
    }
    let log = Log::installed();
    // What the callback saw: each item's detail, in order.
    let observed = Arc::new(Mutex::new(Vec::new()));
    let dog = watchdog::start_with("db-conn=150ms".parse().unwrap(), {
        let observed = observed.clone();
        move |item| {
            let detail = item.detail().unwrap_or("-").to_owned();
            observed.lock().unwrap().push(detail);
        }
    });

    let (held, line) = (Tag::with_detail("db-conn", "conn #7"), line!());
    let quick = Tag::with_detail("db-conn", "conn #8");
    drop(quick); // released in time: never warned about
    let other = Tag::with_detail("file", "/tmp/not-watched"); // a kind not watched
    let warned = log.wait_for(|t| t.contains("held for"));
    assert!(warned.contains("WARN"), "{warned}");
    assert!(
        warned.contains(&format!("opened at {}:{line}:", file!())),
        "{warned}"
    );
    assert!(warned.contains("conn #7"), "{warned}");
    assert!(
        !warned.contains("conn #8") && !warned.contains("not-watched"),
        "{warned}"
    );

    // Held on for several more looks: still one warning.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(log.text().matches("held for").count(), 1, "{}", log.text());
    // The callback saw the warned-about item, once, and nothing else.
    assert_eq!(*observed.lock().unwrap(), ["conn #7"]);

    drop(held);
    let released = log.wait_for(|t| t.contains("released after"));
    assert!(released.contains("INFO"), "{released}");
    assert!(
        released.contains(&format!("db-conn opened at {}:{line}:", file!())),
        "{released}"
    );
    drop(other);
    drop(dog);
}
