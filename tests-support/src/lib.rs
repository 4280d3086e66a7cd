//! Helpers for the workspace's tests and benches, in one place.
//!
//! Every crate's tests take this crate as a dev-dependency and turn on only
//! the features they use, so a test binary that runs no server builds no
//! hyper and one that reads no log builds no subscriber:
//!
//! - [`child`]: runs this test binary again in a child process (one ignored
//!   test, or a filter), without the `LEAKWATCH*` variables of this
//!   environment, and reads libtest's output.
//! - [`marker`]: the line of a source file that ends with a marker
//!   comment, for asserting the line a report names.
//! - [`temp`]: paths under the system temp dir, unique to this process.
//! - [`wait`]: polls until a condition holds or a deadline passes.
//! - `log` (feature `log`): what the process's `tracing` subscriber wrote.
//! - `server` (feature `tokio`; `server::hyper` with feature `hyper`): a
//!   server on 127.0.0.1, on a runtime and thread of its own.
//! - `http` (feature `http`): a plain blocking `GET`.
//! - `bench` (feature `bench`): criterion's settings for short runs.
//!
//! ```
//! let source = "let file = open(); // open: here\n";
//! assert_eq!(tests_support::marker::line_of(source, "// open: here"), 1);
//! ```

pub mod child;
pub mod marker;
pub mod temp;
pub mod wait;

#[cfg(feature = "bench")]
pub mod bench;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "log")]
pub mod log;
#[cfg(feature = "tokio")]
pub mod server;
#[cfg(feature = "tags")]
pub mod tags;
