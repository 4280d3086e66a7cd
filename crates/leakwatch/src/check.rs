//! [`check`]: run code in a fresh scope and fail if it leaked.

use std::panic::Location;

use crate::Scope;
use crate::checking::Checking;
use crate::detect::Detect;

/// Runs `f` in a fresh [`Scope`] and panics with the report if anything it
/// opened (or any thread it started through leakwatch opened, or any such
/// thread itself) is still open when it returns. Items still open are given
/// [`grace()`](crate::grace) (`LEAKWATCH_GRACE`, default 300 ms) to close;
/// a clean check returns at once. On glibc Linux that includes the
/// descriptors, threads and child processes that code outside leakwatch's
/// wrappers (std, tokio, a database driver) created in the scope
/// (`LEAKWATCH_DETECT` switches kinds off).
///
/// With the counting allocator installed ([`alloc::Counting`](crate::alloc::Counting)
/// as the `#[global_allocator]`), a failing report ends with one
/// line of information: the heap blocks and bytes allocated in the scope
/// and still live. It is not a leak by itself, and not a reason to fail;
/// `#[leakwatch::test(hunt = "3:5")]` judges heap by repetition.
///
/// Use it inside any test, or around a block of a program under test. The
/// value `f` returns is still alive at the check: return plain data, not the
/// resources themselves.
///
/// # Panics
///
/// With the leak report as the message, when something leaked; with the
/// error, when `LEAKWATCH` has a value that is not valid. The panic is
/// located at the caller's line, and no backtrace of leakwatch's own frames
/// follows it when `RUST_BACKTRACE` is set: the report names what matters.
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
    let detect = match Detect::from_env() {
        Ok(detect) => detect,
        Err(err) => fail(format!("leakwatch: error: {err}"), site),
    };
    let name = "leakwatch::check";
    let tasks_off = crate::suite::task_rules(crate::suite::suite());
    let scope = Scope::new(format!("check at {site}")).also_ignoring(tasks_off);
    let checking = Checking::begin(name, scope, detect);
    let out = checking.scope().run(f);
    let leaks = checking.check_within(crate::grace());
    if let Some(message) = checking.finish(None, leaks) {
        fail(message, site);
    }
    out
}

/// Fails the running test (or thread) at `site`, the user's line, with
/// `message`: printed as a panic at `site` is, and carried as the payload of
/// the unwind, so `#[should_panic(expected = ..)]` and `catch_unwind` see it.
///
/// It unwinds without a panic, so the panic hook does not run: with
/// `RUST_BACKTRACE=1` no backtrace of leakwatch's frames follows the report,
/// which already names the lines that matter.
pub(crate) fn fail(message: String, site: &Location<'_>) -> ! {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("<unnamed>");
    eprintln!("\nthread '{name}' panicked at {site}:\n{message}");
    std::panic::resume_unwind(Box::new(message))
}
