//! leakwatch finds the resources and work your code opens and never closes:
//! files, sockets, connections, transactions, threads. A test that ends with
//! any of them still open fails with a report naming the line that opened
//! each one.
//!
//! ```
//! use leakwatch::fs::File;
//!
//! #[leakwatch::test]
//! fn reads_config() {
//!     let file = File::open("Cargo.toml").unwrap();
//!     std::mem::forget(file); // fails: "1 file still open, opened at src/lib.rs:.."
//! }
//! ```
//!
//! # Tracking
//!
//! * [`fs::File`] and [`net::TcpStream`], [`net::TcpListener`],
//!   [`net::UdpSocket`] are drop-in std types that record their path or
//!   addresses.
//! * [`Tracked<T>`] tracks any value as an item of a kind you name.
//! * [`Tag`] is the handle to embed in your own resource types; a
//!   [must-close](Tag::must_close) tag reports a transaction dropped without
//!   `commit`.
//!
//! # Checking
//!
//! * `#[leakwatch::test]` (feature `macros`, on by default) runs a test,
//!   sync or `async` (feature `tokio`), in a fresh [`Scope`] and fails it
//!   with a [`Report`] when anything it opened is still open at the end.
//! * [`check`] does the same for a closure.
//! * [`Scope`] is the building block: [`Scope::check`] waits as [`check`]
//!   does and returns the report; [`Scope::check_now`] looks once.
//! * [`Ignore`] rules leave known background work (a metrics flusher, a
//!   pool's reaper) out of a check: `#[leakwatch::test(ignore = "name:reaper")]`
//!   or [`Scope::ignoring`], or for the whole suite in its settings file,
//!   `.config/leakwatch.toml`, which every check reads (with which kinds are
//!   checked and the grace; see [`integration::Settings`]).
//!
//! Scopes follow work into threads started through [`thread::spawn`] and
//! [`thread::Builder`] (which are themselves tracked until they finish), and
//! into tokio tasks spawned through `leakwatch::tokio` (feature `tokio`), and
//! tests running in parallel never see each other's items. A check gives
//! items still open a grace period to close ([`grace`], `LEAKWATCH_GRACE`)
//! and returns at once when there are none.
//!
//! # Cost
//!
//! Tracking is compiled in for debug builds and tests and compiled out of
//! release builds: there a [`Tag`] is zero-sized, [`Tracked<T>`] is the size
//! of `T` and every call is empty. The `production` feature keeps tracking in
//! release builds. At run time, `LEAKWATCH=off|sites|stacks` picks what is
//! recorded (default `sites`); [`level`] reads it and [`set_level`]
//! changes it.
//!
//! # Messages
//!
//! Every message leakwatch shows (reports, configuration errors, the
//! attribute's compile errors) is listed, with an example, in [`messages`].
//!
//! # Integrations
//!
//! What code building on leakwatch needs (a tag opened on another's behalf,
//! items kept by id, scope ids, the parts of a report) is in
//! [`integration`]. A test author does not need it.

// docs.rs marks each item that needs a feature or `tokio_unstable`.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __macro_support;
pub mod alloc;
mod check;
mod checking;
mod detect;
mod exhausted;
pub mod fs;
mod heap;
pub mod hunting;
// The records of `leakwatch-interpose` as items, where it records.
#[cfg_attr(not(target_os = "linux"), path = "interposed_elsewhere.rs")]
mod interposed;
pub mod net;
mod suite;
pub mod thread;
#[cfg(feature = "tokio")]
pub mod tokio;
mod tracked;
mod watch;
#[cfg(feature = "watchdog")]
pub mod watchdog;

pub use check::check;
pub use hunting::hunt;
pub use leakwatch_core::{Ignore, Level, Report, Scope, ScopeGuard, Tag, grace, level, set_level};

/// The facade's frames (its wrappers, its runtime hooks, its test support)
/// sit above the user's in the stacks it captures: stacks leave them out,
/// as core's own. Linked in, so from the first; registered again by
/// [`integration::register_interposed`] where linking did not bring them.
const OWN_FRAMES: &str = "leakwatch::";

#[linkme::distributed_slice(leakwatch_core::OWN_FRAMES)]
static OWN_FRAMES_LINKED: &str = OWN_FRAMES;

