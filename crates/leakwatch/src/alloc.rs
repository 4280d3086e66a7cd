//! Heap per scope: a counting global allocator.
//!
//! Declare it once, in a test binary (or any program), wrapping the
//! allocator it would use anyway:
//!
//! ```
//! #[global_allocator]
//! static A: leakwatch::alloc::Counting<std::alloc::System> =
//!     leakwatch::alloc::Counting::new(std::alloc::System);
//!
//! let scope = leakwatch::Scope::new("cache");
//! let kept = scope.run(|| vec![0u8; 100]);
//! if leakwatch::integration::COMPILED_IN {
//!     let heap = leakwatch::alloc::heap_in(&[scope.id()]).expect("the allocator is installed");
//!     assert_eq!((heap.blocks, heap.bytes), (1, 100));
//! }
//! drop(kept);
//! ```
//!
//! Each block is charged to the scope current when it was allocated, and
//! freed from that scope wherever it is freed. A failing check's report
//! then adds one line of information with the heap its scope still holds,
//! and [`hunt`](crate::hunt) and `#[leakwatch::test(hunt = "3:5")]` judge
//! heap blocks and bytes round by round. Without the allocator installed,
//! [`heap_in`] answers `None` and nothing about heap is printed.
//!
//! It costs a few nanoseconds per allocation (an 8-byte header, a read of
//! the current scope, one counter update; see `BENCHMARKS.md`); in builds
//! where tracking is compiled out it hands every call straight to the
//! wrapped allocator.

pub use leakwatch_alloc::{Counting, Heap, heap_in};
