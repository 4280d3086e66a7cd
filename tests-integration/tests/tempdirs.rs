//! Directories created, listed and removed in parallel (`tempfile`,
//! `read_dir`, `remove_dir_all`: `openat`, `fdopendir`, `getdents`,
//! `closedir` under std) beside tests that each leak one descriptor, 50
//! runs of one child process: the directory tests always pass, and each
//! leaky test reports exactly its own descriptor, every run.
//!
//! The tests run by the driver are `#[ignore]`d (half fail on purpose).

#![cfg(all(leakwatch_hooks, debug_assertions))]

mod support;

use std::fs::File;
use std::os::fd::IntoRawFd;
use std::time::Instant;

const THIS_FILE: &str = file!();
const SOURCE: &str = include_str!("tempdirs.rs");

/// Tests of each half.
const HALF: usize = 8;
/// Runs of the child process.
const RUNS: usize = 50;

fn dir_case(n: usize) {
    let dir = tempfile::Builder::new()
        .prefix("leakwatch-tempdirs-")
        .tempdir()
        .unwrap()
        .keep();
    for sub in 0..3 {
        let sub = dir.join(format!("sub-{sub}"));
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join(format!("{n}.txt")), b"x").unwrap();
    }
    let mut listed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, ["sub-0", "sub-1", "sub-2"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!dir.exists());
}

fn leak_case() {
    let file = File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap(); // open
    println!("leaking (fd {})", file.into_raw_fd());
}

macro_rules! tests {
    ($($dir:ident, $leak:ident = $n:literal),* $(,)?) => {$(
        #[leakwatch::test]
        #[ignore = "one of a group run together by a driver test in a child process"]
        fn $dir() { dir_case($n) }
        #[leakwatch::test(grace = "20ms")]
        #[ignore = "fails on purpose: run by a driver test in a child process"]
        fn $leak() { leak_case() }
    )*};
}

tests!(
    tmp_dirs_0,
    tmp_leak_0 = 0,
    tmp_dirs_1,
    tmp_leak_1 = 1,
    tmp_dirs_2,
    tmp_leak_2 = 2,
    tmp_dirs_3,
    tmp_leak_3 = 3,
    tmp_dirs_4,
    tmp_leak_4 = 4,
    tmp_dirs_5,
    tmp_leak_5 = 5,
    tmp_dirs_6,
    tmp_leak_6 = 6,
    tmp_dirs_7,
    tmp_leak_7 = 7,
);

#[test]
fn parallel_temp_dirs_beside_leaky_tests_50_runs() {
    let line = support::line_of(SOURCE, "// open");
    let site = format!("LEAK   1 fd still open, opened at {THIS_FILE}:{line}:");
    let names = |kind: &str| -> Vec<String> {
        let mut names: Vec<String> = (0..HALF).map(|n| format!("tmp_{kind}_{n}")).collect();
        names.sort_unstable();
        names
    };
    let started = Instant::now();
    for round in 0..RUNS {
        let run = support::run(&["--ignored", "--test-threads=16", "tmp_"], 2 * HALF);
        let mut passed = run.passed_tests();
        let mut failed = run.failed_tests();
        passed.sort_unstable();
        failed.sort_unstable();
        assert_eq!(passed, names("dirs"), "run {round}:\n{}", run.output);
        assert_eq!(failed, names("leak"), "run {round}:\n{}", run.output);
        let sections = run.sections();
        for name in names("leak") {
            let section = &sections[&name];
            let sites = support::sites(section);
            assert_eq!(sites.len(), 1, "run {round}, `{name}`:\n{section}");
            assert!(
                sites[0].1.starts_with(&site),
                "run {round}, `{name}`: expected {site}\n{section}"
            );
            let fd = section
                .lines()
                .find_map(|l| l.strip_prefix("leaking "))
                .unwrap_or_else(|| {
                    panic!("run {round}: `{name}` printed no descriptor:\n{section}")
                });
            assert!(
                section
                    .lines()
                    .any(|l| l.starts_with("LEAK     file ") && l.ends_with(fd)),
                "run {round}, `{name}`: its own {fd} is not in its report:\n{section}"
            );
        }
    }
    println!("{RUNS} runs in {:?}", started.elapsed());
}