pub mod integration {
    //! What integrations need: code that tracks resources on others'
    //! behalf (runtime hooks, pools, frameworks), or that reads reports
    //! item by item rather than printing them.
    //!
    //! A test author never needs this module: [`Tag`](crate::Tag),
    //! [`Tracked`](crate::Tracked) and [`Scope`](crate::Scope) cover
    //! tracking and checking. These are [`leakwatch_core`]'s items, by
    //! topic:
    //!
    //! * **Opening on another's behalf**: [`Tag::with_origin`] records an
    //!   item at an [`Origin`] (site, scope, id) learned after the fact;
    //!   [`Tag::id_setter`] gives a handed-on item its id through an
    //!   [`IdSetter`]; an [`IdTable`] keeps items seen only by an id, such as
    //!   tasks reported by runtime hooks.
    //! * **Scopes by id**: a [`ScopeId`] names a scope to carry into other
    //!   threads or tasks, and [`ScopeId::enter`] makes it current there.
    //! * **Reading reports**: [`Report::groups`](crate::Report::groups) are
    //!   [`Group`]s of items sharing a [`Finding`], a kind and a site;
    //!   [`Snapshot`] is an owned copy of live [`Item`]s; a [`Stack`] holds
    //!   [`Frame`]s. [`Snapshot::all`] is the live view of the process:
    //!   tracked items, and every descriptor (kind `fd`, grouped by one of
    //!   [`FILE_TYPES`]), thread and child process that interposition saw.
    //! * **Settings**: [`COMPILED_IN`] says whether tracking is compiled in;
    //!   [`parse_grace`] reads a grace as `LEAKWATCH_GRACE` does, with
    //!   [`DEFAULT_GRACE`]; [`ConfigError`] names a bad setting; [`Settings`]
    //!   is the suite's settings file (`.config/leakwatch.toml`: its
    //!   [`Switches`], [`CountedTasks`], [`SettingsError`], and [`Ignored`],
    //!   what its rules left out of a check); [`Backoff`]
    //!   waits as checks do; [`support`] says whether descriptors, threads
    //!   and children created outside the wrappers are seen here, or why
    //!   not ([`Support`]).
    //!
    //! [`Tag::with_origin`]: crate::Tag::with_origin
    //! [`Tag::id_setter`]: crate::Tag::id_setter
    //!
    //! ```
    //! use leakwatch::integration::{IdTable, ScopeId};
    //!
    //! // A hook that sees jobs only as numbers keeps them in a table.
    //! let jobs = IdTable::new("job");
    //! let test = leakwatch::Scope::new("test");
    //! jobs.open(7, std::panic::Location::caller(), test.id());
    //! assert_eq!(test.check_now().is_err(), leakwatch::integration::COMPILED_IN);
    //! jobs.close(7);
    //! assert!(test.check_now().is_ok());
    //! # let _ = ScopeId::NONE;
    //! ```

    #[cfg(feature = "json")]
    pub use leakwatch_core::REPORT_JSON_VERSION;
    pub use leakwatch_core::{
        Backoff, COMPILED_IN, ConfigError, CountedTasks, DEFAULT_GRACE, FILE_TYPES, Finding, Frame,
        Group, IdSetter, IdTable, Ignored, Item, Origin, ScopeId, Settings, SettingsError,
        Snapshot, Stack, Switches, parse_grace,
    };
    pub use leakwatch_interpose::{Support, support};

    /// Makes every check see the descriptors, threads and children that
    /// the interposition records, where linking leakwatch into an
    /// executable did not already (it does for every test and program
    /// built with it): for a library loaded into another program, such as
    /// the one `cargo leakwatch test` preloads, whose stacks then leave out
    /// leakwatch's own frames too. Returns whether this call added the
    /// source; `false` where nothing is interposed.
    ///
    /// ```
    /// // In a test binary the source is linked in already.
    /// assert!(!leakwatch::integration::register_interposed());
    /// ```
    pub fn register_interposed() -> bool {
        leakwatch_core::register_own_frames(&[crate::OWN_FRAMES]);
        crate::interposed::register()
    }
}

#[doc = include_str!("../docs/messages.md")]
pub mod messages {}

