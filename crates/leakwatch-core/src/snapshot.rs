//! Owned copies of registry records: the one way data leaves the registry.
//!
//! A [`Snapshot`] is taken under the registry's locks and then owned by the
//! caller, so reports and exporters format, sort and symbolize at leisure
//! without holding up code that opens and closes items.

use std::fmt;
use std::panic::Location;
use std::time::Duration;

use crate::scope_id::ScopeId;
use crate::stack::Stack;

/// Items as they were when the snapshot was taken.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// let tag = scope.run(|| leakwatch_core::Tag::with_detail("file", "/tmp/x"));
/// for item in scope.snapshot().items() {
///     assert_eq!(item.kind(), "file");
///     assert_eq!(item.detail(), Some("/tmp/x"));
/// }
/// # drop(tag);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    items: Vec<Item>,
}

/// One open item, or one must-close item dropped without close.
///
/// ```
/// let tag = leakwatch_core::Tag::with_detail("socket", "10.0.0.1:443");
/// for item in leakwatch_core::Snapshot::all().items() {
///     println!("{} {} at {} ({:?})", item.kind(), item.detail().unwrap_or("-"), item.site(), item.age());
/// }
/// # drop(tag);
/// ```
#[derive(Clone, Debug)]
pub struct Item {
    kind: &'static str,
    site: &'static Location<'static>,
    detail: Option<String>,
    age: Duration,
    thread: String,
    scope: ScopeId,
    problem: Finding,
    stack: Option<Stack>,
    id: Option<u64>,
    /// Names the item among those open at once, across snapshots.
    key: u64,
}

/// Why an item is in a report.
///
/// ```
/// use leakwatch_core::{Finding, Scope, Tag};
///
/// let scope = Scope::new("s");
/// scope.run(|| drop(Tag::must_close("db-txn")));
/// # if !leakwatch_core::COMPILED_IN { return; }
/// let report = scope.check_now().unwrap_err();
/// assert_eq!(report.groups()[0].finding(), Finding::DroppedWithoutClose);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Finding {
    /// It is still open at the check.
    StillOpen,
    /// It had to be closed explicitly and was dropped instead.
    DroppedWithoutClose,
}

impl Finding {
    /// How a report says it: `"still open"`, `"dropped without close"`.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Finding::StillOpen.as_str(), "still open");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Finding::StillOpen => "still open",
            Finding::DroppedWithoutClose => "dropped without close",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Snapshot {
    /// The items, in no particular order.
    ///
    /// ```
    /// assert!(leakwatch_core::Snapshot::default().items().is_empty());
    /// ```
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// How many items there are.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Snapshot::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    ///
    /// ```
    /// assert!(leakwatch_core::Snapshot::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every item open in the process now, in every scope and none: what a
    /// production exporter shows.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("socket");
    /// let all = leakwatch_core::Snapshot::all();
    /// assert!(all.len() >= usize::from(tag.is_tracked()));
    /// ```
    pub fn all() -> Snapshot {
        imp::collect(|_| true)
    }

    /// Items open at least as long as `threshold` says for their kind
    /// (`None`: not watched), in every scope and none: what a long-held
    /// watchdog looks at. Only those items are built; the walk allocates
    /// nothing for the others, so it stays cheap with many items open.
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
        imp::held_past(threshold)
    }

    /// How many records of `kind` are open in `scope` or below it: counted in
    /// the registry, without building items (no labels, no `/proc` reads).
    pub(crate) fn count_open(scope: ScopeId, kind: &str) -> usize {
        imp::count_open(scope, kind)
    }

    /// Leaves out the items `rules` match.
    pub(crate) fn without(mut self, rules: &[crate::Ignore]) -> Snapshot {
        if !rules.is_empty() {
            self.items
                .retain(|item| !rules.iter().any(|rule| rule.matches(item)));
        }
        self
    }

    /// What [`Scope::check`](crate::Scope::check) looks at: items open in
    /// `scope` or a scope below it, and their must-close items dropped
    /// without close.
    pub(crate) fn of_scope(scope: ScopeId) -> Snapshot {
        imp::of_scope(scope)
    }

    /// Notes that a check of `scope` reported the must-close items its
    /// family dropped without close, so that they are not printed again
    /// when the scope goes.
    pub(crate) fn mark_reported(scope: ScopeId) {
        imp::mark_reported(scope)
    }
}

