//! The live view of the whole process: descriptors and threads that code
//! outside leakwatch's wrappers created are in `Snapshot::all`, and so in
//! the JSON, pprof and Prometheus exports, with what they are and the
//! user's line, until they are closed; a wrapped file is there once.

#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use leakwatch::Scope;
use leakwatch::integration::Support;
use leakwatch_export::metrics::LeakMetrics;
use leakwatch_export::{Capture, Entry, pprof};

fn entries_with<'a>(capture: &'a Capture, detail: &str) -> Vec<&'a Entry> {
    capture
        .entries()
        .iter()
        .filter(|e| e.detail().is_some_and(|d| d.contains(detail)))
        .collect()
}

/// The one entry whose detail holds `detail`, of `kind`, at this file's
/// `line`.
fn the_entry<'a>(capture: &'a Capture, detail: &str, kind: &str, line: u32) -> &'a Entry {
    let found = entries_with(capture, detail);
    let [entry] = found.as_slice() else {
        panic!("not one entry with `{detail}`: {found:#?}");
    };
    assert_eq!(entry.kind(), kind, "{entry:?}");
    assert!(entry.site().file().ends_with("live_view.rs"), "{entry:?}");
    assert_eq!(entry.site().line(), line, "{entry:?}");
    entry
}

/// Whether a sample of `profile` labelled with a detail holding `detail`
/// has a frame at this file's `line`.
fn profile_has(profile: &pprof::proto::Profile, detail: &str, line: u32) -> bool {
    let s = |i: i64| profile.string_table[i as usize].as_str();
    profile.sample.iter().any(|sample| {
        sample
            .label
            .iter()
            .any(|l| s(l.key) == "detail" && s(l.str).contains(detail))
            && sample.location_id.iter().any(|id| {
                let location = &profile.location[*id as usize - 1];
                location.line.iter().any(|l| {
                    let function = &profile.function[l.function_id as usize - 1];
                    s(function.filename).ends_with("live_view.rs") && l.line == i64::from(line)
                })
            })
    })
}

/// The value of the metric line starting with `series`, if any.
fn metric(text: &str, series: &str) -> Option<i64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn unwrapped_descriptors_and_threads_are_exported_until_closed() {
    if leakwatch::integration::support() != Support::Active {
        return;
    }
    let dir = tests_support::temp::temp_dir("live");
    let path = dir.join("orders.log");
    let wrapped_path = dir.join("wrapped.log");
    std::fs::write(&wrapped_path, "x").unwrap();

    let scope = Scope::new("live view");
    // Each line is taken just above the call it names.
    let file_line = line!() + 1;
    let file = scope.run(|| std::fs::File::create(&path).unwrap());
    let listener_line = line!() + 1;
    let listener = scope.run(|| TcpListener::bind("127.0.0.1:0").unwrap());
    let (stop, blocked) = mpsc::channel::<()>();
    let thread_line = line!() + 4;
    let thread = scope.run(|| {
        std::thread::Builder::new()
            .name("lv-blocked".into())
            .spawn(move || blocked.recv())
            .unwrap()
    });
    let wrapped = scope.run(|| leakwatch::fs::File::open(&wrapped_path).unwrap());
    let port = listener.local_addr().unwrap().port();
    let address = format!("tcp 127.0.0.1:{port} (LISTEN)");
    let path_text = path.display().to_string();

    // The thread names itself once it runs.
    let mut capture = Capture::now();
    for _ in 0..200 {
        if !entries_with(&capture, "'lv-blocked'").is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        capture = Capture::now();
    }

    // JSON: each with what it is and the user's line.
    let back = Capture::from_json(&capture.to_json()).unwrap();
    let entry = the_entry(&back, &format!("file {path_text} (fd "), "fd", file_line);
    assert_eq!(entry.file_type(), Some("file"));
    let entry = the_entry(&back, &address, "fd", listener_line);
    assert_eq!(entry.file_type(), Some("tcp"));
    the_entry(&back, "'lv-blocked'", "thread", thread_line);
    // The wrapped file once, as the tracked item.
    let wrapped_entries = entries_with(&back, &wrapped_path.display().to_string());
    assert_eq!(wrapped_entries.len(), 1, "{wrapped_entries:#?}");
    assert_eq!(wrapped_entries[0].kind(), "file");

    // pprof: a sample per item, labelled, with the user's line among its
    // frames.
    let profile = pprof::decode(&pprof::encode(&capture)).unwrap();
    assert!(profile_has(&profile, &path_text, file_line));
    assert!(profile_has(&profile, &address, listener_line));
    assert!(profile_has(&profile, "'lv-blocked'", thread_line));

    // Metrics: descriptors by type of file, threads by kind.
    let text = LeakMetrics::new().to_text();
    assert!(
        metric(&text, r#"leakwatch_live_items{kind="fd",type="tcp"}"#) >= Some(1),
        "{text}"
    );
    assert!(
        metric(&text, r#"leakwatch_live_items{kind="fd",type="file"}"#) >= Some(1),
        "{text}"
    );
    assert!(
        metric(&text, r#"leakwatch_live_items{kind="thread"}"#) >= Some(1),
        "{text}"
    );
    assert!(
        metric(&text, r#"leakwatch_live_items{kind="file"}"#) >= Some(1),
        "{text}"
    );
    let types: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(r#"leakwatch_live_items{kind="fd",type=""#))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert!(
        types
            .iter()
            .all(|t| leakwatch::integration::FILE_TYPES.contains(t)),
        "{types:?}"
    );

    // Closed, ended: gone from the view.
    drop((file, listener, wrapped));
    stop.send(()).unwrap();
    thread.join().unwrap().unwrap();
    let after = Capture::now();
    assert!(entries_with(&after, &path_text).is_empty());
    assert!(entries_with(&after, &address).is_empty());
    assert!(entries_with(&after, "'lv-blocked'").is_empty());
    assert!(entries_with(&after, &wrapped_path.display().to_string()).is_empty());
    assert!(scope.check_now().is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
