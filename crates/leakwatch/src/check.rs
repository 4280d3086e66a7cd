//! [`check`]: run code in a fresh scope and fail if it leaked.

use std::panic::Location;
use std::time::Duration;

use crate::{Ignore, Scope};

/// Runs `f` in a fresh [`Scope`] and panics with the report if anything it
/// opened (or any thread it started through leakwatch opened, or any such
/// thread itself) is still open when it returns. Items still open are given
/// [`grace()`](crate::grace) (`LEAKWATCH_GRACE`, default 300 ms) to close;
/// a clean check returns at once.
///
/// Use it inside any test, or around a block of a program under test. The
/// value `f` returns is still alive at the check: return plain data, not the
/// resources themselves.
///
/// # Panics
///
/// With the leak report as the message, when something leaked; with the
/// error, when `LEAKWATCH` has a value that is not valid.
///
/// ```
/// use std::io::Read;
///
/// let text = leakwatch::check(|| {
///     let mut file = leakwatch::fs::File::open("Cargo.toml").unwrap();
///     let mut text = String::new();
///     file.read_to_string(&mut text).unwrap();
///     text // the file is closed here, before the check
/// });
/// assert!(text.contains("[package]"));
/// ```
#[track_caller]
pub fn check<R>(f: impl FnOnce() -> R) -> R {
    let site = Location::caller();
    run_checked(format!("check at {site}"), None, Vec::new(), f)
}

/// Runs `f` in a new scope named `name`, then checks it, waiting up to
/// `grace` (`LEAKWATCH_GRACE` when `None`) for items that are closing; panics
/// with the report on a leak.
pub(crate) fn run_checked<R>(
    name: String,
    grace: Option<Duration>,
    ignore: Vec<Ignore>,
    f: impl FnOnce() -> R,
) -> R {
    let scope = Scope::new(name).ignoring(ignore);
    let out = scope.run(f);
    if let Err(report) = scope.check_within(grace.unwrap_or_else(crate::grace)) {
        panic!("{report}");
    }
    out
}
