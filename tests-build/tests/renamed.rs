//! `crate = ".."`: leakwatch renamed in `Cargo.toml` (here `lw`), with no
//! crate named `leakwatch` in sight.

#[lw::test(crate = "lw")]
fn a_sync_test_of_a_renamed_leakwatch_runs() {
    drop(lw::Tracked::new(1, "conn"));
}

#[lw::test(crate = "lw", flavor = "multi_thread", worker_threads = 2)]
async fn an_async_test_of_a_renamed_leakwatch_runs() {
    lw::tokio::spawn(async {}).await.unwrap();
}

#[lw::test(crate = "lw", grace = "30ms")]
#[ignore = "fails on purpose: run by `the_renamed_crate_checks_and_fails_a_leak`"]
fn leaks_a_connection() {
    std::mem::forget(lw::Tracked::new(1, "conn"));
}

#[test]
fn the_renamed_crate_checks_and_fails_a_leak() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "leaks_a_connection", "--nocapture"])
        .env_remove("LEAKWATCH")
        .env_remove("LEAKWATCH_GRACE")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("\nrunning 1 test\n"), "{text}");
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("1 conn still open, opened at tests-build/tests/renamed.rs:"),
        "{text}"
    );
}
