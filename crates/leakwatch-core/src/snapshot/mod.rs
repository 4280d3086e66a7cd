//! Owned copies of registry records: the one way data leaves the registry.
//!
//! A [`Snapshot`] is taken under the registry's locks and then owned by the
//! caller, so reports and exporters format, sort and symbolize at leisure
//! without holding up code that opens and closes items.

use std::collections::HashSet;
use std::time::Duration;

use crate::scope_id::ScopeId;

mod item;
mod site;

pub use item::{FILE_TYPES, Finding, Item};
pub use site::Site;

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

/// The items, moved out of the snapshot.
///
/// ```
/// let tag = leakwatch_core::Tag::new("socket");
/// let kinds: Vec<&str> = leakwatch_core::Snapshot::all().into_iter().map(|i| i.kind()).collect();
/// # drop((tag, kinds));
/// ```
impl IntoIterator for Snapshot {
    type Item = Item;
    type IntoIter = std::vec::IntoIter<Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// The items, borrowed.
///
/// ```
/// let snapshot = leakwatch_core::Snapshot::all();
/// for item in &snapshot {
///     println!("{}", item.kind());
/// }
/// ```
impl<'a> IntoIterator for &'a Snapshot {
    type Item = &'a Item;
    type IntoIter = std::slice::Iter<'a, Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
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

    /// The tracked items open in the process now, in every scope and none,
    /// without what live sources see: the registry's own count.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("socket");
    /// let tracked = leakwatch_core::Snapshot::tracked();
    /// assert_eq!(
    ///     tracked.items().iter().filter(|i| i.kind() == "socket").count(),
    ///     usize::from(tag.is_tracked())
    /// );
    /// ```
    pub fn tracked() -> Snapshot {
        imp::collect(|_| true)
    }

    /// The tracked items open at least as long as `threshold` says for
    /// their kind, and the descriptors every tracked item holds: the
    /// registry's part of [`Snapshot::held_past`].
    pub(crate) fn tracked_held_past(
        threshold: &dyn Fn(&str) -> Option<Duration>,
    ) -> (Snapshot, HashSet<i32>) {
        imp::held_past(threshold)
    }

    /// The descriptors the items here hold.
    pub(crate) fn fds(&self) -> HashSet<i32> {
        self.items.iter().filter_map(|i| i.fd).collect()
    }

    /// How many items the items here stand for: each counts its
    /// [`weight`](Item::weight), so at `LEAKWATCH=sampled:N` this estimates
    /// how many are open in all, recorded or not.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("socket");
    /// let all = leakwatch_core::Snapshot::all();
    /// assert!(all.estimated_total() >= all.len() as u64);
    /// # drop(tag);
    /// ```
    pub fn estimated_total(&self) -> u64 {
        self.items.iter().map(|i| u64::from(i.weight)).sum()
    }

    /// How many records of `kind` are open in `scope` or below it: counted in
    /// the registry, without building items (no labels, no `/proc` reads).
    pub(crate) fn count_open(scope: ScopeId, kind: &str) -> usize {
        imp::count_open(scope, kind)
    }

    /// Adds `items` seen outside the registry, leaving out those that a
    /// tracked item here already holds (the same descriptor): leakwatch's
    /// wrappers are seen by both.
    pub(crate) fn join(&mut self, items: Vec<Item>) {
        let fds: HashSet<i32> = self.items.iter().filter_map(|i| i.fd).collect();
        self.join_except(items, &fds);
    }

    /// Adds `items`, leaving out those holding a descriptor in `fds`.
    pub(crate) fn join_except(&mut self, items: Vec<Item>, fds: &HashSet<i32>) {
        self.items.extend(
            items
                .into_iter()
                .filter(|item| !item.fd.is_some_and(|fd| fds.contains(&fd))),
        );
    }

    /// Leaves out the items `rules` match.
    pub(crate) fn without(mut self, rules: &[crate::Ignore]) -> Snapshot {
        if !rules.is_empty() {
            self.items
                .retain(|item| !rules.iter().any(|rule| rule.matches(item)));
        }
        self
    }

