//! The pprof form, decoded in Rust and, where `go` is installed, read by
//! `go tool pprof`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use leakwatch_core::{Level, Tag};
use leakwatch_export::pprof::{self, proto};
use leakwatch_export::{Capture, Filter};

/// Tests that set the level hold this, so each sees its own.
static LEVEL: Mutex<()> = Mutex::new(());

fn string(profile: &proto::Profile, i: i64) -> &str {
    &profile.string_table[usize::try_from(i).unwrap()]
}

fn labels(profile: &proto::Profile, sample: &proto::Sample) -> Vec<(String, String)> {
    sample
        .label
        .iter()
        .map(|l| {
            (
                string(profile, l.key).to_owned(),
                string(profile, l.str).to_owned(),
            )
        })
        .collect()
}

/// The (function, file, line) of each frame of `sample`, leaf first.
fn frames(profile: &proto::Profile, sample: &proto::Sample) -> Vec<(String, String, i64)> {
    sample
        .location_id
        .iter()
        .map(|&id| {
            let location = profile
                .location
                .iter()
                .find(|l| l.id == id)
                .expect("location");
            let line = location.line[0];
            let function = profile
                .function
                .iter()
                .find(|f| f.id == line.function_id)
                .expect("function");
            (
                string(profile, function.name).to_owned(),
                string(profile, function.filename).to_owned(),
                line.line,
            )
        })
        .collect()
}

#[inline(never)]
fn open_pooled_connection(peer: &str) -> Tag {
    Tag::with_detail("pprof-conn", peer)
}

/// A tag opened at the line it returns.
fn open_site(i: usize) -> (Tag, u32) {
    (Tag::with_detail("pprof-site", format!("peer-{i}")), line!())
}