/// Runs a test in a fresh scope and fails it if anything it opened is still
/// open at the end.
///
/// ```
/// #[leakwatch::test]
/// fn closes_its_file() {
///     let _file = leakwatch::fs::File::open("Cargo.toml").unwrap();
/// }
/// ```
///
/// # Async tests
///
/// On an `async fn` (feature `tokio`) it builds the test's runtime as
/// `#[tokio::test]` does, and takes the same arguments with the same
/// meaning, so `tokio::test` can be replaced by `leakwatch::test` across a
/// suite:
///
/// | argument | meaning |
/// | --- | --- |
/// | `flavor = "current_thread"` | the default |
/// | `flavor = "multi_thread"`, `worker_threads = N` | a multi-thread runtime |
/// | `flavor = "local"` | a `LocalRuntime`, where `spawn_local` works |
/// | `start_paused = true` | time starts paused (tokio's `test-util` feature) |
/// | `unhandled_panic = "shutdown_runtime"` or `"ignore"` | `--cfg tokio_unstable` |
/// | `name = "rt"` | the runtime's name |
///
/// The check runs before the runtime shuts down, so a task still holding a
/// resource is reported, not silently cancelled. Tasks spawned with plain
/// `tokio::spawn` (by the test or a library) must also be gone by then.
///
/// ```
/// # #[cfg(feature = "tokio")]
/// #[leakwatch::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn pool_tasks_end() {
///     leakwatch::tokio::spawn(async {}).await.unwrap();
/// }
/// ```
///
/// # leakwatch's own arguments
///
/// * `grace = "1s"`: how long items still open at the end may take to close
///   (default [`grace()`](crate::grace): `LEAKWATCH_GRACE`, else the suite's
///   `.config/leakwatch.toml`);
/// * `ignore = "kind:task, site:src/pool.rs"`: [`Ignore`] rules, added to
///   those of the suite's `.config/leakwatch.toml`;
/// * `fds = false`, `threads = false`, `children = false`: leave out of
///   this test's check the descriptors, threads or child processes that
///   code outside leakwatch's wrappers creates (seen on glibc Linux, on by
///   default; `LEAKWATCH_DETECT=-fd,-thread,-child` for every test);
/// * `hunt = "3:5"`: hunt for leaks by repetition (see below);
/// * `crate = "path"`: the path to leakwatch, when it is renamed in
///   `Cargo.toml` (`lw = { package = "leakwatch", .. }` and
///   `#[lw::test(crate = "lw")]`). It names leakwatch, not tokio: the
///   runtime is built with leakwatch's own tokio dependency.
///
/// `grace` and `ignore` are checked when the test compiles. A key given twice,
/// an unknown key or a bad value is a compile error pointing at it, and the
/// test is still emitted, so that error is the only one.
///
/// # Leak hunting: `hunt = "warmup:measured"`
///
/// A leak that one run cannot tell from a cache filled once shows when the
/// same code runs again and again, as CPython's `regrtest -R` runs it. With
/// `hunt = "3:5"` the body runs 3 warm-up rounds, then 5 measured rounds,
/// all in the test's scope (an `async fn`'s runtime is built once, and each
/// round runs a new future of the body on it). Each measured round records
/// the change in tracked items, tasks, threads, descriptors, children and,
/// with the counting allocator installed ([`alloc::Counting`]), heap
/// blocks and bytes. A count that grows in **every** measured
/// round is a leak; descriptors that change at all are a leak; anything
/// else passes. A kind switched off for the test (`fds = false`) is
/// measured but not judged. The ordinary check then runs as for every
/// test.
///
/// ```
/// # #[cfg(target_os = "linux")]
/// # mod hunted {
/// use std::sync::OnceLock;
///
/// static TABLE: OnceLock<Vec<u64>> = OnceLock::new();
///
/// // Filled in the first warm-up round only: passes.
/// #[leakwatch::test(hunt = "3:5")]
/// fn table_is_built_once() {
///     assert_eq!(TABLE.get_or_init(|| (0..100).collect())[7], 7);
/// }
/// # }
/// ```
///
/// A body that keeps something on every call fails with the deltas:
///
/// ```text
/// LEAK leakwatch: `cache::remembers` leaks by repetition (hunt = "3:5"): a count grew in every measured round, or descriptors changed
/// LEAK leak hunt: 5 measured rounds (after 3 warm-up)
/// LEAK   heap blocks grew [1, 1, 1, 1, 1] (+70 bytes a round)
/// ```
///
/// A round whose body returns `Err` ends the hunt, and the test fails with
/// that error. A malformed value (`"3"`, `"a:5"`, `"3:0"`: at least 2
/// measured rounds) is a compile error, as is `hunt` on a
/// `#[should_panic]` test. Where descriptors and threads are not seen
/// (off Linux), the rounds run and the test says they were not measured.
///
/// # How a test fails
///
/// A leak fails the test at the test's own line (`panicked at
/// tests/db.rs:12:4`) with the report, and no backtrace of leakwatch's frames
/// follows it when `RUST_BACKTRACE` is set. A test that returns `Err(e)` and
/// also leaks fails with the report and `e`.
///
/// A leak report never counts as the panic a `#[should_panic]` test expects:
/// such a test that leaks fails (libtest says it "did not panic as
/// expected"), with the report printed above.
///
/// # With `rstest` and `test-case`
///
/// Put `#[leakwatch::test]` after their attributes; each case is then a
/// checked test:
///
/// ```
/// use rstest::rstest;
/// use test_case::test_case;
///
/// #[rstest]
/// #[case(1)]
/// #[case(2)]
/// #[leakwatch::test]
/// fn each_rstest_case_is_checked(#[case] n: u32) {
///     assert!(n > 0);
/// }
///
/// #[test_case(1)]
/// #[test_case(2)]
/// #[leakwatch::test]
/// fn each_test_case_is_checked(n: u32) {
///     assert!(n > 0);
/// }
/// ```
#[cfg(feature = "macros")]
pub use leakwatch_macros::test;
pub use tracked::Tracked;
