//! External sources: items a check sees that live outside the registry.
//!
//! Descriptors, threads and child processes created by code that never
//! used leakwatch's wrappers (std, tokio, database drivers) are recorded
//! by another layer, such as libc interposition, with the scope current
//! when each was created. That layer registers a source here, once; every
//! [`Scope::snapshot`](crate::Scope::snapshot), and so every check, asks
//! each source what the scope and its children still have open and adds
//! those items to the registry's. The core does not depend on any source:
//! data still flows one way, open → (registry or source) → snapshot →
//! report.
//!
//! A source answers for a family of scopes: the checked scope and every
//! scope below it. It sees only what was created while one of them was
//! current, so what was open before the scope began is never counted.
//! Items that leakwatch's wrappers track too are reported once: an
//! external item holding a descriptor ([`Item::with_fd`]) that a tracked
//! item of the same snapshot holds is left out.
//!
//! # Live sources
//!
//! A check asks about a family of scopes; a live view of the process
//! ([`Snapshot::all`], [`Snapshot::held_past`], and so every exporter and
//! watchdog built on them) asks a *live source* ([`LiveSource`]) for
//! everything it has open, in every scope and none. Such a source is
//! linked in ([`LINKED_LIVE`]) or registered ([`register_live`]) by the
//! same layer, so that an exporter serves its items without depending on
//! it. The same rule keeps a descriptor once: a live item holding a
//! descriptor that a tracked item holds is left out.
//!
//! ```
//! use leakwatch_core::{Item, Scope, ScopeId, Site, external};
//!
//! fn sockets(family: &[ScopeId]) -> Vec<Item> {
//!     // A real source looks its records up by scope; this one reports
//!     // one socket for every family that asks.
//!     family
//!         .first()
//!         .map(|&scope| Item::external("socket", Site::new("src/db.rs", 12, 5), scope))
//!         .into_iter()
//!         .collect()
//! }
//!
//! external::register("example sockets", sockets);
//! let scope = Scope::new("s");
//! # if !leakwatch_core::COMPILED_IN { return; }
//! assert_eq!(scope.snapshot().len(), 1);
//! # external::unregister("example sockets");
//! ```

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::scope_id::ScopeId;
use crate::snapshot::{Item, Snapshot};

/// A source: what the given family of scopes (a scope, then those below
/// it) has open that the registry does not hold. Called on every check,
/// clean ones included, so it answers a family with nothing open in
/// microseconds.
pub type Source = fn(&[ScopeId]) -> Vec<Item>;

/// Sources of one kind, registered by name: the linked ones beside them.
struct Registered<S: Copy + 'static> {
    sources: Mutex<Vec<(&'static str, S)>>,
    /// Whether any is registered: a look with none takes no lock.
    any: AtomicBool,
}

