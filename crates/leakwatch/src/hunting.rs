//! Leak hunting by repetition, after CPython's `regrtest -R`: what
//! [`hunt`] and `#[leakwatch::test(hunt = "3:5")]` run.
//!
//! A leak that a single run cannot tell from a cache filled once shows up
//! when the same code runs again and again: the body runs for some warm-up
//! rounds (filling caches, pools, lazily initialized statics), then for
//! measured rounds, each measured as the change in what its scope holds:
//! tracked items and tasks (`leakwatch-core`'s registry), threads,
//! descriptors and children (`leakwatch-interpose`'s records, where libc is
//! interposed) and, with the [counting allocator](crate::alloc), heap
//! blocks and bytes (`leakwatch-alloc`'s counts). What cannot be measured
//! here is named in the [`Hunt`]'s report rather than passed in silence.
//!
//! CPython's rule decides: a count that grows in **every** measured round
//! is a leak; descriptors that change **at all** are a leak; anything else
//! passes (a one-off growth is a cache, not a leak).
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
//! Descriptors kept every round, where libc is interposed:
//!
//! ```
//! use std::sync::Mutex;
//! use leakwatch::integration::{Support, support};
//!
//! static CACHE: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());
//!
//! let hunt = leakwatch::hunt(2, 3, || {
//!     CACHE.lock().unwrap().push(std::fs::File::open("Cargo.toml").unwrap());
//! })
//! .unwrap();
//! if support() == Support::Active {
//!     assert!(!hunt.is_clean());
//!     assert!(hunt.to_string().contains("fds leaked [1, 1, 1]"), "{hunt}");
//! }
//! ```
//!
//! # Names
//!
//! To *hunt* is the act: the [`hunt`] function and the attribute's `hunt`
//! key run one, and a [`Hunt`] is what one found. *Hunting* is the
//! subject: this module, and the [`Hunting`] trait that runs hunts over
//! [`Rounds`].

use std::fmt;

use leakwatch_alloc::heap_in;
use leakwatch_core::{Scope, Snapshot};
use leakwatch_interpose::{Support, counts_in, support};

pub use leakwatch_core::{Rounds, RoundsError};

use crate::detect::Detect;

/// Hunts over [`Rounds`]: the rounds run in a scope, measured by what
/// leakwatch sees there.
///
/// ```
/// use leakwatch::hunting::{Hunting, Rounds};
///
/// assert!(Rounds::new(1, 3).unwrap().hunt(|| drop(vec![0u8; 64])).is_clean());
/// ```
pub trait Hunting {
    /// Runs `body` for these rounds in a new scope, a child of the calling
    /// thread's current one.
    fn hunt(self, body: impl FnMut()) -> Hunt;

    /// Runs `body` for these rounds in `scope`, measuring what `scope`
    /// itself holds.
    fn hunt_in(self, scope: &Scope, body: impl FnMut()) -> Hunt;
}

impl Hunting for Rounds {
    /// Runs `body` for these rounds in a new scope, a child of the calling
    /// thread's current one.
    ///
    /// ```
    /// use leakwatch::hunting::{Hunting, Rounds};
    ///
    /// let rounds = Rounds::new(1, 3).unwrap();
    /// assert!(rounds.hunt(|| drop(vec![0u8; 64])).is_clean());
    /// ```
    fn hunt(self, body: impl FnMut()) -> Hunt {
        self.hunt_in(&Scope::new("hunt"), body)
    }

    /// Runs `body` for these rounds in `scope`, measuring what `scope`
    /// itself holds: for a caller whose other work (a runtime's workers,
    /// threads it started) already runs in that scope, such as a test's.
    /// Only the rounds' changes are judged, so what `scope` held before
    /// the first round is never counted.
    ///
    /// ```
    /// use leakwatch::hunting::{Hunting, Rounds};
    ///
    /// let scope = leakwatch::Scope::new("test");
    /// let rounds = Rounds::new(0, 2).unwrap();
    /// assert!(rounds.hunt_in(&scope, || {}).is_clean());
    /// ```
    fn hunt_in(self, scope: &Scope, mut body: impl FnMut()) -> Hunt {
        for _ in 0..self.warmup() {
            scope.run(&mut body);
        }
        let mut deltas = Vec::with_capacity(self.measured());
        let mut before = Sample::of(scope);
        for _ in 0..self.measured() {
            scope.run(&mut body);
            let after = Sample::of(scope);
            deltas.push(after.minus(&before));
            before = after;
        }
        let heap_counted = heap_in(&[scope.id()]).is_some();
        Hunt {
            rounds: self,
            deltas,
            unseen: match support() {
                Support::Active => None,
                Support::Unavailable(why) => Some(why),
            },
            heap_counted,
            unjudged: Vec::new(),
        }
    }
}

