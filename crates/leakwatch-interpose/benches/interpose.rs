//! Interposition on against off: a plain `std::fs::File` open+close and a
//! `std::thread::spawn`+join (`pthread_create`+join), inside a scope, with
//! recording switched on and off in alternating pairs. Targets: at most 5%
//! each.
//!
//! `cargo bench -p leakwatch-interpose --bench interpose --features production`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use leakwatch_core::Scope;
use leakwatch_interpose::{Stacks, Support, set_recording, set_stacks, support};

fn interpose(c: &mut Criterion) {
    assert_eq!(
        support(),
        Support::Active,
        "build with --features production"
    );
    let dir = tests_support::temp::temp_dir("interpose-bench");
    let path = dir.join("data.csv");
    std::fs::write(&path, b"id,name\n").unwrap();
    let scope = Scope::new("bench");
    let _in_scope = scope.enter();

    let open_close = || drop(black_box(std::fs::File::open(black_box(&path)).unwrap()));
    let spawn_join = || {
        std::thread::spawn(|| black_box(1))
            .join()
            .map(drop)
            .unwrap()
    };

    for (stacks, label) in [(Stacks::Never, "no stacks"), (Stacks::Always, "stacks")] {
        set_stacks(stacks);
        let mut group = c.benchmark_group(format!("interpose/file, {label}"));
        tests_support::bench::compare(
            &mut group,
            &format!("File open+close, {label}"),
            "off",
            || {
                set_recording(false);
                open_close();
            },
            "on",
            || {
                set_recording(true);
                open_close();
            },
        );
        group.finish();
        let mut group = c.benchmark_group(format!("interpose/thread, {label}"));
        tests_support::bench::compare(
            &mut group,
            &format!("thread spawn+join, {label}"),
            "off",
            || {
                set_recording(false);
                spawn_join();
            },
            "on",
            || {
                set_recording(true);
                spawn_join();
            },
        );
        group.finish();
    }
    set_recording(true);
    set_stacks(Stacks::AtLevel);
    assert!(leakwatch_interpose::open_in(&[scope.id()]).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

criterion_group! {
    name = benches;
    config = tests_support::bench::short(Duration::from_secs(3)).sample_size(20);
    targets = interpose
}
criterion_main!(benches);
