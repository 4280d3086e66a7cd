//! `leakwatch::fs::File` against `std::fs::File`: open + close.
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
    let dir = std::env::temp_dir().join(format!("leakwatch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data.csv");
    std::fs::write(&path, b"id,name\n").unwrap();

    let build = if leakwatch::COMPILED_IN { "in" } else { "out" };
    let mut group = c.benchmark_group(format!("file/{build}"));
    leakwatch::set_level(Level::Sites);
    group.bench_function("std::fs::File open+close", |b| {
        b.iter(|| drop(black_box(std::fs::File::open(black_box(&path)).unwrap())))
    });
    group.bench_function("leakwatch::fs::File open+close (sites)", |b| {
        b.iter(|| {
            drop(black_box(
                leakwatch::fs::File::open(black_box(&path)).unwrap(),
            ))
        })
    });
    // On this shared VM two benches of the same code differ by up to 10%,
    // more than the 3% budget, so the overhead is also measured on its own:
    // a tracked File is std's open plus exactly this tag, with the path as
    // its detail.
    group.bench_function("what tracking adds: tag with the path as detail", |b| {
        b.iter(|| {
            drop(black_box(leakwatch::Tag::with_detail(
                "file",
                black_box(&path).display(),
            )))
        })
    });
    group.finish();
    std::fs::remove_dir_all(&dir).unwrap();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = open_close
}
criterion_main!(benches);