impl Item {
    /// What kind of thing it is: `"file"`, `"tcp"`, `"db-conn"`.
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// # for item in scope.snapshot().items() {
    /// assert_eq!(item.kind(), "file");
    /// # }
    /// ```
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Where in the user's code it was opened.
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// # for item in scope.snapshot().items() {
    /// assert_eq!(item.site().file(), file!());
    /// # }
    /// ```
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// The path, address or name given when it was opened.
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::with_detail("file", "a.txt"));
    /// # for item in scope.snapshot().items() {
    /// assert_eq!(item.detail(), Some("a.txt"));
    /// # }
    /// ```
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// How long it had been open when the snapshot was taken (to the
    /// resolution of a coarse clock, a few milliseconds).
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// # for item in scope.snapshot().items() {
    /// assert!(item.age() < std::time::Duration::from_secs(60));
    /// # }
    /// ```
    pub fn age(&self) -> Duration {
        self.age
    }

    /// The thread that opened it: `'name'` while a named thread runs, else
    /// `#number`.
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// # for item in scope.snapshot().items() {
    /// println!("opened on thread {}", item.thread());
    /// # }
    /// ```
    pub fn thread(&self) -> &str {
        &self.thread
    }

    /// The scope that was current when it was opened.
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// # for item in scope.snapshot().items() {
    /// assert_eq!(item.scope(), scope.id());
    /// # }
    /// ```
    pub fn scope(&self) -> ScopeId {
        self.scope
    }

    /// Whether it is still open or was dropped without close.
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// # for item in scope.snapshot().items() {
    /// assert_eq!(item.finding(), leakwatch_core::Finding::StillOpen);
    /// # }
    /// ```
    pub fn finding(&self) -> Finding {
        self.problem
    }

    /// The id given to the item, such as a task id ([`Tag::set_id`](crate::Tag::set_id)).
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("task"));
    /// # tag.set_id(9);
    /// # for item in scope.snapshot().items() {
    /// assert_eq!(item.id(), Some(9));
    /// assert_eq!(item.detail(), Some("id 9"));
    /// # }
    /// ```
    pub fn id(&self) -> Option<u64> {
        self.id
    }

    /// A number naming this item among those open at the same time, the
    /// same in every snapshot while it stays open: to tell, across
    /// snapshots, an item seen before from a new one (a watchdog warns once
    /// per item).
    ///
    /// ```
    /// use leakwatch_core::Snapshot;
    ///
    /// let tag = leakwatch_core::Tag::new("db-conn");
    /// let keys = |s: Snapshot| s.items().iter().filter(|i| i.kind() == "db-conn").map(|i| i.key()).collect::<Vec<_>>();
    /// assert_eq!(keys(Snapshot::all()), keys(Snapshot::all()));
    /// # drop(tag);
    /// ```
    pub fn key(&self) -> u64 {
        self.key
    }

    /// The raw stack at open, captured at `LEAKWATCH=stacks`.
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// # for item in scope.snapshot().items() {
    /// if let Some(stack) = item.stack() {
    ///     println!("{:?}", stack.frames().first());
    /// }
    /// # }
    /// ```
    pub fn stack(&self) -> Option<&Stack> {
        self.stack.as_ref()
    }
}

