//! A scrape of the side port's `/debug/leaks/json` and `/debug/leaks/pprof`
//! with 100,000 tracked items and 10,000 interposed descriptors (5,000
//! pipes that no leakwatch wrapper opened) live: the request, the snapshot
//! of both sources, the export and the body read back by a client.
//!
//! ```text
//! cargo bench -p leakwatch-http --bench scrape --features production \
//!     [-- --warm-up-time 1 --measurement-time 3]
//! ```
//!
//! Interposition is on in this build (`production` turns on leakwatch's
//! hooks for the examples and benches); the bench refuses to run where it
//! is not, since the descriptors would then be missing from the view.

use std::hint::black_box;
use std::io::{PipeReader, PipeWriter};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use leakwatch_core::{Level, Tag};
use leakwatch_export::Capture;

const ITEMS: usize = 100_000;
const PIPES: usize = 5_000;

/// `ITEMS` tags over five sites and four kinds, each with its own detail,
/// as the export bench opens them.
fn tags() -> Vec<Tag> {
    tests_support::tags::many(ITEMS)
}

/// `PIPES` pipes, two descriptors each, opened by plain `std`.
fn pipes() -> Vec<(PipeReader, PipeWriter)> {
    (0..PIPES)
        .map(|i| std::io::pipe().unwrap_or_else(|e| panic!("pipe {i} of {PIPES}: {e}")))
        .collect()
}

fn get(agent: &ureq::Agent, url: &str) -> usize {
    agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .len()
}

fn scrape(c: &mut Criterion) {
    if !leakwatch_core::COMPILED_IN {
        panic!("tracking is compiled out of this build: run with `--features production`");
    }
    assert_eq!(
        leakwatch::integration::support(),
        leakwatch::integration::Support::Active,
        "libc is not interposed in this build, so the descriptors would not be seen"
    );
    leakwatch_core::set_level(Level::Sites);
    let tags = tags();
    let mut group = c.benchmark_group("scrape_100k_items_10k_fds");
    group.sample_size(10);
    // The same view before the pipes open: what the descriptors add.
    group.bench_function("capture_before_the_pipes", |b| {
        b.iter(|| black_box(Capture::now()))
    });
    let pipes = pipes();
    let capture = Capture::now();
    let fds = capture
        .entries()
        .iter()
        .filter(|e| e.kind() == "fd")
        .count();
    assert!(
        capture.entries().len() >= ITEMS + 2 * PIPES && fds >= 2 * PIPES,
        "{} items, {fds} descriptors in the view",
        capture.entries().len()
    );

    let server = leakwatch_http::Endpoint::new("bench")
        .serve("127.0.0.1:0")
        .expect("a free port");
    let base = format!("http://{}/debug/leaks", server.local_addr());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    // What the routes build on: both sources' live view, exported.
    group.bench_function("capture_alone", |b| b.iter(|| black_box(Capture::now())));
    group.bench_function("json", |b| {
        b.iter(|| black_box(get(&agent, &format!("{base}/json"))))
    });
    group.bench_function("pprof", |b| {
        b.iter(|| black_box(get(&agent, &format!("{base}/pprof"))))
    });
    group.finish();
    drop((tags, pipes));
}

criterion_group!(benches, scrape);
criterion_main!(benches);