/// Runs `body` for `warmup` rounds and then `measured` rounds, all in one
/// new scope (a child of the calling thread's current one), and says what
/// grew in it, after CPython's `regrtest -R`.
///
/// Each measured round records the change in tracked items, tasks,
/// threads, descriptors, children and, with the [`Counting`](crate::alloc::Counting)
/// allocator, heap blocks and bytes. A count that grows in **every**
/// measured round is a leak; descriptors that change **at all** are a
/// leak; anything else passes (a one-off growth is a cache filling, not a
/// leak).
///
/// ```
/// use std::sync::OnceLock;
///
/// static TABLE: OnceLock<Vec<u64>> = OnceLock::new();
/// // Filled in the first warm-up round only: not a leak.
/// let hunt = leakwatch::hunt(1, 3, || {
///     TABLE.get_or_init(|| (0..100).collect());
/// })
/// .unwrap();
/// assert!(hunt.is_clean(), "{hunt}");
/// ```
pub fn hunt(warmup: usize, measured: usize, body: impl FnMut()) -> Result<Hunt, RoundsError> {
    Ok(Rounds::new(warmup, measured)?.hunt(body))
}

/// What a hunt measures, per round.
///
/// ```
/// assert_eq!(leakwatch::hunting::Measure::Fds.to_string(), "fds");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Measure {
    /// Items tracked by leakwatch's wrappers, tags and hooks.
    Items,
    /// Tokio tasks tracked through leakwatch.
    Tasks,
    /// Running threads started in the scope.
    Threads,
    /// Open descriptors created in the scope.
    Fds,
    /// Children started in the scope and not waited for.
    Children,
    /// Live heap blocks (with the `Counting` allocator).
    HeapBlocks,
    /// Live heap bytes (with the `Counting` allocator).
    HeapBytes,
}

const MEASURES: [Measure; 7] = [
    Measure::Items,
    Measure::Tasks,
    Measure::Threads,
    Measure::Fds,
    Measure::Children,
    Measure::HeapBlocks,
    Measure::HeapBytes,
];

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Measure::Items => "tracked items",
            Measure::Tasks => "tasks",
            Measure::Threads => "threads",
            Measure::Fds => "fds",
            Measure::Children => "children",
            Measure::HeapBlocks => "heap blocks",
            Measure::HeapBytes => "heap bytes",
        })
    }
}

/// What the scope holds at one moment.
#[derive(Clone, Copy, Debug, Default)]
struct Sample([i64; 7]);

impl Sample {
    fn of(scope: &Scope) -> Sample {
        let open = counts_in(&[scope.id()]);
        let heap = heap_in(&[scope.id()]).unwrap_or_default();
        let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
        let m = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        Sample([
            // The registry's own items only: a scope's snapshot also holds
            // the descriptors, threads and children counted below.
            n(Snapshot::tracked()
                .items()
                .iter()
                .filter(|item| item.scope() == scope.id())
                .count()),
            n(scope.open_count("task")),
            n(open.threads),
            n(open.fds),
            n(open.children),
            m(heap.blocks),
            m(heap.bytes),
        ])
    }

    fn minus(&self, before: &Sample) -> Sample {
        Sample(std::array::from_fn(|i| {
            self.0[i].saturating_sub(before.0[i])
        }))
    }
}

/// The per-round changes a hunt measured, and what they say.
///
/// Its `Display` is the report: one line per leak, such as
/// `fds leaked [1, 1, 1]` or
/// `heap blocks grew [12, 12, 12] (+384 bytes a round)`.
///
/// ```
/// let hunt = leakwatch::hunt(0, 2, || {}).unwrap();
/// assert_eq!(hunt.deltas(leakwatch::hunting::Measure::Fds), [0, 0]);
/// ```
#[derive(Clone, Debug)]
pub struct Hunt {
    rounds: Rounds,
    deltas: Vec<Sample>,
    unseen: Option<&'static str>,
    heap_counted: bool,
    /// Measures left out of the judgement ([`Hunt::ignoring`]).
    unjudged: Vec<Measure>,
}

impl Hunt {
    /// The change in `measure` over each measured round.
    ///
    /// ```
    /// # let hunt = leakwatch::hunt(0, 2, || {}).unwrap();
    /// assert_eq!(hunt.deltas(leakwatch::hunting::Measure::HeapBlocks).len(), 2);
    /// ```
    pub fn deltas(&self, measure: Measure) -> Vec<i64> {
        let i = MEASURES.iter().position(|&m| m == measure).unwrap_or(0);
        self.deltas.iter().map(|s| s.0[i]).collect()
    }

    /// Whether `measure`'s deltas make a leak: any change for
    /// descriptors, growth in every round for the rest.
    ///
    /// ```
    /// # let hunt = leakwatch::hunt(0, 2, || {}).unwrap();
    /// assert!(!hunt.leaked(leakwatch::hunting::Measure::Fds));
    /// ```
    pub fn leaked(&self, measure: Measure) -> bool {
        if self.unjudged.contains(&measure) {
            return false;
        }
        let deltas = self.deltas(measure);
        match measure {
            Measure::Fds => deltas.iter().any(|&d| d != 0),
            _ => deltas.iter().all(|&d| d > 0),
        }
    }

