//! Owned copies of registry records: the one way data leaves the registry.
//!
//! A [`Snapshot`] is taken under the registry's locks and then owned by the
//! caller, so reports and exporters format, sort and symbolize at leisure
//! without holding up code that opens and closes items.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use crate::scope_id::ScopeId;
use crate::stack::Stack;

/// The types of file a descriptor item is grouped by
/// ([`Item::file_type`]): a fixed set, so that a metric labelled by it has
/// a bounded number of series. `"file"` is a regular file or device,
/// `"other"` anything not named here (a socket of another family, a
/// pidfd).
///
/// ```
/// assert!(leakwatch_core::FILE_TYPES.contains(&"tcp"));
/// assert_eq!(leakwatch_core::FILE_TYPES.last(), Some(&"other"));
/// ```
pub const FILE_TYPES: [&str; 13] = [
    "file", "dir", "tcp", "udp", "unix", "pipe", "eventfd", "epoll", "timerfd", "signalfd",
    "memfd", "inotify", "other",
];

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
    site: Site,
    /// The caller location of a tracked item; `None` for one seen from
    /// outside the registry ([`Item::external`]).
    location: Option<&'static Location<'static>>,
    detail: Option<String>,
    age: Duration,
    /// Shared by the items a thread opened: a snapshot names each thread
    /// once.
    thread: Arc<str>,
    scope: ScopeId,
    problem: Finding,
    /// Shared with the record: a snapshot does not copy stacks.
    stack: Option<Arc<Stack>>,
    id: Option<u64>,
    /// Names the item among those open at once, across snapshots.
    key: u64,
    /// The descriptor the item holds, when known: how an item seen from
    /// outside is matched with a tracked one for the same descriptor.
    fd: Option<i32>,
    /// What kind of file a descriptor refers to (`"tcp"`, `"file"`), when
    /// its source says.
    file_type: Option<&'static str>,
    /// How many items this one stands for: the N of `LEAKWATCH=sampled:N`
    /// for a tracked item at that level, else 1.
    weight: u32,
}

/// Where an item was opened: a file, line and column.
///
/// A tracked item's site is its caller's [`Location`]; an item seen from
/// outside the registry ([`Item::external`]) takes its site from the
/// first frame of the user's code on its stack, or has none known
/// ([`Site::unknown`]), which a report prints as the text given.
///
/// ```
/// let site = leakwatch_core::Site::new("tests/db.rs", 12, 5);
/// assert_eq!((site.file(), site.line(), site.column()), ("tests/db.rs", 12, 5));
/// assert_eq!(site.to_string(), "tests/db.rs:12:5");
/// let unknown = leakwatch_core::Site::unknown("an unknown line");
/// assert!(!unknown.is_known());
/// assert_eq!(unknown.to_string(), "an unknown line");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    file: Cow<'static, str>,
    /// Zero for a site that is not known.
    line: u32,
    column: u32,
}

impl Site {
    /// A site at `file:line:column`.
    ///
    /// ```
    /// let site = leakwatch_core::Site::new(String::from("src/lib.rs"), 3, 1);
    /// assert_eq!(site.line(), 3);
    /// ```
    pub fn new(file: impl Into<Cow<'static, str>>, line: u32, column: u32) -> Site {
        Site {
            file: file.into(),
            line,
            column,
        }
    }

    /// A site that is not known, printed as `what` (which says why).
    ///
    /// ```
    /// let site = leakwatch_core::Site::unknown("no stack captured");
    /// assert_eq!((site.file(), site.line()), ("no stack captured", 0));
    /// ```
    pub fn unknown(what: impl Into<Cow<'static, str>>) -> Site {
        Site::new(what, 0, 0)
    }

    /// The source file (for an unknown site, the text given).
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Site::new("a.rs", 1, 1).file(), "a.rs");
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line, zero when the site is not known.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Site::new("a.rs", 7, 1).line(), 7);
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The column (zero when not known).
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Site::new("a.rs", 7, 9).column(), 9);
    /// ```
    pub fn column(&self) -> u32 {
        self.column
    }

    /// Whether a line is known.
    ///
    /// ```
    /// assert!(leakwatch_core::Site::new("a.rs", 7, 9).is_known());
    /// ```
    pub fn is_known(&self) -> bool {
        self.line != 0
    }

    /// As a report prints it: the file shortened as
    /// [`short_path`](crate::stack) does (relative to the workspace, a
    /// registry crate from its `name-version` folder).
    pub(crate) fn shown(&self) -> String {
        if !self.is_known() {
            return self.file.to_string();
        }
        let file = crate::stack::short_path(&self.file);
        match self.column {
            0 => format!("{file}:{}", self.line),
            column => format!("{file}:{}:{column}", self.line),
        }
    }
}

