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
//! * [`Scope`] is the building block: [`Scope::check`] returns the report.
//!
//! Scopes follow work into threads started through [`thread::spawn`] and
//! [`thread::Builder`] (which are themselves tracked until they finish), and
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
//! recorded (default `sites`).

#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __macro_support;
mod check;
pub mod fs;
pub mod net;
pub mod thread;
#[cfg(feature = "tokio")]
pub mod tokio;
mod tracked;

pub use check::check;
pub use leakwatch_core::{
    Backoff, COMPILED_IN, ConfigError, DEFAULT_GRACE, Frame, Group, Ignore, Item, ItemsById,
    LateId, Level, Origin, Problem, Report, Scope, ScopeGuard, ScopeId, Snapshot, Stack, Tag,
    grace, level, parse_grace, set_level,
};
/// Runs a test in a fresh scope and fails it if anything it opened is still
/// open at the end.
///
/// On an `async fn` (feature `tokio`) it builds the test's runtime, taking
/// `flavor = "current_thread" | "multi_thread"` and `worker_threads = N` as
/// `#[tokio::test]` does, and checks before the runtime shuts down, so a task
/// still holding a resource is reported, not silently cancelled.
///
/// ```
/// #[leakwatch::test]
/// fn closes_its_file() {
///     let _file = leakwatch::fs::File::open("Cargo.toml").unwrap();
/// }
/// ```
#[cfg(feature = "macros")]
pub use leakwatch_macros::test;
pub use tracked::Tracked;
