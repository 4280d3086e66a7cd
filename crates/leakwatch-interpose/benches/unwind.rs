//! Stacks at creation, 35 frames below the opening code: a `File`
//! open+close in a scope with stacks always on against the same with
//! recording off (plain libc), in alternating pairs (target: at most 1 µs
//! more), and the capture alone with each candidate unwinder: the crate's
//! own (rules derived from `.eh_frame` and kept per return address,
//! framehop for frames of other shapes), libgcc's through
//! `backtrace::trace_unsynchronized` (its fallback), and glibc's
//! `backtrace()` (libgcc's again, through `libgcc_s`).
//!
//! `cargo bench -p leakwatch-interpose --bench unwind --features production`

#[cfg(leakwatch_hooks)]
#[path = "../src/active/unwind/mod.rs"]
#[allow(dead_code)] // its tests' helpers, built here without the tests
mod unwind;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

/// Frames between the benchmark's closure and the opening call.
const DEPTH: usize = 35;
/// As many return addresses as a record keeps.
const FRAMES: usize = 64;

/// Runs `f` `depth` frames further down.
#[inline(never)]
fn down(depth: usize, f: &mut dyn FnMut()) {
    if depth == 0 {
        f();
    } else {
        down(depth - 1, f);
    }
    black_box(depth);
}

#[cfg(leakwatch_hooks)]
fn stacks(c: &mut Criterion) {
    use leakwatch_core::Scope;
    use leakwatch_interpose::{Stacks, Support, set_stacks, support};

    assert_eq!(
        support(),
        Support::Active,
        "build with --features production"
    );

    let mut frames = [0usize; FRAMES];
    let mut group = c.benchmark_group(format!("unwind/capture {DEPTH} deep"));
    let mut n = 0;
    down(DEPTH, &mut || {
        n = unwind::capture(&mut frames).expect("the crate's unwinder walks");
    });
    let mut m = 0;
    down(DEPTH, &mut || {
        // SAFETY: libgcc's unwinder is thread-safe on glibc Linux.
        unsafe {
            backtrace::trace_unsynchronized(|_| {
                m += 1;
                m < FRAMES
            })
        };
    });
    eprintln!("capture {DEPTH} deep: ours {n} frames, libgcc {m} frames");
    group.bench_function("rules table", |b| {
        b.iter(|| {
            down(DEPTH, &mut || {
                black_box(unwind::capture(&mut frames)).map(drop).unwrap()
            })
        })
    });
    group.bench_function("libgcc via backtrace", |b| {
        b.iter(|| {
            down(DEPTH, &mut || {
                let mut n = 0;
                // SAFETY: as above.
                unsafe {
                    backtrace::trace_unsynchronized(|frame| {
                        frames[n] = frame.ip() as usize;
                        n += 1;
                        n < FRAMES
                    })
                };
                black_box(n);
            })
        })
    });
    group.bench_function("glibc backtrace()", |b| {
        b.iter(|| {
            down(DEPTH, &mut || {
                // SAFETY: `frames` has room for `FRAMES` pointers.
                let n = unsafe { libc::backtrace(frames.as_mut_ptr().cast(), FRAMES as i32) };
                black_box(n);
            })
        })
    });
    group.finish();

    let dir = tests_support::temp::temp_dir("unwind-bench");
    let path = dir.join("data.csv");
    std::fs::write(&path, b"id,name\n").unwrap();
    let scope = Scope::new("bench");
    let _in_scope = scope.enter();
    let open_close = || drop(black_box(std::fs::File::open(black_box(&path)).unwrap()));
    let mut group = c.benchmark_group(format!("unwind/file {DEPTH} deep"));
    // Against plain libc (nothing recorded): what a test build pays for a
    // descriptor with the stack that names the user's line.
    tests_support::bench::compare(
        &mut group,
        &format!("File open+close {DEPTH} deep"),
        "plain",
        || {
            leakwatch_interpose::set_recording(false);
            down(DEPTH, &mut || open_close());
        },
        "recorded with its stack",
        || {
            leakwatch_interpose::set_recording(true);
            set_stacks(Stacks::Always);
            down(DEPTH, &mut || open_close());
        },
    );
    leakwatch_interpose::set_recording(true);
    group.finish();
    set_stacks(Stacks::AtLevel);
    assert!(leakwatch_interpose::open_in(&[scope.id()]).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(not(leakwatch_hooks))]
fn stacks(_: &mut Criterion) {}

criterion_group! {
    name = benches;
    config = tests_support::bench::short(Duration::from_secs(3)).sample_size(20);
    targets = stacks
}
criterion_main!(benches);