impl From<&'static Location<'static>> for Site {
    fn from(location: &'static Location<'static>) -> Site {
        Site::new(location.file(), location.line(), location.column())
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.is_known() {
            write!(f, ":{}", self.line)?;
            if self.column != 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        Ok(())
    }
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

    /// An item seen outside the registry, such as a descriptor, thread or
    /// child process that code not using leakwatch's wrappers created, for
    /// an external source (see `leakwatch_core::external`) to return. It is still open
    /// (`Finding::StillOpen`); the `with_*` methods add what is known.
    ///
    /// ```
    /// use std::time::Duration;
    /// use leakwatch_core::{Item, ScopeId, Site};
    ///
    /// let item = Item::external("fd", Site::new("tests/db.rs", 12, 5), ScopeId::NONE)
    ///     .with_detail("file /tmp/db.sqlite")
    ///     .with_age(Duration::from_millis(20))
    ///     .with_thread("'db_test'")
    ///     .with_fd(7);
    /// assert_eq!(item.kind(), "fd");
    /// assert_eq!(item.detail(), Some("file /tmp/db.sqlite"));
    /// assert_eq!(item.site().line(), 12);
    /// ```
    pub fn external(kind: &'static str, site: Site, scope: ScopeId) -> Item {
        Item {
            kind,
            site,
            location: None,
            detail: None,
            age: Duration::ZERO,
            thread: Arc::from(""),
            scope,
            problem: Finding::StillOpen,
            stack: None,
            id: None,
            fd: None,
            key: 0,
            file_type: None,
            weight: 1,
        }
    }

    /// This item with a detail: a path, an address, a name.
    ///
    /// ```
    /// # use leakwatch_core::{Item, ScopeId, Site};
    /// let item = Item::external("thread", Site::unknown("?"), ScopeId::NONE).with_detail("'worker'");
    /// assert_eq!(item.detail(), Some("'worker'"));
    /// ```
    pub fn with_detail(mut self, detail: impl Into<String>) -> Item {
        self.detail = Some(detail.into());
        self
    }

    /// This item, open for `age`.
    ///
    /// ```
    /// # use leakwatch_core::{Item, ScopeId, Site};
    /// # use std::time::Duration;
    /// let item = Item::external("fd", Site::unknown("?"), ScopeId::NONE).with_age(Duration::from_secs(1));
    /// assert_eq!(item.age(), Duration::from_secs(1));
    /// ```
    pub fn with_age(mut self, age: Duration) -> Item {
        self.age = age;
        self
    }

    /// This item, opened on `thread` (as a report names threads: `'name'`
    /// or `#number`).
    ///
    /// ```
    /// # use leakwatch_core::{Item, ScopeId, Site};
    /// let item = Item::external("fd", Site::unknown("?"), ScopeId::NONE).with_thread("#4242");
    /// assert_eq!(item.thread(), "#4242");
    /// ```
    pub fn with_thread(mut self, thread: impl Into<Arc<str>>) -> Item {
        self.thread = thread.into();
        self
    }

    /// This item, with the stack captured when it was opened.
    ///
    /// ```
    /// # use leakwatch_core::{Item, ScopeId, Site, Stack};
    /// let item = Item::external("fd", Site::unknown("?"), ScopeId::NONE)
    ///     .with_stack(Stack::from_addresses(&[], true));
    /// assert!(item.stack().is_some());
    /// ```
    pub fn with_stack(mut self, stack: impl Into<Arc<Stack>>) -> Item {
        self.stack = Some(stack.into());
        self
    }

    /// This item, holding descriptor `fd`: an item tracked through
    /// leakwatch's wrappers for the same descriptor in the same snapshot
    /// stands for it, so it is not reported twice.
    ///
    /// ```
    /// # use leakwatch_core::{Item, ScopeId, Site};
    /// let item = Item::external("fd", Site::unknown("?"), ScopeId::NONE).with_fd(3);
    /// # drop(item);
    /// ```
    pub fn with_fd(mut self, fd: i32) -> Item {
        self.fd = Some(fd);
        self
    }

    /// This item, a descriptor referring to a file of type `file_type`:
    /// one of [`FILE_TYPES`], which exporters group descriptors by (any
    /// other name is counted as `"other"`).
    ///
    /// ```
    /// # use leakwatch_core::{Item, ScopeId, Site};
    /// let item = Item::external("fd", Site::unknown("?"), ScopeId::NONE).with_file_type("tcp");
    /// assert_eq!(item.file_type(), Some("tcp"));
    /// ```
    pub fn with_file_type(mut self, file_type: &'static str) -> Item {
        self.file_type = Some(file_type);
        self
    }

    /// This item, named by `key` among those open at once ([`Item::key`]):
    /// for a source whose items' details change while they stay open (a
    /// TCP socket's state), so that a watchdog still knows them. Keys of
    /// tracked items are odd, so an even `key` never names one of them.
    ///
    /// ```
    /// # use leakwatch_core::{Item, ScopeId, Site};
    /// let item = Item::external("fd", Site::unknown("?"), ScopeId::NONE).with_key(42);
    /// assert_eq!(item.key(), 42);
    /// ```
    pub fn with_key(mut self, key: u64) -> Item {
        self.key = key;
        self
    }

    /// What kind of file a descriptor refers to, when its source says
    /// (one of [`FILE_TYPES`]).
    ///
    /// ```
    /// # use leakwatch_core::{Item, ScopeId, Site};
    /// let item = Item::external("fd", Site::unknown("?"), ScopeId::NONE);
    /// assert_eq!(item.file_type(), None);
    /// ```
    pub fn file_type(&self) -> Option<&'static str> {
        self.file_type
    }

