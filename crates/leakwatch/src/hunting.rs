//! What [`hunt`](crate::hunt) returns: leak hunting by repetition, after
//! CPython's `regrtest -R`.
//!
//! The body runs for warm-up rounds (filling caches, pools, lazily
//! initialized statics), then for measured rounds, each measured as the
//! change in what its scope holds: tracked items, tasks, threads,
//! descriptors, children and, with the [counting allocator](crate::alloc),
//! heap blocks and bytes. A count that grows in **every** measured round is
//! a leak; descriptors that change **at all** are a leak; anything else
//! passes.
//!
//! ```
//! use leakwatch::hunting::Measure;
//!
//! let mut cache = Vec::new();
//! let hunt = leakwatch::hunt(2, 3, || cache.push(leakwatch::Tag::new("entry"))).unwrap();
//! if leakwatch::integration::COMPILED_IN {
//!     assert!(!hunt.is_clean());
//!     assert_eq!(hunt.deltas(Measure::Items), [1, 1, 1]);
//! }
//! ```
//!
//! `#[leakwatch::test(hunt = "3:5")]` runs a test's body so and fails it
//! with the hunt's report.

pub use leakwatch_interpose::{Hunt, Hunting, Measure, Rounds, RoundsError};
