//! [`Capture`]: an owned, serializable copy of a snapshot.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{FORMAT, ReadError, ReadErrorKind};

mod json;

/// Every item that was live at one moment, with symbolized stacks.
///
/// ```
/// let socket = leakwatch_core::Tag::with_detail("tcp", "127.0.0.1:80");
/// let capture = leakwatch_export::Capture::now();
/// # if leakwatch_core::COMPILED_IN {
/// assert!(capture.entries().iter().any(|e| e.kind() == "tcp"));
/// # }
/// # drop(socket);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    /// The format version; checked before the rest is read.
    leakwatch: u64,
    /// When it was taken, in nanoseconds since the Unix epoch.
    taken_unix_nanos: u64,
    items: Vec<Entry>,
}

/// One live item of a [`Capture`].
///
/// ```
/// let file = leakwatch_core::Tag::with_detail("file", "/etc/hosts");
/// for entry in leakwatch_export::Capture::now().entries() {
///     println!("{} {} at {} for {:?}", entry.kind(), entry.detail().unwrap_or("-"), entry.site(), entry.age());
/// }
/// # drop(file);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    kind: Cow<'static, str>,
    site: CapturedSite,
    detail: Option<String>,
    age_nanos: u64,
    /// Shared between the entries opened on the same thread.
    thread: Arc<str>,
    scope: u64,
    id: Option<u64>,
    /// Innermost first; empty when no stack was recorded. Shared between
    /// the entries opened through the same stack.
    frames: Arc<[CapturedFrame]>,
    /// What kind of file a descriptor refers to, when known.
    file_type: Option<Cow<'static, str>>,
    /// How many items it stands for ([`leakwatch_core::Item::weight`]).
    weight: u32,
}

/// Where in the user's code a captured item was opened: the capture's
/// owned, serializable form of a [`leakwatch_core::Site`].
///
/// ```
/// let site = leakwatch_export::CapturedSite::new("src/db.rs", 42, 9);
/// assert_eq!(site.to_string(), "src/db.rs:42:9");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CapturedSite {
    /// Shared between the entries opened at the same site.
    file: Arc<str>,
    line: u32,
    column: u32,
}

/// One symbolized frame of the stack that opened a captured item: the
/// capture's owned, serializable form of a [`leakwatch_core::Frame`].
///
/// ```
/// use leakwatch_export::CapturedFrame;
///
/// let frame = CapturedFrame::new("app::db::connect", Some("src/db.rs"), Some(42));
/// assert_eq!(frame.to_string(), "app::db::connect at src/db.rs:42");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CapturedFrame {
    function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
}

#[derive(Deserialize)]
struct Version {
    leakwatch: u64,
}

impl Default for Capture {
    /// A capture with no entries, taken at the epoch.
    fn default() -> Capture {
        Capture {
            leakwatch: FORMAT,
            taken_unix_nanos: 0,
            items: Vec::new(),
        }
    }
}

impl Capture {
    /// Every item live in the process now ([`leakwatch_core::Snapshot::all`]).
    ///
    /// ```
    /// let capture = leakwatch_export::Capture::now();
    /// println!("{} live items", capture.entries().len());
    /// ```
    pub fn now() -> Capture {
        Capture::from(leakwatch_core::Snapshot::all())
    }

    /// An owned copy of `snapshot`, taken now. Each distinct stack is
    /// symbolized once, however many items share it. `Capture::from`
    /// a snapshot moves its details instead of copying them.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("job");
    /// let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// let capture = leakwatch_export::Capture::from_snapshot(&scope.snapshot());
    /// # if leakwatch_core::COMPILED_IN {
    /// assert_eq!(capture.entries().len(), 1);
    /// # }
    /// # drop(tag);
    /// ```
    pub fn from_snapshot(snapshot: &leakwatch_core::Snapshot) -> Capture {
        let mut convert = Convert::default();
        let items = snapshot
            .items()
            .iter()
            .map(|item| convert.entry(item, item.detail().map(str::to_owned)))
            .collect();
        Capture::from_parts(unix_nanos_now(), items)
    }

