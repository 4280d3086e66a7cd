//! The suite's settings file, `.config/leakwatch.toml`, as every check reads
//! it. Each child test runs in a process of its own whose
//! `CARGO_MANIFEST_DIR` is a folder made for it, holding the file or not, so
//! that the file is found there and read once, as in a real suite.

#![cfg(all(feature = "macros", feature = "settings", debug_assertions))]

use std::path::{Path, PathBuf};
use std::time::Duration;

use leakwatch::{Scope, Tag};

use crate::support::child;

/// A package folder for one run, holding `.config/leakwatch.toml` with
/// `text`, or no file for `None`; removed when dropped.
pub(crate) fn package(run: &str, text: Option<&str>) -> Package {
    let dir = std::env::temp_dir().join(format!("leakwatch-settings-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".config")).unwrap();
    if let Some(text) = text {
        std::fs::write(dir.join(".config/leakwatch.toml"), text).unwrap();
    }
    Package(dir)
}

/// A package folder made by [`package`].
pub(crate) struct Package(PathBuf);

impl std::ops::Deref for Package {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Package {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the child test `name` with its package in `dir`, and `env`.
pub(crate) fn run_in(dir: &Path, name: &str, env: &[(&str, &str)]) -> child::Run {
    let dir = dir.to_str().unwrap();
    let mut all = vec![("CARGO_MANIFEST_DIR", dir)];
    all.extend_from_slice(env);
    child::run("it::settings_file", name, &all)
}

/// A rule as the file writes it.
fn ignoring(rule: &str) -> String {
    format!("ignore = [\"{rule}\"]\n")
}

// ---- the children ----

#[leakwatch::test]
#[ignore = "run by the tests below, in a child process"]
fn leaves_a_metrics_flusher() {
    std::mem::forget(Tag::new("metrics"));
}

#[leakwatch::test]
#[ignore = "run by the tests below, in a child process"]
fn leaves_a_named_worker() {
    std::mem::forget(Tag::with_detail("task", "'reaper'"));
}

/// Opens the item a `fn:` rule names, in a frame of its own.
#[inline(never)]
fn open_a_flusher() -> Tag {
    Tag::new("metrics")
}

#[leakwatch::test]
#[ignore = "run by the tests below, in a child process (LEAKWATCH=stacks)"]
fn leaves_a_flusher_opened_in_a_function() {
    std::mem::forget(std::hint::black_box(open_a_flusher()));
}

/// The scope that [`bb8_reaper`] reports a task in.
static REAPER_SCOPE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A task item at bb8's spawn site, as a hooked runtime records bb8's
/// reaper, given by an external source (the path is Cargo's registry).
fn bb8_reaper(family: &[leakwatch_core::ScopeId]) -> Vec<leakwatch_core::Item> {
    const SITE: &str =
        "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/bb8-0.9.1/src/inner.rs";
    let kept = REAPER_SCOPE.load(std::sync::atomic::Ordering::Relaxed);
    family
        .iter()
        .filter(|scope| scope.as_u64() == kept)
        .map(|&scope| {
            leakwatch_core::Item::external("task", leakwatch_core::Site::new(SITE, 28, 13), scope)
        })
        .collect()
}

#[test]
#[ignore = "run by the tests below, in a child process"]
fn leaves_a_task_at_bb8s_site() {
    let scope = Scope::new("bb8-reaper");
    REAPER_SCOPE.store(scope.id().as_u64(), std::sync::atomic::Ordering::Relaxed);
    leakwatch_core::external::register("bb8 reaper", bb8_reaper);
    let result = scope.check();
    if let Some(ignored) = scope.ignored() {
        eprintln!("leakwatch: {ignored}");
    }
    if let Err(report) = result {
        panic!("{report}");
    }
}

#[leakwatch::test]
#[ignore = "run by the tests below, in a child process"]
fn stays_clean() {}

/// Holds a tag for 150 ms from another thread: within the default grace.
/// (The helper thread, which ends without being joined, is left out of the
/// check with `threads = false`: the tag is what the grace is for.)
fn hold_for_150ms() {
    let tag = Tag::new("socket");
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        drop(tag);
    });
}

#[leakwatch::test(threads = false)]
#[ignore = "run by the tests below, in a child process"]
fn closes_within_150ms() {
    hold_for_150ms();
}

#[leakwatch::test(grace = "3s", threads = false)]
#[ignore = "run by the tests below, in a child process"]
fn closes_within_150ms_with_its_own_grace() {
    hold_for_150ms();
}

#[test]
#[ignore = "run by the tests below, in a child process"]
fn check_and_scopes_read_the_file() {
    leakwatch::check(|| std::mem::forget(Tag::new("metrics")));
    let scope = Scope::new("plain");
    scope.run(|| std::mem::forget(Tag::new("metrics")));
    scope
        .check()
        .expect("the file's rule applies to a plain scope");
    let ignored = scope
        .ignored()
        .expect("the trace of what the file left out");
    assert_eq!(
        ignored.to_string(),
        "1 finding ignored by .config/leakwatch.toml: kind:metrics"
    );
    let own = Scope::new("own rules").ignoring([]);
    own.run(|| std::mem::forget(Tag::new("metrics")));
    let report = own
        .check_now()
        .expect_err("a scope's own rules replace the file's");
    assert!(report.ignored().is_none(), "{report}");
}

#[test]
#[ignore = "run by the tests below, in a child process"]
fn the_file_is_read_once() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let file = dir.join(".config/leakwatch.toml");
    leakwatch::check(|| std::mem::forget(Tag::new("metrics")));
    std::fs::write(&file, "not = [valid").unwrap();
    leakwatch::check(|| std::mem::forget(Tag::new("metrics")));
    std::fs::remove_file(&file).unwrap();
    leakwatch::check(|| std::mem::forget(Tag::new("metrics")));
}

// ---- rules ----

/// Environment variables for a child.
type Env = &'static [(&'static str, &'static str)];

/// A child test, a rule matching what it leaves, one of the same kind that
/// does not, and the environment.
type Rule = (&'static str, &'static str, &'static str, Env);

/// Each kind of rule, with the child test that leaves what it matches, a
/// rule of the same kind that does not match, and the environment.
const RULES: &[Rule] = &[
    (
        "leaves_a_metrics_flusher",
        "kind:metrics",
        "kind:metric",
        &[],
    ),
    (
        "leaves_a_metrics_flusher",
        "site:tests/it/settings_file.rs",
        "site:tests/it/elsewhere.rs",
        &[],
    ),
    ("leaves_a_named_worker", "name:reaper", "name:flusher", &[]),
    (
        "leaves_a_named_worker",
        "detail:'reaper'",
        "detail:'flusher'",
        &[],
    ),
    (
        "leaves_a_task_at_bb8s_site",
        "crate:bb8",
        "crate:bb8-util",
        &[],
    ),
    (
        "leaves_a_flusher_opened_in_a_function",
        "fn:it::settings_file::open_a_flusher",
        "fn:it::settings_file::open",
        &[("LEAKWATCH", "stacks")],
    ),
];

#[test]
fn every_kind_of_rule_leaves_out_what_it_matches_with_a_trace() {
    for &(test, rule, _, env) in RULES {
        let dir = package(
            &format!("match-{}", rule.replace([':', '/', '\''], "-")),
            Some(&ignoring(rule)),
        );
        let run = run_in(&dir, test, env);
        assert!(
            run.passed,
            "`{rule}` did not leave `{test}`'s item out:\n{}",
            run.output
        );
        let trace = format!("leakwatch: 1 finding ignored by .config/leakwatch.toml: {rule}");
        assert!(
            run.output.contains(&trace),
            "`{rule}`: no `{trace}` in:\n{}",
            run.output
        );
    }
}

#[test]
fn a_rule_that_matches_nothing_leaves_the_finding() {
    for &(test, _, other, env) in RULES {
        let dir = package(
            &format!("other-{}", other.replace([':', '/', '\''], "-")),
            Some(&ignoring(other)),
        );
        let run = run_in(&dir, test, env);
        assert!(
            !run.passed,
            "`{other}` left `{test}`'s item out:\n{}",
            run.output
        );
        assert!(
            run.output.contains("LEAK leakwatch: 1 item leaked in "),
            "{}",
            run.output
        );
        assert!(!run.output.contains("ignored by"), "{}", run.output);
    }
    // And without a file, the same.
    let dir = package("no-file", None);
    let run = run_in(&dir, "leaves_a_metrics_flusher", &[]);
    assert!(!run.passed, "{}", run.output);
}

#[test]
fn check_and_plain_scopes_read_the_file_and_own_rules_replace_it() {
    let dir = package("check-and-scope", Some(&ignoring("kind:metrics")));
    let run = run_in(&dir, "check_and_scopes_read_the_file", &[]);
    assert!(run.passed, "{}", run.output);
    assert!(
        run.output
            .contains("leakwatch: 1 finding ignored by .config/leakwatch.toml: kind:metrics"),
        "leakwatch::check printed no trace:\n{}",
        run.output
    );
}

#[test]
fn the_file_is_read_once_per_process() {
    let dir = package("read-once", Some(&ignoring("kind:metrics")));
    let run = run_in(&dir, "the_file_is_read_once", &[]);
    assert!(run.passed, "{}", run.output);
}

// ---- precedence: attribute, then environment, then file ----

#[test]
fn the_attribute_goes_over_the_environment_over_the_file_over_the_default() {
    let cases: &[(&str, Option<&str>, Env, bool)] = &[
        // The default grace (300 ms) covers 150 ms.
        ("closes_within_150ms", None, &[], true),
        // The file over the default.
        ("closes_within_150ms", Some("grace = \"50ms\""), &[], false),
        // The environment over the file.
        (
            "closes_within_150ms",
            Some("grace = \"3s\""),
            &[("LEAKWATCH_GRACE", "50ms")],
            false,
        ),
        (
            "closes_within_150ms",
            Some("grace = \"50ms\""),
            &[("LEAKWATCH_GRACE", "3s")],
            true,
        ),
        // The attribute over the environment.
        (
            "closes_within_150ms_with_its_own_grace",
            Some("grace = \"50ms\""),
            &[("LEAKWATCH_GRACE", "50ms")],
            true,
        ),
    ];
    for (i, &(test, file, env, passes)) in cases.iter().enumerate() {
        let dir = package(&format!("precedence-{i}"), file);
        let run = run_in(&dir, test, env);
        assert_eq!(
            run.passed, passes,
            "{test} with {file:?} and {env:?}:\n{}",
            run.output
        );
    }
}

// ---- bad files ----

#[test]
fn a_bad_file_fails_every_check_naming_file_line_and_key() {
    let cases = [
        (
            "grace = \"1s\"\nignored = [\"kind:task\"]\n",
            "LEAK leakwatch: error: .config/leakwatch.toml, line 2, `ignored`: unknown key; expected one of `grace`, `ignore`, `detect`",
        ),
        (
            "[detect]\nfds = true\nsockets = false\n",
            "LEAK leakwatch: error: .config/leakwatch.toml, line 3, `detect.sockets`: unknown key",
        ),
        (
            "ignore = [\n  \"crate:bb8\",\n  \"module:bb8\",\n]\n",
            "LEAK leakwatch: error: .config/leakwatch.toml, line 3, `ignore`: ignore=`module:bb8` is not valid",
        ),
        (
            "\n[detect]\nthreads = \"no\"\n",
            "LEAK leakwatch: error: .config/leakwatch.toml, line 3, `detect.threads`: expected true or false, found a string",
        ),
        (
            "grace = 300\n",
            "LEAK leakwatch: error: .config/leakwatch.toml, line 1, `grace`: expected a string, found an integer",
        ),
    ];
    for (i, (text, expected)) in cases.into_iter().enumerate() {
        let dir = package(&format!("bad-{i}"), Some(text));
        let run = run_in(&dir, "stays_clean", &[]);
        assert!(
            !run.passed,
            "a clean test passed with a bad file:\n{text}\n{}",
            run.output
        );
        assert!(
            run.output.contains(expected),
            "expected `{expected}` in:\n{}",
            run.output
        );
    }
}

#[test]
fn an_unreadable_file_fails_every_check() {
    let dir = package("unreadable", None);
    // A folder where the file should be: unreadable as a file, whoever runs.
    std::fs::create_dir_all(dir.join(".config/leakwatch.toml")).unwrap();
    for test in ["stays_clean", "check_and_scopes_read_the_file"] {
        let run = run_in(&dir, test, &[]);
        assert!(
            !run.passed,
            "{test} passed with an unreadable file:\n{}",
            run.output
        );
        assert!(
            run.output
                .contains("leakwatch: error: .config/leakwatch.toml: cannot be read: "),
            "{}",
            run.output
        );
    }
}

// ---- recipes, against the real crates ----

#[cfg(feature = "tokio")]
pub(crate) mod recipes {
    use crate::support::tasks::Nothing;

    use super::{package, run_in};

    /// The README's recipe for bb8's reaper.
    pub(crate) const BB8: &str = "ignore = [\"crate:bb8\"]\ndetect.counted-tasks = \"warn\"\n";
    /// The README's recipe for hyper-util's pooled client.
    pub(crate) const HYPER_UTIL: &str = "ignore = [\"crate:hyper-util\", \"fn:hyper_util::client::legacy::connect\"]\ndetect.counted-tasks = \"warn\"\n";

    #[leakwatch::test]
    #[ignore = "run by the tests below, in a child process"]
    async fn drops_a_bb8_pool() {
        let pool = bb8::Pool::builder().build(Nothing).await.unwrap();
        drop(pool.get().await.unwrap());
        drop(pool);
    }

    /// A client kept for the whole suite, as a `static` shared by tests.
    static CLIENT: std::sync::OnceLock<
        hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            http_body_util::Empty<hyper::body::Bytes>,
        >,
    > = std::sync::OnceLock::new();

    #[leakwatch::test]
    #[ignore = "run by the tests below, in a child process (LEAKWATCH=stacks)"]
    async fn keeps_a_pooled_hyper_client() {
        use hyper_util::client::legacy::Client;
        use hyper_util::rt::TokioExecutor;

        // The parent's server, outside this test's scope.
        let addr = std::env::var("HYPER_SERVER").unwrap();
        let client = CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build_http());
        let uri = format!("http://{addr}/").parse().unwrap();
        let response = client.get(uri).await.unwrap();
        assert!(response.status().is_success());
    }

    /// Runs `test` without a file, then with `recipe`: it fails, then
    /// passes, the report naming what applied.
    fn recipe_turns_a_failure_into_a_pass(test: &str, recipe: &str, rules: &[&str]) {
        static SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let server = SERVER.get_or_init(|| tests_support::server::hyper::start().to_string());
        let env = [("HYPER_SERVER", server.as_str()), ("LEAKWATCH", "stacks")];
        let bare = run_in(&package(&format!("{test}-bare"), None), test, &env);
        assert!(
            !bare.passed,
            "`{test}` passed without the recipe:\n{}",
            bare.output
        );
        let run = run_in(
            &package(&format!("{test}-recipe"), Some(recipe)),
            test,
            &env,
        );
        assert!(
            run.passed,
            "`{test}` failed with the recipe:\n{}",
            run.output
        );
        // On a stable build the tasks are only counted: the warning names
        // the setting that let them pass. With the hooks, the crate's rule
        // names them. The rules that applied share one trace line.
        let trace = run
            .output
            .lines()
            .find(|line| line.contains(" ignored by .config/leakwatch.toml: "))
            .unwrap_or_default();
        for rule in rules
            .iter()
            .filter(|rule| cfg!(tokio_unstable) || rule.starts_with("fn:"))
        {
            let listed = trace
                .split_once(".toml: ")
                .is_some_and(|(_, rules)| rules.split(", ").any(|r| r == *rule));
            assert!(
                listed,
                "`{test}`: `{rule}` is not in the trace:\n{}",
                run.output
            );
        }
        if !cfg!(tokio_unstable) {
            let warned = "by .config/leakwatch.toml: detect.counted-tasks = \"warn\"";
            assert!(
                run.output.contains(warned),
                "`{test}`: no `{warned}` in:\n{}",
                run.output
            );
        }
    }

    #[test]
    fn the_bb8_recipe_passes_a_test_that_drops_its_pool() {
        recipe_turns_a_failure_into_a_pass("recipes::drops_a_bb8_pool", BB8, &["crate:bb8"]);
    }

    #[test]
    fn the_hyper_util_recipe_passes_a_test_that_keeps_its_client() {
        recipe_turns_a_failure_into_a_pass(
            "recipes::keeps_a_pooled_hyper_client",
            HYPER_UTIL,
            &["crate:hyper-util", "fn:hyper_util::client::legacy::connect"],
        );
    }
}
