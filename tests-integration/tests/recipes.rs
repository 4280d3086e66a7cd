//! The README's recipes (its `### Recipes`) for libraries whose background
//! work outlives the test that started it, checked against the real crates.
//!
//! Each child test keeps a library's handle for the whole suite, as suites
//! do. A driver runs it twice, each time alone in a process whose
//! `CARGO_MANIFEST_DIR` is a scratch package folder (the settings file is
//! read once per process): with no `.config/leakwatch.toml` it fails with
//! what lingers, and with the recipe as that file it passes, its output
//! naming the rules that applied. Each recipe is checked to be the README's
//! text, so what a user copies is what is tested. The clean twins show what
//! needs no recipe.

#![cfg(all(leakwatch_hooks, debug_assertions))]

mod support;

use std::io::Write;
use std::sync::{LazyLock, OnceLock};

use sqlx::SqlitePool;
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};

const README: &str = include_str!("../../README.md");

/// The README's recipe for sqlx's pool kept for the suite.
const SQLX: &str =
    "ignore = [\"crate:sqlx-core\", \"crate:sqlx-sqlite\"]\ndetect.counted-tasks = \"warn\"\n";
/// The README's recipe for tracing-appender's worker kept for the program.
const TRACING_APPENDER: &str = "ignore = [\"crate:tracing-appender\"]\n";

// ---- the children ----

/// A pool connected by the first test that asks for it, in tokio's async
/// `OnceCell`, as async suites keep one.
static CONNECTED_POOL: tokio::sync::OnceCell<SqlitePool> = tokio::sync::OnceCell::const_new();

#[leakwatch::test]
#[ignore = "run by the tests below, in a child process"]
async fn keeps_an_sqlx_pool_connected_in_a_tokio_once_cell() {
    let pool = CONNECTED_POOL
        .get_or_init(|| async { SqlitePool::connect("sqlite::memory:").await.unwrap() })
        .await;
    let one: i64 = sqlx::query_scalar("SELECT 1")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
}

/// A pool made in a std static's initializer, which connects only when a
/// test first uses it.
static LAZY_POOL: LazyLock<SqlitePool> =
    LazyLock::new(|| SqlitePool::connect_lazy("sqlite::memory:").unwrap());

#[leakwatch::test]
#[ignore = "run by the tests below, in a child process"]
async fn keeps_an_sqlx_pool_connected_lazily_in_a_std_static() {
    let one: i64 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&*LAZY_POOL)
        .await
        .unwrap();
    assert_eq!(one, 1);
}

#[leakwatch::test]
#[ignore = "run by the tests below, in a child process"]
fn forgets_a_tracing_appender_guard() {
    let (mut writer, guard) = tracing_appender::non_blocking(std::io::sink());
    // Kept for the whole program, as a `main` that never returns keeps it.
    std::mem::forget(guard);
    writeln!(writer, "a line").unwrap();
}

// ---- the clean twins, run in this process with no settings file ----

/// Connects a pool, uses it and closes it, as a test that needs no pool
/// beyond its own end does.
async fn use_and_close_a_pool() {
    let pool = SqlitePool::connect("sqlite::memory:").await.unwrap();
    let one: i64 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
    pool.close().await;
}

// The closed connection's worker thread ends as the pool closes; one
// that ends while the check describes it is no leak.
#[leakwatch::test]
async fn an_sqlx_pool_closed_by_its_test_needs_no_recipe() {
    use_and_close_a_pool().await;
}

#[leakwatch::test]
fn a_tracing_appender_guard_in_a_std_static_needs_no_recipe() {
    // The worker thread starts inside the `OnceLock`'s initializer, so it
    // is the process's, not this test's.
    static LOG: OnceLock<(NonBlocking, WorkerGuard)> = OnceLock::new();
    let (writer, _) = LOG.get_or_init(|| tracing_appender::non_blocking(std::io::sink()));
    writeln!(writer.clone(), "a line").unwrap();
}

#[leakwatch::test]
fn a_tracing_appender_guard_dropped_by_its_test_needs_no_recipe() {
    let (mut writer, guard) = tracing_appender::non_blocking(std::io::sink());
    writeln!(writer, "a line").unwrap();
    drop(guard);
}

// ---- the drivers ----

/// Runs the child test `name` alone, uncaptured (a passing test's trace
/// is printed, not captured), in the package folder `dir`.
fn run_in(dir: &support::settings::Package, name: &str) -> support::Run {
    support::run_with_env(
        &[
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ],
        &[("CARGO_MANIFEST_DIR", dir.dir())],
        1,
    )
}

/// Runs the child test `name` with the settings file `text`, or none for
/// `None`.
fn run_with_file(name: &str, text: Option<&str>) -> support::Run {
    run_in(&support::settings::package(text), name)
}

