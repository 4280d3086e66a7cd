//! leakwatch's live items in the forms operators already read: filtered
//! views, diffs by site, a JSON document, a gzipped pprof profile and
//! Prometheus metrics.
//!
//! Everything starts from a [`Capture`]: an owned copy of
//! [`leakwatch_core::Snapshot::all`] whose stacks are symbolized once per
//! distinct stack. A capture can be written as JSON and read back, so a
//! diff or a flame graph can be made later, on another machine, from two
//! files.
//!
//! ```
//! use std::time::Duration;
//! use leakwatch_export::{Capture, Filter};
//!
//! let conn = leakwatch_core::Tag::with_detail("db-conn", "db:5432");
//! let before = Capture::now();
//! let live = Filter::new().kind("db-conn").apply(&before);
//! # if leakwatch_core::COMPILED_IN {
//! assert!(live.entries().iter().any(|e| e.detail() == Some("db:5432")));
//! # }
//! let profile: Vec<u8> = leakwatch_export::pprof::encode(&live);
//! assert_eq!(&profile[..2], &[0x1f, 0x8b]); // gzip
//! let back = Capture::from_json(&live.to_json()).unwrap();
//! assert_eq!(back, live);
//! # drop(conn);
//! ```
//!
//! # Forms
//!
//! - [`Capture::to_json`] / [`Capture::from_json`]: a versioned JSON
//!   document (`{"leakwatch": 2, ...}`).
//! - [`pprof::encode`]: `profile.proto`, gzipped, with sample types
//!   `items/count` and `age/nanoseconds`, read by `go tool pprof`, Pyroscope
//!   and Parca.
//! - [`Diff`]: what appeared, went away and grew between two captures, by
//!   kind and site.
//! - [`metrics::LeakMetrics`]: live counts per kind, an age histogram and
//!   counters of reported leaks, in a `prometheus-client` registry.

mod capture;
mod diff;
mod error;
mod filter;
pub mod metrics;
pub mod pprof;

pub use capture::{Capture, CapturedFrame, CapturedSite, Entry};
pub use diff::{Diff, SiteChange};
pub use error::{ReadError, ReadErrorKind};
pub use filter::Filter;
