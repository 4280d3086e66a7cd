//! Criterion's settings for the benches: short runs, since the machines
//! they run on are shared and a bench is re-run rather than run long.

use std::time::Duration;

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
