//! Criterion's settings for the benches, and the alternating comparison.
//!
//! Short runs, since the machines they run on are shared and a bench is
//! re-run rather than run long.
//!
//! [`compare`]: on a shared machine two runs of identical code can differ
//! by more than the budgets measured, so the base and the measured code run
//! in alternating pairs (in flipping order) and the difference is taken per
//! pair, so that drift cancels out.

use std::time::{Duration, Instant};

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;

/// Criterion with a one-second warm-up and `measure` of measurement: the
/// `config` of a `criterion_group!`.
///
/// ```
/// use std::time::Duration;
///
/// let criterion = tests_support::bench::short(Duration::from_secs(3)).sample_size(20);
/// # drop(criterion);
/// ```
pub fn short(measure: Duration) -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measure)
}

/// Pairs kept for the medians.
const SAMPLE: usize = 1 << 20;

/// Registers `base`, `test`, and `test` minus `base` alternating, and
/// prints the per-call figures and the percentage: means over every pair,
/// and medians over a sample of pairs.
///
/// ```no_run
/// use std::time::Duration;
///
/// let mut criterion = tests_support::bench::short(Duration::from_secs(1));
/// let mut group = criterion.benchmark_group("vec");
/// tests_support::bench::compare(
///     &mut group,
///     "a vector",
///     "empty",
///     || drop(std::hint::black_box(Vec::<u8>::new())),
///     "with room",
///     || drop(std::hint::black_box(Vec::<u8>::with_capacity(64))),
/// );
/// group.finish();
/// ```
pub fn compare(
    group: &mut BenchmarkGroup<'_, WallTime>,
    what: &str,
    base_name: &str,
    mut base: impl FnMut(),
    test_name: &str,
    mut test: impl FnMut(),
) {
    group.bench_function(base_name, |b| b.iter(&mut base));
    group.bench_function(test_name, |b| b.iter(&mut test));
    let (mut base_total, mut test_total, mut pairs) = (0u128, 0u128, 0u128);
    // A sample of pairs for medians, which preemption on a loaded machine
    // moves less than means.
    let mut sample: Vec<(i128, i128)> = Vec::with_capacity(SAMPLE);
    group.bench_function(format!("{test_name} minus {base_name}, alternating"), |b| {
        b.iter_custom(|iters| {
            const PAIRS: u32 = 256;
            let mut diff: i128 = 0;
            for _ in 0..iters {
                for pair in 0..PAIRS {
                    let (b_ns, t_ns) = if pair % 2 == 0 {
                        let b = time(&mut base);
                        (b, time(&mut test))
                    } else {
                        let t = time(&mut test);
                        (time(&mut base), t)
                    };
                    if sample.len() < SAMPLE {
                        sample.push((b_ns, t_ns));
                    }
                    base_total += b_ns as u128;
                    test_total += t_ns as u128;
                    pairs += 1;
                    diff += t_ns - b_ns;
                }
            }
            Duration::from_nanos((diff / i128::from(PAIRS)).max(1) as u64)
        })
    });
    if pairs > 0 {
        let b = base_total as f64 / pairs as f64;
        let t = test_total as f64 / pairs as f64;
        eprintln!(
            "{what}: means: {base_name} {b:.1} ns, {test_name} {t:.1} ns, {:+.1} ns ({:+.2}%) over {pairs} alternating pairs",
            t - b,
            (t - b) / b * 100.0
        );
        let median = |mut v: Vec<i128>| {
            v.sort_unstable();
            v[v.len() / 2] as f64
        };
        let mb = median(sample.iter().map(|p| p.0).collect());
        let mt = median(sample.iter().map(|p| p.1).collect());
        let md = median(sample.iter().map(|p| p.1 - p.0).collect());
        eprintln!(
            "{what}: medians: {base_name} {mb:.0} ns, {test_name} {mt:.0} ns, difference per pair {md:+.0} ns ({:+.2}%) over {} pairs",
            md / mb * 100.0,
            sample.len()
        );
    }
}

fn time(f: &mut impl FnMut()) -> i128 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as i128
}