    /// The entries, in no particular order.
    ///
    /// ```
    /// assert!(leakwatch_export::Capture::default().entries().is_empty());
    /// ```
    pub fn entries(&self) -> &[Entry] {
        &self.items
    }

    /// When it was taken, as time since the Unix epoch.
    ///
    /// ```
    /// let capture = leakwatch_export::Capture::now();
    /// assert!(capture.taken_at().as_secs() > 0);
    /// ```
    pub fn taken_at(&self) -> Duration {
        Duration::from_nanos(self.taken_unix_nanos)
    }

    /// A capture of `items`, taken `taken_unix_nanos` after the epoch.
    pub(crate) fn from_parts(taken_unix_nanos: u64, items: Vec<Entry>) -> Capture {
        Capture {
            leakwatch: FORMAT,
            taken_unix_nanos,
            items,
        }
    }

    /// The same capture with only the entries `keep` accepts.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&Entry) -> bool) -> Capture {
        Capture {
            leakwatch: self.leakwatch,
            taken_unix_nanos: self.taken_unix_nanos,
            items: self.items.iter().filter(|e| keep(e)).cloned().collect(),
        }
    }

    /// The JSON form: `{"leakwatch": 2, "taken_unix_nanos": ..., "stacks":
    /// [...], "items": [...]}`, each item with `kind`, `site`, `detail`,
    /// `age_nanos`, `thread`, `scope`, `id` and `stack`, the index of its
    /// frames (innermost first) in `stacks`: each distinct stack is written
    /// once. A descriptor's type of file is in `file_type`, and an item
    /// standing for more than one (sampled) has its `weight`.
    ///
    /// ```
    /// let json = leakwatch_export::Capture::default().to_json();
    /// assert!(json.starts_with(r#"{"leakwatch":2,"#));
    /// ```
    pub fn to_json(&self) -> String {
        // Every field is a string, a number or a sequence of them: writing
        // to a String cannot fail. About 150 bytes an entry: one
        // allocation, instead of a string that doubles (and is copied) a
        // dozen times on its way to megabytes.
        let mut json = Vec::with_capacity(64 + 160 * self.items.len());
        serde_json::to_writer(&mut json, self).expect("a capture serializes");
        String::from_utf8(json).expect("serde_json writes UTF-8")
    }

    /// Reads what [`Capture::to_json`] wrote.
    ///
    /// # Errors
    ///
    /// [`ReadErrorKind::NotACapture`] for input that is not a capture's
    /// JSON, [`ReadErrorKind::UnsupportedVersion`] for another format
    /// version.
    ///
    /// ```
    /// use leakwatch_export::Capture;
    ///
    /// let capture = Capture::now();
    /// assert_eq!(Capture::from_json(&capture.to_json()).unwrap(), capture);
    /// assert!(Capture::from_json("not json").is_err());
    /// ```
    pub fn from_json(json: &str) -> Result<Capture, ReadError> {
        let not_a_capture =
            |e: serde_json::Error| ReadError::new(ReadErrorKind::NotACapture(e.to_string()));
        let version: Version = serde_json::from_str(json).map_err(not_a_capture)?;
        if version.leakwatch != FORMAT {
            return Err(ReadError::new(ReadErrorKind::UnsupportedVersion(
                version.leakwatch,
            )));
        }
        serde_json::from_str(json).map_err(not_a_capture)
    }
}

/// A snapshot's items, moved into a capture.
///
/// ```
/// let tag = leakwatch_core::Tag::with_detail("tcp", "10.0.0.1:5432");
/// let capture = leakwatch_export::Capture::from(leakwatch_core::Snapshot::all());
/// # if leakwatch_core::COMPILED_IN {
/// assert!(capture.entries().iter().any(|e| e.detail() == Some("10.0.0.1:5432")));
/// # }
/// # drop(tag);
/// ```
impl From<leakwatch_core::Snapshot> for Capture {
    fn from(snapshot: leakwatch_core::Snapshot) -> Capture {
        let mut convert = Convert::default();
        let items = snapshot
            .into_iter()
            .map(|item| {
                let entry = convert.entry(&item, None);
                Entry {
                    detail: item.into_detail(),
                    ..entry
                }
            })
            .collect();
        Capture::from_parts(unix_nanos_now(), items)
    }
}

fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Turns snapshot items into entries, making each distinct site, thread
/// label and stack once and sharing it between the entries that have it.
#[derive(Default)]
struct Convert {
    /// By the site's file (its address: a tracked item's file is a
    /// `'static` string), line and column.
    sites: foldhash::HashMap<(usize, usize, u32, u32), CapturedSite>,
    threads: foldhash::HashMap<Arc<str>, Arc<str>>,
    stacks: foldhash::HashMap<Arc<leakwatch_core::Stack>, Arc<[CapturedFrame]>>,
    no_frames: Option<Arc<[CapturedFrame]>>,
}

impl Convert {
    fn entry(&mut self, item: &leakwatch_core::Item, detail: Option<String>) -> Entry {
        let site = item.site();
        let file = site.file();
        let site = self
            .sites
            .entry((file.as_ptr().addr(), file.len(), site.line(), site.column()))
            .or_insert_with(|| CapturedSite {
                file: Arc::from(file),
                line: site.line(),
                column: site.column(),
            })
            .clone();
        let thread = self
            .threads
            .entry(item.shared_thread())
            .or_insert_with_key(Arc::clone)
            .clone();
        let frames = match item.shared_stack() {
            Some(stack) => self
                .stacks
                .entry(stack)
                .or_insert_with_key(|stack| {
                    stack
                        .frames()
                        .into_iter()
                        .map(|f| CapturedFrame {
                            function: f.function,
                            file: f.file,
                            line: f.line,
                        })
                        .collect()
                })
                .clone(),
            None => self.no_frames.get_or_insert_with(|| Arc::from([])).clone(),
        };
        Entry {
            kind: Cow::Borrowed(item.kind()),
            site,
            detail,
            age_nanos: u64::try_from(item.age().as_nanos()).unwrap_or(u64::MAX),
            thread,
            scope: item.scope().as_u64(),
            id: item.id(),
            frames,
            file_type: item.file_type().map(Cow::Borrowed),
            weight: item.weight(),
        }
    }
}

