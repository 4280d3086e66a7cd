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

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::scope_id::ScopeId;
use crate::snapshot::{Item, Snapshot};

/// A source: what the given family of scopes (a scope, then those below
/// it) has open that the registry does not hold. Called on every check,
/// clean ones included, so it answers a family with nothing open in
/// microseconds.
pub type Source = fn(&[ScopeId]) -> Vec<Item>;

/// The registered sources, by name.
static SOURCES: Mutex<Vec<(&'static str, Source)>> = Mutex::new(Vec::new());

/// Whether any source is registered: checks with none take no lock.
static ANY: AtomicBool = AtomicBool::new(false);

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
    let mut sources = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
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
    ANY.store(true, Ordering::Release);
    new
}

/// Removes the source registered under `name`; returns whether there was
/// one.
///
/// ```
/// assert!(!leakwatch_core::external::unregister("never registered"));
/// ```
pub fn unregister(name: &str) -> bool {
    let mut sources = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    let before = sources.len();
    sources.retain(|(n, _)| *n != name);
    ANY.store(!sources.is_empty(), Ordering::Release);
    sources.len() != before
}

/// Whether a source is registered under `name`.
///
/// ```
/// assert!(!leakwatch_core::external::is_registered("never registered"));
/// ```
pub fn is_registered(name: &str) -> bool {
    LINKED.iter().any(|(n, _)| *n == name)
        || ANY.load(Ordering::Acquire)
            && SOURCES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|(n, _)| *n == name)
}

/// `snapshot` of scope `id`'s family, with what each source has open in
/// that family added.
pub(crate) fn join(mut snapshot: Snapshot, id: ScopeId) -> Snapshot {
    if LINKED.is_empty() && !ANY.load(Ordering::Acquire) {
        return snapshot;
    }
    // Copied out: a source may take a while, and may itself register.
    let mut sources: Vec<Source> = LINKED.iter().map(|&(_, source)| source).collect();
    if ANY.load(Ordering::Acquire) {
        sources.extend(
            SOURCES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|&(_, source)| source),
        );
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