/// The rules that a run's trace line (`N findings ignored by
/// PATH/.config/leakwatch.toml: RULE, RULE`, the path from the workspace
/// root) names, in its order.
fn traced_rules(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|line| line.contains(" ignored by "))
        .find_map(|line| line.split_once(".config/leakwatch.toml: "))
        .map(|(_, rules)| rules.split(", ").collect())
        .unwrap_or_default()
}

/// Checks that `recipe` is a TOML block of the README, then runs the child
/// test `name` without a settings file and with `recipe`: it fails, then
/// passes, the trace naming exactly `rules`. Returns the failing output.
#[track_caller]
fn recipe_turns_a_failure_into_a_pass(name: &str, recipe: &str, rules: &[&str]) -> String {
    assert!(
        README.contains(&format!("```toml\n{recipe}```\n")),
        "the README has no TOML block holding:\n{recipe}"
    );
    let bare = run_with_file(name, None);
    assert!(
        !bare.passed,
        "`{name}` passed without the recipe:\n{}",
        bare.output
    );
    let with = run_with_file(name, Some(recipe));
    assert!(
        with.passed,
        "`{name}` failed with the recipe:\n{}",
        with.output
    );
    assert_eq!(traced_rules(&with.output), rules, "{}", with.output);
    if recipe.contains("counted-tasks") && !support::TOKIO_UNSTABLE {
        // A stable build only counts tasks: the warning says which
        // setting let them through.
        let warned = ".config/leakwatch.toml: detect.counted-tasks = \"warn\"";
        assert!(
            with.output.contains(warned),
            "`{name}`: no `{warned}` in:\n{}",
            with.output
        );
    }
    bare.output
}

/// Checks that `report` lists exactly one thread, spawned in the crate
/// `krate` from this file and named `name` as Linux keeps it, and no
/// other item but, with `--cfg tokio_unstable`, tasks spawned in
/// `task_crate`.
#[track_caller]
fn only_a_thread(report: &str, krate: &str, name: &str, task_crate: Option<&str>) {
    let sites = support::sites(report);
    let threads: Vec<_> = sites.iter().filter(|(kind, _)| *kind == "thread").collect();
    assert_eq!(threads.len(), 1, "{report}");
    assert!(
        threads[0]
            .1
            .starts_with(&format!("LEAK   1 thread still open, spawned at {krate}-")),
        "{report}"
    );
    assert!(
        report.contains(&format!("LEAK     '{name}' (tid ")),
        "{report}"
    );
    for (kind, site) in &sites {
        let a_crates_task = *kind == "task"
            && support::TOKIO_UNSTABLE
            && task_crate.is_some_and(|c| site.contains(&format!(" spawned at {c}-")));
        assert!(
            *kind == "thread" || a_crates_task,
            "another item: {site}\n{report}"
        );
    }
}

/// What sqlx's pool leaves running, kept for the suite: the connection's
/// worker thread (spawned in sqlx-sqlite, named `sqlx-sqlite-worker-0` and
/// cut to 15 bytes by Linux) and the pool's maintenance task (spawned in
/// sqlx-core, seen by tokio's hooks, only counted on a stable build).
#[track_caller]
fn sqlx_recipe(name: &str) {
    let rules: &[&str] = if support::TOKIO_UNSTABLE {
        &["crate:sqlx-core", "crate:sqlx-sqlite"]
    } else {
        &["crate:sqlx-sqlite"]
    };
    let report = recipe_turns_a_failure_into_a_pass(name, SQLX, rules);
    only_a_thread(&report, "sqlx-sqlite", "sqlx-sqlite-wor", Some("sqlx-core"));
}

#[test]
fn the_sqlx_recipe_passes_a_pool_connected_in_a_tokio_once_cell() {
    sqlx_recipe("keeps_an_sqlx_pool_connected_in_a_tokio_once_cell");
}

#[test]
fn the_sqlx_recipe_passes_a_pool_connected_lazily_in_a_std_static() {
    sqlx_recipe("keeps_an_sqlx_pool_connected_lazily_in_a_std_static");
}

#[test]
fn the_tracing_appender_recipe_passes_a_guard_kept_for_the_program() {
    let name = "forgets_a_tracing_appender_guard";
    let report =
        recipe_turns_a_failure_into_a_pass(name, TRACING_APPENDER, &["crate:tracing-appender"]);
    only_a_thread(&report, "tracing-appender", "tracing-appende", None);
}

/// The worker's name, `tracing-appender`, is 16 bytes: Linux keeps 15 of
/// a thread's name and reports show `'tracing-appende'`, yet a rule on the
/// whole name leaves it out.
#[test]
fn a_tracing_appender_worker_is_left_out_by_its_whole_name() {
    let name = "forgets_a_tracing_appender_guard";
    let run = run_with_file(name, Some("ignore = [\"name:tracing-appender\"]\n"));
    assert!(run.passed, "`{name}` failed:\n{}", run.output);
    assert_eq!(
        traced_rules(&run.output),
        ["name:tracing-appender"],
        "{}",
        run.output
    );
}