    /// How many items this one stands for: at `LEAKWATCH=sampled:N` one
    /// tracked item in N is recorded, so each recorded one stands for N
    /// (as each sample of Go's heap profile stands for its sampling
    /// period); 1 otherwise, and for items of live sources, which see
    /// every one. N is the level's when the snapshot is taken: set the
    /// level once, at start, as `LEAKWATCH` does.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("socket");
    /// for item in leakwatch_core::Snapshot::all().items() {
    ///     assert!(item.weight() >= 1);
    /// }
    /// # drop(tag);
    /// ```
    pub fn weight(&self) -> u32 {
        self.weight
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
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The caller location of an item tracked through the registry.
    pub(crate) fn location(&self) -> Option<&'static Location<'static>> {
        self.location
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
        if self.key != 0 {
            return self.key;
        }
        // An item from outside the registry: named by what it holds.
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (self.kind, &self.site, self.fd, self.id, &self.detail).hash(&mut hasher);
        hasher.finish()
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
        self.stack.as_deref()
    }

    /// The thread that opened it ([`thread`](Item::thread)), shared with
    /// the other items of this snapshot that it opened.
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// # for item in scope.snapshot().items() {
    /// let thread: std::sync::Arc<str> = item.shared_thread();
    /// assert_eq!(&*thread, item.thread());
    /// # }
    /// ```
    pub fn shared_thread(&self) -> Arc<str> {
        Arc::clone(&self.thread)
    }

    /// The stack at open ([`stack`](Item::stack)), shared rather than
    /// copied.
    ///
    /// ```
    /// # let scope = leakwatch_core::Scope::new("s");
    /// # let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// # for item in scope.snapshot().items() {
    /// assert_eq!(item.shared_stack().as_deref(), item.stack());
    /// # }
    /// ```
    pub fn shared_stack(&self) -> Option<Arc<Stack>> {
        self.stack.clone()
    }

    /// The detail ([`detail`](Item::detail)), moved out of the item rather
    /// than copied: for turning a snapshot into another form.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("s");
    /// let tag = scope.run(|| leakwatch_core::Tag::with_detail("file", "a.txt"));
    /// for item in scope.snapshot() {
    /// #   if !leakwatch_core::COMPILED_IN { break; }
    ///     assert_eq!(item.into_detail().as_deref(), Some("a.txt"));
    /// }
    /// # drop(tag);
    /// ```
    pub fn into_detail(self) -> Option<String> {
        self.detail
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

            fn item(&mut self, r: &Record, problem: Finding) -> Item {
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
                    problem,
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

        pub(super) fn held_past(
            _threshold: &dyn Fn(&str) -> Option<std::time::Duration>,
        ) -> (Snapshot, std::collections::HashSet<i32>) {
            (Snapshot::default(), std::collections::HashSet::new())
        }

        pub(super) fn mark_reported(_id: ScopeId) {}
    }
}