impl<S: Copy + 'static> Registered<S> {
    const fn new() -> Self {
        Registered {
            sources: Mutex::new(Vec::new()),
            any: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, S)>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers (or replaces) `name`'s source; whether `name` was new.
    fn register(&self, name: &'static str, source: S) -> bool {
        let mut sources = self.lock();
        let new = match sources.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => {
                entry.1 = source;
                false
            }
            None => {
                sources.push((name, source));
                true
            }
        };
        self.any.store(true, Ordering::Release);
        new
    }

    fn unregister(&self, name: &str) -> bool {
        let mut sources = self.lock();
        let before = sources.len();
        sources.retain(|(n, _)| *n != name);
        self.any.store(!sources.is_empty(), Ordering::Release);
        sources.len() != before
    }

    fn contains(&self, linked: &[(&'static str, S)], name: &str) -> bool {
        linked.iter().any(|(n, _)| *n == name)
            || self.any.load(Ordering::Acquire) && self.lock().iter().any(|(n, _)| *n == name)
    }

    /// The linked sources and the registered ones, copied out: a source
    /// may take a while, and may itself register. Empty without a lock
    /// when there are none.
    fn all(&self, linked: &[(&'static str, S)]) -> Vec<S> {
        let mut sources: Vec<S> = linked.iter().map(|&(_, source)| source).collect();
        if self.any.load(Ordering::Acquire) {
            sources.extend(self.lock().iter().map(|&(_, source)| source));
        }
        sources
    }
}

/// The registered sources, by name.
static SOURCES: Registered<Source> = Registered::new();

/// Sources linked in rather than registered: a crate in the executable
/// adds one with `#[distributed_slice(leakwatch_core::external::LINKED)]`
/// (the [`linkme`] crate), and every check consults it from the first,
/// `Scope::check` included, with no code run before `main` to register it.
///
/// ```
/// use leakwatch_core::external::{LINKED, Source};
/// use leakwatch_core::{Item, ScopeId};
/// use linkme::distributed_slice;
///
/// fn nothing(_: &[ScopeId]) -> Vec<Item> {
///     Vec::new()
/// }
///
/// #[distributed_slice(LINKED)]
/// static NOTHING: (&str, Source) = ("nothing", nothing);
///
/// assert!(leakwatch_core::external::is_registered("nothing"));
/// ```
#[linkme::distributed_slice]
pub static LINKED: [(&'static str, Source)];

/// Registers `source` under `name`, so that every check consults it;
/// registering a name again replaces its source. Returns whether `name` was
/// new.
///
/// ```
/// use leakwatch_core::{Item, ScopeId, external};
///
/// fn nothing(_: &[ScopeId]) -> Vec<Item> {
///     Vec::new()
/// }
/// assert!(external::register("nothing", nothing));
/// assert!(!external::register("nothing", nothing));
/// # external::unregister("nothing");
/// ```
pub fn register(name: &'static str, source: Source) -> bool {
    SOURCES.register(name, source)
}

/// Removes the source registered under `name`; returns whether there was
/// one.
///
/// ```
/// assert!(!leakwatch_core::external::unregister("never registered"));
/// ```
pub fn unregister(name: &str) -> bool {
    SOURCES.unregister(name)
}

/// Whether a source is registered under `name`.
///
/// ```
/// assert!(!leakwatch_core::external::is_registered("never registered"));
/// ```
pub fn is_registered(name: &str) -> bool {
    SOURCES.contains(&LINKED, name)
}

/// A live source: what the whole process has open that the registry does
/// not hold, in every scope and none. It calls `keep` with each item's
/// kind and age before building it (describing an item may read `/proc`),
/// and returns only those `keep` accepts: a watchdog's look builds only
/// what is past its threshold. Called at every scrape and every watchdog
/// look.
///
/// ```
/// use std::time::Duration;
/// use leakwatch_core::{Item, ScopeId, Site};
///
/// fn pool(keep: &dyn Fn(&str, Duration) -> bool) -> Vec<Item> {
///     let age = Duration::from_secs(90);
///     keep("db-conn", age)
///         .then(|| Item::external("db-conn", Site::new("src/pool.rs", 8, 1), ScopeId::NONE).with_age(age))
///         .into_iter()
///         .collect()
/// }
/// let source: leakwatch_core::external::LiveSource = pool;
/// assert_eq!(source(&|_, _| true).len(), 1);
/// assert!(source(&|kind, _| kind == "fd").is_empty());
/// ```
pub type LiveSource = fn(keep: &dyn Fn(&str, Duration) -> bool) -> Vec<Item>;

/// Live sources linked in rather than registered, as [`LINKED`] is for
/// checks: `#[distributed_slice(leakwatch_core::external::LINKED_LIVE)]`.
///
/// ```
/// use std::time::Duration;
/// use leakwatch_core::external::{LINKED_LIVE, LiveSource};
/// use leakwatch_core::Item;
/// use linkme::distributed_slice;
///
/// fn nothing(_: &dyn Fn(&str, Duration) -> bool) -> Vec<Item> {
///     Vec::new()
/// }
///
/// #[distributed_slice(LINKED_LIVE)]
/// static NOTHING: (&str, LiveSource) = ("nothing live", nothing);
///
/// assert!(leakwatch_core::external::is_live_registered("nothing live"));
/// ```
#[linkme::distributed_slice]
pub static LINKED_LIVE: [(&'static str, LiveSource)];

/// The registered live sources, by name.
static LIVE_SOURCES: Registered<LiveSource> = Registered::new();

/// Registers the live source `source` under `name`, so that every live
/// view ([`Snapshot::all`], [`Snapshot::held_past`]) consults it;
/// registering a name again replaces its source. Returns whether `name`
/// was new.
///
/// ```
/// use std::time::Duration;
/// use leakwatch_core::{Item, ScopeId, Site, Snapshot, external};
///
/// fn one_socket(keep: &dyn Fn(&str, Duration) -> bool) -> Vec<Item> {
///     keep("socket", Duration::ZERO)
///         .then(|| Item::external("socket", Site::new("src/db.rs", 12, 5), ScopeId::NONE))
///         .into_iter()
///         .collect()
/// }
/// assert!(external::register_live("example live", one_socket));
/// # if leakwatch_core::COMPILED_IN {
/// assert!(Snapshot::all().items().iter().any(|i| i.kind() == "socket"));
/// # }
/// assert!(external::unregister_live("example live"));
/// ```
pub fn register_live(name: &'static str, source: LiveSource) -> bool {
    LIVE_SOURCES.register(name, source)
}

/// Removes the live source registered under `name`; returns whether there
/// was one.
///
/// ```
/// assert!(!leakwatch_core::external::unregister_live("never registered"));
/// ```
pub fn unregister_live(name: &str) -> bool {
    LIVE_SOURCES.unregister(name)
}

/// Whether a live source is linked in or registered under `name`.
///
/// ```
/// assert!(!leakwatch_core::external::is_live_registered("never registered"));
/// ```
pub fn is_live_registered(name: &str) -> bool {
    LIVE_SOURCES.contains(&LINKED_LIVE, name)
}

/// The live views: the registry's items joined with every live source's.
/// They live here, above the registry's snapshot, because they consult the
/// sources.
impl Snapshot {
    /// Every item open in the process now, in every scope and none: what a
    /// production exporter shows. Tracked items, and what every live
    /// source has open ([live sources](crate::external#live-sources)): with
    /// `leakwatch`'s libc interposition, every descriptor, thread and child
    /// process recorded, each with its description, age and (where one was
    /// taken) stack. A descriptor that a tracked item holds is listed once,
    /// as the tracked item.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("socket");
    /// let all = leakwatch_core::Snapshot::all();
    /// assert!(all.len() >= usize::from(tag.is_tracked()));
    /// ```
    pub fn all() -> Snapshot {
        let snapshot = Snapshot::tracked();
        let fds = snapshot.fds();
        join_live(snapshot, &fds, &|_, _| true)
    }

    /// Items open at least as long as `threshold` says for their kind
    /// (`None`: not watched), in every scope and none: what a long-held
    /// watchdog looks at. Tracked items, and what live sources have open
    /// ([`Snapshot::all`]): with libc interposition, descriptors are of
    /// kind `"fd"`, threads `"thread"` and children `"child"`. A descriptor
    /// that a tracked item holds is that item's, watched by its kind
    /// (`"file"`, `"tcp"`) only. Only the items past their threshold are
    /// built; the walk allocates nothing for the others, so it stays cheap
    /// with many items open.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let conn = leakwatch_core::Tag::new("db-conn");
    /// let held = leakwatch_core::Snapshot::held_past(|kind| {
    ///     (kind == "db-conn").then_some(Duration::ZERO)
    /// });
    /// assert!(held.len() >= usize::from(conn.is_tracked()));
    /// assert!(held.items().iter().all(|item| item.kind() == "db-conn"));
    /// ```
    pub fn held_past(threshold: impl Fn(&str) -> Option<Duration>) -> Snapshot {
        let (snapshot, fds) = Snapshot::tracked_held_past(&threshold);
        join_live(snapshot, &fds, &|kind, age| {
            threshold(kind).is_some_and(|t| age >= t)
        })
    }
}

/// `snapshot` with what every live source has open that `keep` accepts
/// added, leaving out the descriptors in `tracked_fds` (held by tracked
/// items, which stand for them).
fn join_live(
    mut snapshot: Snapshot,
    tracked_fds: &HashSet<i32>,
    keep: &dyn Fn(&str, Duration) -> bool,
) -> Snapshot {
    let sources = LIVE_SOURCES.all(&LINKED_LIVE);
    for source in sources {
        snapshot.join_except(source(keep), tracked_fds);
    }
    snapshot
}

/// `snapshot` of scope `id`'s family, with what each source has open in
/// that family added.
pub(crate) fn join(mut snapshot: Snapshot, id: ScopeId) -> Snapshot {
    let sources = SOURCES.all(&LINKED);
    if sources.is_empty() {
        return snapshot;
    }
    let family = imp::family(id);
    if family.is_empty() {
        return snapshot;
    }
    for source in sources {
        snapshot.join(source(&family));
    }
    snapshot
}

cfg_on! {
    mod imp {
        pub(super) use crate::registry::scopes::family;
    }
}

cfg_off! {
    mod imp {
        use crate::scope_id::ScopeId;

        /// Tracking is compiled out: no scope has a family.
        pub(super) fn family(_id: ScopeId) -> Vec<ScopeId> {
            Vec::new()
        }
    }
}

#[cfg(test)]
#[cfg(all(not(loom), any(debug_assertions, feature = "production")))]
mod tests {
    use super::*;
    use crate::snapshot::Site;
    use crate::{Scope, Tag};

    /// One source for the whole test: sources are process-wide.
    fn source(family: &[ScopeId]) -> Vec<Item> {
        let marked = MARKED.lock().unwrap();
        marked
            .iter()
            .filter(|(scope, _)| family.contains(scope))
            .map(|&(scope, fd)| {
                Item::external("fd", Site::new("src/x.rs", 3, 1), scope)
                    .with_fd(fd)
                    .with_detail(format!("fd {fd}"))
            })
            .collect()
    }

    static MARKED: Mutex<Vec<(ScopeId, i32)>> = Mutex::new(Vec::new());

    /// What the live source has open: (kind, descriptor, age).
    static LIVE: Mutex<Vec<(&'static str, i32, Duration)>> = Mutex::new(Vec::new());

    fn live(keep: &dyn Fn(&str, Duration) -> bool) -> Vec<Item> {
        LIVE.lock()
            .unwrap()
            .iter()
            .filter(|&&(kind, _, age)| keep(kind, age))
            .map(|&(kind, fd, age)| {
                Item::external(kind, Site::new("src/live.rs", 9, 1), ScopeId::NONE)
                    .with_fd(fd)
                    .with_age(age)
                    .with_detail(format!("fd {fd}"))
            })
            .collect()
    }

    fn live_details(snapshot: &Snapshot) -> Vec<&str> {
        let mut details: Vec<&str> = snapshot
            .items()
            .iter()
            .filter(|i| i.site().file() == "src/live.rs")
            .filter_map(|i| i.detail())
            .collect();
        details.sort_unstable();
        details
    }

    #[test]
    fn live_views_join_live_sources_once_per_descriptor_and_past_thresholds_only() {
        assert!(
            Snapshot::all()
                .items()
                .iter()
                .all(|i| i.site().file() != "src/live.rs")
        );
        assert!(register_live("tests live", live));
        assert!(is_live_registered("tests live"));
        LIVE.lock().unwrap().extend([
            ("fd", 90_101, Duration::from_secs(5)),
            ("fd", 90_102, Duration::from_millis(5)),
            ("thread", 90_103, Duration::from_secs(5)),
        ]);
        assert_eq!(
            live_details(&Snapshot::all()),
            ["fd 90101", "fd 90102", "fd 90103"]
        );
        assert!(
            Snapshot::tracked()
                .items()
                .iter()
                .all(|i| i.site().file() != "src/live.rs")
        );

        // Only what is past its kind's threshold; kinds not watched, none.
        let held = Snapshot::held_past(|kind| (kind == "fd").then_some(Duration::from_secs(1)));
        assert_eq!(live_details(&held), ["fd 90101"]);

        // A tracked item holding the same descriptor stands for it, in
        // both views, whether or not its own kind is watched.
        #[cfg(unix)]
        {
            use std::os::fd::{AsFd, AsRawFd};

            let file = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/src/external.rs"))
                .unwrap();
            let fd = file.as_raw_fd();
            LIVE.lock()
                .unwrap()
                .push(("fd", fd, Duration::from_secs(5)));
            let scope = Scope::new("live");
            let tracked = scope.run(|| Tag::for_fd("file", file.as_fd()));
            let all = Snapshot::all();
            assert_eq!(
                all.items()
                    .iter()
                    .filter(|i| i.detail() == Some(&*format!("fd {fd}")))
                    .count(),
                0
            );
            assert_eq!(live_details(&all).len(), 3, "{all:?}");
            let held = Snapshot::held_past(|kind| (kind == "fd").then_some(Duration::from_secs(1)));
            assert_eq!(live_details(&held), ["fd 90101"]);
            drop(tracked);
            // Untracked again, the live source's item is listed.
            assert_eq!(live_details(&Snapshot::all()).len(), 4);
            LIVE.lock().unwrap().retain(|&(_, f, _)| f != fd);
        }

        LIVE.lock().unwrap().clear();
        assert!(live_details(&Snapshot::all()).is_empty());
        assert!(unregister_live("tests live"));
        assert!(!is_live_registered("tests live"));
    }

    #[test]
    fn sources_join_their_family_only_and_tracked_descriptors_count_once() {
        register("tests", source);
        let outer = Scope::new("outer");
        let inner = outer.run(|| Scope::new("inner"));
        let other = Scope::new("other");
        MARKED
            .lock()
            .unwrap()
            .extend([(inner.id(), 90_001), (other.id(), 90_002)]);

        let items = outer.snapshot();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items.items()[0].detail(), Some("fd 90001"));
        assert_eq!(items.items()[0].site().line(), 3);
        assert!(outer.check().is_err());
        assert_eq!(other.snapshot().len(), 1);

        // A tracked item holding the same descriptor stands for it.
        #[cfg(unix)]
        {
            use std::os::fd::{AsFd, AsRawFd};

            let file = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/src/external.rs"))
                .unwrap();
            MARKED.lock().unwrap().push((inner.id(), file.as_raw_fd()));
            assert_eq!(outer.snapshot().len(), 2);
            let tracked = inner.run(|| Tag::for_fd("file", file.as_fd()));
            let items = outer.snapshot();
            assert_eq!(items.len(), 2, "{items:?}");
            assert!(items.items().iter().any(|i| i.kind() == "file"));
            assert!(
                items
                    .items()
                    .iter()
                    .all(|i| i.kind() == "file" || i.detail() == Some("fd 90001"))
            );
            drop(tracked);
        }

        MARKED.lock().unwrap().clear();
        assert!(outer.check().is_ok());
        assert!(unregister("tests"));
        assert!(!is_registered("tests"));
    }
}
