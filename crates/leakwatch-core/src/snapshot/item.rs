//! One item of a snapshot: what it is, where and when it was opened, and
//! why a report holds it.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::Site;
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
    pub(super) kind: &'static str,
    pub(super) site: Site,
    /// The caller location of a tracked item; `None` for one seen from
    /// outside the registry ([`Item::external`]).
    pub(super) location: Option<&'static Location<'static>>,
    pub(super) detail: Option<String>,
    pub(super) age: Duration,
    /// Shared by the items a thread opened: a snapshot names each thread
    /// once.
    pub(super) thread: Arc<str>,
    pub(super) scope: ScopeId,
    pub(super) finding: Finding,
    /// Shared with the record: a snapshot does not copy stacks.
    pub(super) stack: Option<Arc<Stack>>,
    pub(super) id: Option<u64>,
    /// Names the item among those open at once, across snapshots.
    pub(super) key: u64,
    /// The descriptor the item holds, when known: how an item seen from
    /// outside is matched with a tracked one for the same descriptor.
    pub(super) fd: Option<i32>,
    /// What kind of file a descriptor refers to (`"tcp"`, `"file"`), when
    /// its source says.
    pub(super) file_type: Option<&'static str>,
    /// How many items this one stands for: the N of `LEAKWATCH=sampled:N`
    /// for a tracked item at that level, else 1.
    pub(super) weight: u32,
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
            finding: Finding::StillOpen,
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
        self.finding
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