#[test]
fn at_sites_each_item_is_a_sample_whose_one_frame_is_its_site() {
    let _level = LEVEL.lock().unwrap_or_else(|e| e.into_inner());
    leakwatch_core::set_level(Level::Sites);
    let scope = leakwatch_core::Scope::new("pprof");
    let opened: Vec<(Tag, u32)> = scope.run(|| (0..3).map(open_site).collect());
    let line = opened[0].1;
    let capture = Filter::new().kind("pprof-site").apply(&Capture::now());
    let profile = pprof::decode(&pprof::encode(&capture)).expect("decodes");

    let types: Vec<(&str, &str)> = profile
        .sample_type
        .iter()
        .map(|t| (string(&profile, t.r#type), string(&profile, t.unit)))
        .collect();
    assert_eq!(types, [("items", "count"), ("age", "nanoseconds")]);
    assert_eq!(string(&profile, profile.default_sample_type), "items");
    assert_eq!(profile.sample.len(), 3);

    let mut details = Vec::new();
    for sample in &profile.sample {
        assert_eq!(sample.value[0], 1);
        assert!(sample.value[1] >= 0);
        let frames = frames(&profile, sample);
        assert_eq!(frames.len(), 1, "{frames:?}");
        let (function, file, at) = &frames[0];
        assert!(
            function.starts_with(&format!("{}:{line}:", file!())),
            "{function}"
        );
        assert_eq!((file.as_str(), *at), (file!(), i64::from(line)));
        let labels = labels(&profile, sample);
        assert!(
            labels.contains(&("kind".into(), "pprof-site".into())),
            "{labels:?}"
        );
        assert!(
            labels.contains(&("scope".into(), scope.id().as_u64().to_string())),
            "{labels:?}"
        );
        details.extend(
            labels
                .into_iter()
                .filter(|(k, _)| k == "detail")
                .map(|(_, v)| v),
        );
    }
    details.sort();
    assert_eq!(details, ["peer-0", "peer-1", "peer-2"]);
    // One site, so one location and one function, shared by the samples.
    assert_eq!(profile.location.len(), 1);
    assert_eq!(profile.function.len(), 1);
    drop(opened);
}

#[test]
fn at_stacks_frames_carry_the_opening_function_file_and_line() {
    let _level = LEVEL.lock().unwrap_or_else(|e| e.into_inner());
    leakwatch_core::set_level(Level::Stacks);
    let tag = open_pooled_connection("db:5432");
    leakwatch_core::set_level(Level::Sites);

    let capture = Filter::new().kind("pprof-conn").apply(&Capture::now());
    assert_eq!(capture.entries().len(), 1);
    let profile = pprof::decode(&pprof::encode(&capture)).expect("decodes");
    let frames = frames(&profile, &profile.sample[0]);
    let opener = frames
        .iter()
        .find(|(function, _, _)| function.ends_with("open_pooled_connection"))
        .unwrap_or_else(|| panic!("no frame of the opener in {frames:#?}"));
    assert!(opener.1.ends_with("tests/pprof.rs"), "{opener:?}");
    assert!(opener.2 > 0, "{opener:?}");
    // The test that called it is further out.
    let caller = frames
        .iter()
        .position(|(function, _, _)| function.contains("at_stacks_frames_carry"))
        .expect("the test's own frame");
    let opened = frames.iter().position(|f| f == opener).unwrap();
    assert!(opened < caller, "leaf first: {frames:#?}");
    drop(tag);
}

#[test]
fn an_empty_capture_is_a_valid_profile() {
    let profile = pprof::decode(&pprof::encode(&Capture::default())).expect("decodes");
    assert!(profile.sample.is_empty());
    assert_eq!(profile.sample_type.len(), 2);
}

#[test]
fn garbage_is_refused_with_a_reason() {
    let err = pprof::decode(b"hello").unwrap_err();
    assert!(err.to_string().starts_with("not a pprof profile:"), "{err}");
    let err = pprof::decode(&[0x1f, 0x8b, 0, 1, 2]).unwrap_err();
    assert!(
        err.to_string().starts_with("not a pprof profile: gzip"),
        "{err}"
    );
}

/// `go tool pprof -top` on a profile where one site holds 7 items and
/// another 2: the first row is the leaking site.
#[test]
fn go_tool_pprof_puts_the_leaking_site_on_top() {
    let go_found = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !go_found {
        // CI installs it; elsewhere the test says why it did nothing.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs `go` on PATH (golang-go)"
        );
        eprintln!("skipped: `go` is not on PATH (Debian: apt-get install golang-go)");
        return;
    }
    let _level = LEVEL.lock().unwrap_or_else(|e| e.into_inner());
    leakwatch_core::set_level(Level::Sites);
    let leak_line = line!() + 1;
    let leaked: Vec<Tag> = (0..7).map(|_| Tag::new("pprof-go")).collect();
    let busy: Vec<Tag> = (0..2).map(|_| Tag::new("pprof-go")).collect();
    let capture = Filter::new().kind("pprof-go").apply(&Capture::now());
    let path: PathBuf =
        std::env::temp_dir().join(format!("leakwatch-{}.pb.gz", std::process::id()));
    std::fs::write(&path, pprof::encode(&capture)).unwrap();

    let out = Command::new("go")
        .args(["tool", "pprof", "-top"])
        .arg(&path)
        .env("PPROF_TMPDIR", std::env::temp_dir())
        .output()
        .expect("go tool pprof runs");
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The rows follow the header line that ends in "cum%".
    let rows: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.trim_end().ends_with("cum%"))
        .skip(1)
        .collect();
    let leak_site = format!("{}:{leak_line}:", file!());
    assert!(
        rows.first().is_some_and(|r| r.contains(&leak_site)),
        "{stdout}"
    );
    assert!(rows[0].trim_start().starts_with("7 "), "{stdout}");
    assert!(
        rows.get(1)
            .is_some_and(|r| r.trim_start().starts_with("2 ")),
        "{stdout}"
    );
    drop((leaked, busy));
}

#[test]
fn a_profile_reads_back_as_the_capture_it_was_written_from() {
    let _level = LEVEL.lock().unwrap_or_else(|e| e.into_inner());
    leakwatch_core::set_level(Level::Sites);
    let opened: Vec<(Tag, u32)> = (0..2).map(open_site).collect();
    leakwatch_core::set_level(Level::Stacks);
    let stacked = open_pooled_connection("db:1");
    leakwatch_core::set_level(Level::Sites);
    let capture = Filter::new()
        .kind("pprof-site")
        .kind("pprof-conn")
        .apply(&Capture::now());
    let back = pprof::to_capture(&pprof::decode(&pprof::encode(&capture)).unwrap()).unwrap();
    assert_eq!(back.entries().len(), 3);
    for (was, is) in capture.entries().iter().zip(back.entries()) {
        assert_eq!(
            (was.kind(), was.detail(), was.scope(), was.thread()),
            (is.kind(), is.detail(), is.scope(), is.thread())
        );
        assert_eq!(was.age(), is.age());
        assert_eq!(was.frames().len(), is.frames().len());
        if was.frames().is_empty() {
            assert_eq!(was.site(), is.site());
        } else {
            assert_eq!(is.site().file(), was.frames()[0].file().unwrap());
        }
    }
    drop((opened, stacked));

    let mut broken = pprof::profile(&Capture::default());
    broken.sample_type.clear();
    let err = pprof::to_capture(&broken).unwrap_err();
    assert!(err.to_string().contains("no `items` sample type"), "{err}");
}
