//! What the preload costs a process that is not a test binary of the run
//! (cargo, rustc, a `sleep` or `git` a test starts): `/bin/true` started
//! with the library preloaded and the run's environment set, alternating
//! with `/bin/true` started plainly.
//!
//! `cargo bench -p leakwatch-preload --bench process_start`

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

/// The library cargo built beside this bench (`deps/`).
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.with_file_name("libleakwatch_preload.so");
    assert!(lib.is_file(), "no {}", lib.display());
    lib
}

fn process_start(c: &mut Criterion) {
    let lib = library();
    let out = tests_support::temp::temp_path("preload-bench");
    let run = |preloaded: bool| {
        let mut command = Command::new("/bin/true");
        if preloaded {
            command
                .env("LD_PRELOAD", &lib)
                .env("LEAKWATCH_PRELOAD_OUT", &out)
                .env("LEAKWATCH_PRELOAD_TARGET", "/nonexistent/target");
        }
        assert!(command.status().unwrap().success());
    };
    let mut group = c.benchmark_group("process start");
    tests_support::bench::compare(
        &mut group,
        "/bin/true started",
        "plain",
        || run(false),
        "preloaded",
        || run(true),
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = tests_support::bench::short(Duration::from_secs(5)).sample_size(10);
    targets = process_start
}
criterion_main!(benches);