    /// Leaves out the items `rules` match, with how many each rule left out
    /// (an item counts for the first rule that matches it).
    ///
    /// ```
    /// use leakwatch_core::{Ignore, Scope, Tag};
    ///
    /// let scope = Scope::new("s");
    /// let tags = scope.run(|| (Tag::new("task"), Tag::new("file")));
    /// let rules = [Ignore::Kind("task".into()), Ignore::Kind("socket".into())];
    /// let (left, tally) = scope.snapshot().without_tallied(&rules);
    /// if leakwatch_core::COMPILED_IN {
    ///     assert_eq!((left.len(), tally), (1, vec![1, 0]));
    /// }
    /// # drop(tags);
    /// ```
    pub fn without_tallied(mut self, rules: &[crate::Ignore]) -> (Snapshot, Vec<usize>) {
        let mut tally = vec![0; rules.len()];
        self.items.retain(
            |item| match rules.iter().position(|rule| rule.matches(item)) {
                Some(at) => {
                    tally[at] += 1;
                    false
                }
                None => true,
            },
        );
        (self, tally)
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

cfg_on! {
    mod imp {
        use std::collections::HashSet;
        use std::sync::Arc;
        use std::time::Duration;

        use super::{Item, Snapshot};
        use super::Finding;
        use crate::clock;
        use crate::registry::{self, Number, Record, scopes};
        use crate::scope_id::ScopeId;

        pub(super) fn collect(mut keep: impl FnMut(ScopeId) -> bool) -> Snapshot {
            let mut build = Builder::new();
            let mut items = Vec::new();
            registry::for_each_live(|r| {
                if keep(r.scope) {
                    items.push(build.item(r, Finding::StillOpen));
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
                let mut build = Builder::new();
                registry::unclosed::for_each(
                    |s| family.contains(&s),
                    |r| snapshot.items.push(build.item(r, Finding::DroppedWithoutClose)),
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

        /// Builds the items of one snapshot: its time, and each thread's
        /// label made once and shared.
        struct Builder {
            now: u64,
            threads: Vec<(u32, Arc<str>)>,
            /// What each record stands for (see [`Item::weight`]).
            weight: u32,
        }

        impl Builder {
            fn new() -> Builder {
                Builder {
                    now: clock::now_nanos(),
                    threads: Vec::new(),
                    weight: match crate::config::level() {
                        crate::config::Level::Sampled(n) => n.get(),
                        _ => 1,
                    },
                }
            }

            fn item(&mut self, r: &Record, finding: Finding) -> Item {
                Item {
                    kind: r.kind,
                    site: r.site.into(),
                    location: Some(r.site),
                    fd: r.fd(),
                    detail: describe(r),
                    id: r.id(),
                    age: Duration::from_nanos(self.now.saturating_sub(r.opened)),
                    thread: self.thread(r.thread),
                    scope: r.scope,
                    finding,
                    stack: r.stack.clone(),
                    key: key(r),
                    file_type: None,
                    weight: self.weight,
                }
            }

            /// A snapshot meets few threads, most items in runs of the
            /// same one: the last label found is looked at first.
            fn thread(&mut self, number: u32) -> Arc<str> {
                if let Some(found) = self.threads.iter().rposition(|(n, _)| *n == number) {
                    let last = self.threads.len() - 1;
                    self.threads.swap(found, last);
                    return Arc::clone(&self.threads[last].1);
                }
                let label: Arc<str> = registry::thread_label(number).into();
                self.threads.push((number, Arc::clone(&label)));
                label
            }
        }

        /// What names a record among those open at once: where, when and
        /// by which thread it was opened, and its number. Never 0 (which
        /// [`Item::key`] reads as "not from the registry").
        fn key(r: &Record) -> u64 {
            let number = match r.number {
                Some(Number::Id(n)) => n,
                Some(Number::Fd(fd)) => !fd,
                None => 0,
            };
            let words = [
                std::ptr::from_ref(r.site).addr() as u64,
                r.opened,
                u64::from(r.thread),
                r.kind.as_ptr().addr() as u64,
                number,
            ];
            // A multiply-xorshift mix of each word in turn (the step of
            // splitmix64): cheap, and a change in any word changes the key.
            let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
            for w in words {
                h = (h ^ w).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                h ^= h >> 31;
            }
            h | 1
        }

        /// The tracked items past their kind's threshold, and the
        /// descriptors every tracked item holds.
        pub(super) fn held_past(
            threshold: &dyn Fn(&str) -> Option<Duration>,
        ) -> (Snapshot, HashSet<i32>) {
            let mut build = Builder::new();
            let mut items = Vec::new();
            let mut fds = HashSet::new();
            registry::for_each_live(|r| {
                if let Some(fd) = r.fd() {
                    fds.insert(fd);
                }
                if let Some(threshold) = threshold(r.kind)
                    && Duration::from_nanos(build.now.saturating_sub(r.opened)) >= threshold
                {
                    items.push(build.item(r, Finding::StillOpen));
                }
            });
            (Snapshot { items }, fds)
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
                let file = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/src/snapshot/mod.rs")).unwrap();
                #[cfg(any(target_os = "linux", target_os = "android"))]
                {
                    use std::os::fd::AsRawFd;
                    let path = fd_path(file.as_raw_fd()).unwrap();
                    assert!(path.ends_with("snapshot/mod.rs"), "{path}");
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

        pub(super) fn held_past(
            _threshold: &dyn Fn(&str) -> Option<std::time::Duration>,
        ) -> (Snapshot, std::collections::HashSet<i32>) {
            (Snapshot::default(), std::collections::HashSet::new())
        }

        pub(super) fn mark_reported(_id: ScopeId) {}
    }
}