cfg_on! {
    mod imp {
        use std::collections::HashSet;
        use std::time::Duration;

        use super::{Item, Snapshot};
        use super::Finding;
        use crate::clock;
        use crate::registry::{self, Record, scopes};
        use crate::scope_id::ScopeId;

        pub(super) fn collect(mut keep: impl FnMut(ScopeId) -> bool) -> Snapshot {
            let now = clock::now_nanos();
            let mut items = Vec::new();
            registry::for_each_live(|r| {
                if keep(r.scope) {
                    items.push(item(r, now, Finding::StillOpen));
                }
            });
            Snapshot { items }
        }

        pub(super) fn count_open(id: ScopeId, kind: &str) -> usize {
            let family = scopes::family(id);
            if registry::quiet(&family) {
                return 0;
            }
            let family: HashSet<ScopeId> = family.into_iter().collect();
            let mut count = 0;
            registry::for_each_live(|r| {
                count += usize::from(r.kind == kind && family.contains(&r.scope));
            });
            count
        }

        /// A quiet family is answered from its scopes' counts (see the
        /// registry's "# Counting"); only one with something open walks the
        /// records. A walk that finds nothing (what it saw closed while it
        /// looked) looks again.
        pub(super) fn of_scope(id: ScopeId) -> Snapshot {
            let family = scopes::family(id);
            let mut snapshot = Snapshot::default();
            let mut set: Option<HashSet<ScopeId>> = None;
            for _ in 0..64 {
                if registry::quiet(&family) {
                    break;
                }
                let set = set.get_or_insert_with(|| family.iter().copied().collect());
                snapshot = collect(|s| set.contains(&s));
                if !snapshot.is_empty() {
                    break;
                }
            }
            if registry::unclosed::any(|s| family.contains(&s)) {
                let now = clock::now_nanos();
                registry::unclosed::for_each(
                    |s| family.contains(&s),
                    |r| snapshot.items.push(item(r, now, Finding::DroppedWithoutClose)),
                );
            }
            snapshot
        }

        /// Marks the dropped-without-close findings of `id`'s family as
        /// reported: a check failed with them.
        pub(super) fn mark_reported(id: ScopeId) {
            let family = scopes::family(id);
            registry::unclosed::mark_reported(|s| family.contains(&s));
        }

        /// The path of a recorded descriptor. Called under its shard's lock,
        /// so the item is still open and the number still means its file.
        fn fd_path(fd: i32) -> Option<String> {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let path = match std::fs::read_link(format!("/proc/self/fd/{fd}")) {
                Ok(path) => path.display().to_string(),
                Err(err) => format!("fd {fd} (path unknown: /proc/self/fd/{fd}: {err})"),
            };
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            let path = format!("fd {fd}");
            Some(path)
        }

        fn item(r: &Record, now: u64, problem: Finding) -> Item {
            Item {
                kind: r.kind,
                site: r.site,
                detail: describe(r),
                id: r.id(),
                age: Duration::from_nanos(now.saturating_sub(r.opened)),
                thread: registry::thread_label(r.thread),
                scope: r.scope,
                problem,
                stack: r.stack().cloned(),
                key: key(r),
            }
        }

        /// What names a record among those open at once: where, when and
        /// by which thread it was opened, and its number.
        fn key(r: &Record) -> u64 {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::hash::DefaultHasher::new();
            (std::ptr::from_ref(r.site).addr(), r.opened, r.thread, r.kind, r.number)
                .hash(&mut hasher);
            hasher.finish()
        }

        pub(super) fn held_past(threshold: impl Fn(&str) -> Option<Duration>) -> Snapshot {
            let now = clock::now_nanos();
            let mut items = Vec::new();
            registry::for_each_live(|r| {
                if let Some(threshold) = threshold(r.kind)
                    && Duration::from_nanos(now.saturating_sub(r.opened)) >= threshold
                {
                    items.push(item(r, now, Finding::StillOpen));
                }
            });
            Snapshot { items }
        }

        /// The detail given at open, else the path of the recorded
        /// descriptor; with the id, if any, after it.
        fn describe(r: &Record) -> Option<String> {
            let detail = r.detail().map(str::to_owned).or_else(|| r.fd().and_then(fd_path));
            match (detail, r.id()) {
                (Some(detail), Some(id)) => Some(format!("{detail} (id {id})")),
                (None, Some(id)) => Some(format!("id {id}")),
                (detail, None) => detail,
            }
        }

        #[cfg(test)]
        mod tests {
            use super::fd_path;

            #[test]
            fn fd_paths_name_the_file_or_say_why_not() {
                let file = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/src/snapshot.rs")).unwrap();
                #[cfg(any(target_os = "linux", target_os = "android"))]
                {
                    use std::os::fd::AsRawFd;
                    let path = fd_path(file.as_raw_fd()).unwrap();
                    assert!(path.ends_with("snapshot.rs"), "{path}");
                    let missing = fd_path(999_999).unwrap();
                    assert!(
                        missing.starts_with("fd 999999 (path unknown: /proc/self/fd/999999: "),
                        "{missing}"
                    );
                }
                drop(file);
            }
        }
    }
}

cfg_off! {
    mod imp {
        use super::Snapshot;
        use crate::scope_id::ScopeId;

        pub(super) fn collect(_keep: impl FnMut(ScopeId) -> bool) -> Snapshot {
            Snapshot::default()
        }

        pub(super) fn count_open(_id: ScopeId, _kind: &str) -> usize {
            0
        }

        pub(super) fn of_scope(_id: ScopeId) -> Snapshot {
            Snapshot::default()
        }

        pub(super) fn held_past(_threshold: impl Fn(&str) -> Option<std::time::Duration>) -> Snapshot {
            Snapshot::default()
        }

        pub(super) fn mark_reported(_id: ScopeId) {}
    }
}