    /// This hunt with `measures` left out of its judgement: for a check
    /// that was told not to look at a kind (a test's `fds = false`). Their
    /// deltas are still recorded.
    ///
    /// ```
    /// use leakwatch::hunting::Measure;
    ///
    /// let hunt = leakwatch::hunt(0, 2, || {}).unwrap();
    /// let hunt = hunt.ignoring(&[Measure::Fds, Measure::Threads]);
    /// assert!(!hunt.leaked(Measure::Fds));
    /// ```
    pub fn ignoring(mut self, measures: &[Measure]) -> Hunt {
        self.unjudged.extend_from_slice(measures);
        self
    }

    /// The measures that leaked.
    ///
    /// ```
    /// # let hunt = leakwatch::hunt(0, 2, || {}).unwrap();
    /// assert!(hunt.leaks().is_empty());
    /// ```
    pub fn leaks(&self) -> Vec<Measure> {
        MEASURES
            .into_iter()
            .filter(|&m| self.leaked(m))
            // Bytes are shown on the blocks' line when both grew.
            .filter(|&m| !(m == Measure::HeapBytes && self.leaked(Measure::HeapBlocks)))
            .collect()
    }

    /// True when nothing leaked.
    ///
    /// ```
    /// assert!(leakwatch::hunt(0, 2, || {}).unwrap().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.leaks().is_empty()
    }

    /// `Ok` when clean, else this hunt as the error.
    ///
    /// ```
    /// leakwatch::hunt(1, 3, || {}).unwrap().check().unwrap();
    /// ```
    pub fn check(self) -> Result<(), Hunt> {
        if self.is_clean() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for Hunt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (warmup, measured) = (self.rounds.warmup(), self.rounds.measured());
        let leaks = self.leaks();
        if leaks.is_empty() {
            write!(
                f,
                "no leak in {measured} measured rounds (after {warmup} warm-up)"
            )?;
        } else {
            write!(
                f,
                "leak hunt: {measured} measured rounds (after {warmup} warm-up)"
            )?;
        }
        for m in leaks {
            let deltas = self.deltas(m);
            let verb = match m {
                Measure::HeapBlocks | Measure::HeapBytes => "grew",
                _ => "leaked",
            };
            write!(f, "\n  {m} {verb} {deltas:?}")?;
            if m == Measure::HeapBlocks {
                let bytes = self.deltas(Measure::HeapBytes);
                let per_round = bytes.iter().sum::<i64>() / bytes.len().max(1) as i64;
                write!(f, " ({per_round:+} bytes a round)")?;
            }
        }
        if let Some(why) = self.unseen {
            write!(
                f,
                "\n  note: threads, fds and children outside leakwatch's wrappers were not measured: {why}"
            )?;
        }
        if !self.heap_counted {
            write!(
                f,
                "\n  note: heap not measured: the global allocator is not leakwatch's `Counting`"
            )?;
        }
        Ok(())
    }
}

/// Runs a test's body as a leak hunt in `scope` (the test's): `warmup`
/// rounds, then `measured` rounds, judged as [`Hunting::hunt_in`] judges
/// them, with the kinds `detect` switches off measured but not judged.
/// The last round's value, and the failure report when the hunt found a
/// leak; a clean hunt's summary is printed to the test's output. A round
/// whose value is `failed` (an `Err` the test returned) ends the hunt,
/// unjudged: the test fails with that error.
pub(crate) fn run_test<R>(
    name: &str,
    scope: &Scope,
    detect: Detect,
    warmup: usize,
    measured: usize,
    mut round: impl FnMut() -> R,
    failed: impl Fn(&R) -> bool,
) -> (R, Option<String>) {
    let mut last = None;
    let mut stopped = false;
    let body = || {
        if !stopped {
            let out = round();
            stopped = failed(&out);
            last = Some(out);
        }
    };
    let (report, leaked) = match Rounds::new(warmup, measured) {
        Ok(rounds) => {
            let off = [
                (!detect.fds).then_some(Measure::Fds),
                (!detect.threads).then_some(Measure::Threads),
                (!detect.children).then_some(Measure::Children),
            ];
            let off: Vec<Measure> = off.into_iter().flatten().collect();
            let hunt = rounds.hunt_in(scope, body).ignoring(&off);
            (hunt.to_string(), !hunt.is_clean())
        }
        Err(err) => (err.to_string(), true),
    };
    // At least the 2 measured rounds ran: the attribute requires them.
    let out = last.expect("leakwatch: a hunt runs at least 2 rounds");
    if stopped {
        return (out, None);
    }
    if !leaked {
        eprintln!("leakwatch: `{name}`: {report}");
        return (out, None);
    }
    let mut text = format!(
        "LEAK leakwatch: `{name}` leaks by repetition (hunt = \"{warmup}:{measured}\"): a count \
         grew in every measured round, or descriptors changed"
    );
    for line in report.lines() {
        text.push_str("\nLEAK ");
        text.push_str(line);
    }
    (out, Some(text))
}
