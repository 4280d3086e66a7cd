//! `leakwatch::fs::File` against `std::fs::File`: open + close, in a scope.
//!
//! ```text
//! cargo bench -p leakwatch --bench file --features production   # tracking compiled in
//! cargo bench -p leakwatch --bench file                         # compiled out (release)
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use leakwatch::Level;

fn open_close(c: &mut Criterion) {
    let dir = tests_support::temp::temp_dir("bench");
    let path = dir.join("data.csv");
    std::fs::write(&path, b"id,name\n").unwrap();

    let build = if leakwatch::integration::COMPILED_IN {
        "in"
    } else {
        "out"
    };
    let mut group = c.benchmark_group(format!("file/{build}"));
    // In a test's scope, as a test's files are: counted in it.
    let scope = leakwatch::Scope::new("bench");
    let _in_scope = scope.enter();
    leakwatch::set_level(Level::Sites);
    // Std's and tracked opens alternate (in flipping order) and the
    // difference is taken per pair, so the machine's drift cancels out.
    group.sample_size(20);
    tests_support::bench::compare(
        &mut group,
        "File open+close",
        "std::fs::File open+close",
        || std_open(&path),
        "leakwatch::fs::File open+close (sites)",
        || tracked_open(&path),
    );
    // The overhead on its own: a tracked File is std's open plus exactly
    // this tag.
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let file = std::fs::File::open(&path).unwrap();
        group.bench_function("what tracking adds: the file's tag", |b| {
            b.iter(|| {
                drop(black_box(leakwatch::Tag::for_fd(
                    "file",
                    black_box(file.as_fd()),
                )))
            })
        });
    }
    group.finish();
    std::fs::remove_dir_all(&dir).unwrap();
}

fn std_open(path: &std::path::Path) {
    drop(black_box(std::fs::File::open(black_box(path)).unwrap()));
}

fn tracked_open(path: &std::path::Path) {
    drop(black_box(
        leakwatch::fs::File::open(black_box(path)).unwrap(),
    ));
}

criterion_group! {
    name = benches;
    config = tests_support::bench::short(Duration::from_secs(4));
    targets = open_close
}
criterion_main!(benches);