impl Entry {
    /// An entry read back from another form.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        kind: String,
        site: CapturedSite,
        detail: Option<String>,
        age_nanos: u64,
        thread: impl Into<Arc<str>>,
        scope: u64,
        frames: Arc<[CapturedFrame]>,
    ) -> Entry {
        Entry {
            kind: Cow::Owned(kind),
            site,
            detail,
            age_nanos,
            thread: thread.into(),
            scope,
            id: None,
            frames,
            file_type: None,
            weight: 1,
        }
    }

    /// This entry, standing for `weight` items.
    pub(crate) fn with_weight(self, weight: u32) -> Entry {
        Entry {
            weight: weight.max(1),
            ..self
        }
    }

    /// This entry, a descriptor referring to a file of type `file_type`.
    pub(crate) fn with_file_type(self, file_type: Option<String>) -> Entry {
        Entry {
            file_type: file_type.map(Cow::Owned),
            ..self
        }
    }

    /// What kind of thing it is: `"file"`, `"tcp"`, `"db-conn"`.
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { println!("{}", entry.kind()); }
    /// ```
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Where it was opened.
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { println!("{}", entry.site()); }
    /// ```
    pub fn site(&self) -> &CapturedSite {
        &self.site
    }

    /// The path, address or name given when it was opened.
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { println!("{:?}", entry.detail()); }
    /// ```
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// How long it had been open when the capture was taken.
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { println!("{:?}", entry.age()); }
    /// ```
    pub fn age(&self) -> Duration {
        Duration::from_nanos(self.age_nanos)
    }

    /// The thread that opened it.
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { println!("{}", entry.thread()); }
    /// ```
    pub fn thread(&self) -> &str {
        &self.thread
    }

    /// The number of the scope it was opened in
    /// ([`leakwatch_core::ScopeId::as_u64`]; 0 for none).
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { println!("{}", entry.scope()); }
    /// ```
    pub fn scope(&self) -> u64 {
        self.scope
    }

    /// The id given to it, such as a task id.
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { println!("{:?}", entry.id()); }
    /// ```
    pub fn id(&self) -> Option<u64> {
        self.id
    }

    /// What kind of file a descriptor refers to (one of
    /// [`leakwatch_core::FILE_TYPES`]), when its source said.
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { println!("{:?}", entry.file_type()); }
    /// ```
    pub fn file_type(&self) -> Option<&str> {
        self.file_type.as_deref()
    }

    /// How many items it stands for: N for a tracked item recorded at
    /// `LEAKWATCH=sampled:N`, else 1 ([`leakwatch_core::Item::weight`]).
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { assert!(entry.weight() >= 1); }
    /// ```
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// The stack that opened it, innermost first; empty when none was
    /// recorded (`LEAKWATCH=sites`).
    ///
    /// ```
    /// # let e: Option<&leakwatch_export::Entry> = None;
    /// if let Some(entry) = e { for f in entry.frames() { println!("{f}"); } }
    /// ```
    pub fn frames(&self) -> &[CapturedFrame] {
        &self.frames
    }
}

impl CapturedSite {
    /// The site `file:line:column`.
    ///
    /// ```
    /// let site = leakwatch_export::CapturedSite::new("src/main.rs", 3, 5);
    /// assert_eq!(site.line(), 3);
    /// ```
    pub fn new(file: impl Into<String>, line: u32, column: u32) -> CapturedSite {
        CapturedSite {
            file: Arc::from(file.into()),
            line,
            column,
        }
    }

    /// The source file.
    ///
    /// ```
    /// assert_eq!(leakwatch_export::CapturedSite::new("a.rs", 1, 1).file(), "a.rs");
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line in [`CapturedSite::file`].
    ///
    /// ```
    /// assert_eq!(leakwatch_export::CapturedSite::new("a.rs", 7, 1).line(), 7);
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The column in [`CapturedSite::line`].
    ///
    /// ```
    /// assert_eq!(leakwatch_export::CapturedSite::new("a.rs", 7, 2).column(), 2);
    /// ```
    pub fn column(&self) -> u32 {
        self.column
    }
}

impl fmt::Display for CapturedSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl CapturedFrame {
    /// A frame of `function`, at `file:line` when known.
    ///
    /// ```
    /// let frame = leakwatch_export::CapturedFrame::new("main", None, None);
    /// assert_eq!(frame.function(), "main");
    /// ```
    pub fn new(
        function: impl Into<String>,
        file: Option<&str>,
        line: Option<u32>,
    ) -> CapturedFrame {
        CapturedFrame {
            function: function.into(),
            file: file.map(str::to_owned),
            line,
        }
    }

    /// The demangled function name.
    ///
    /// ```
    /// assert_eq!(leakwatch_export::CapturedFrame::new("f", None, None).function(), "f");
    /// ```
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The source file, when debug info has it.
    ///
    /// ```
    /// let frame = leakwatch_export::CapturedFrame::new("f", Some("a.rs"), None);
    /// assert_eq!(frame.file(), Some("a.rs"));
    /// ```
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// The line in [`CapturedFrame::file`].
    ///
    /// ```
    /// assert_eq!(leakwatch_export::CapturedFrame::new("f", None, Some(3)).line(), Some(3));
    /// ```
    pub fn line(&self) -> Option<u32> {
        self.line
    }
}

impl fmt::Display for CapturedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.function)?;
        if let Some(file) = &self.file {
            write!(f, " at {file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
        }
        Ok(())
    }
}
