//! Descriptors, threads and child processes that code outside leakwatch's
//! wrappers creates, joined to every check and to the live views (glibc
//! Linux, over `leakwatch-interpose`).
//!
//! On glibc Linux `leakwatch-interpose` records each descriptor, thread and
//! child with the scope current when it was created. This module registers
//! the source through which a check asks for what its scope family still
//! has open ([`leakwatch_core::external`]), describes each (a file's path,
//! a socket's addresses, a thread's name, a child's pid and command line)
//! and names its line: the first frame of the user's code on the stack
//! recorded at creation (taken in test builds, and at `LEAKWATCH=stacks`
//! in release builds; without it the report says how to get the line).
//!
//! The same records make the live view of the whole process: a second
//! source, a live one ([`leakwatch_core::external::LiveSource`]), gives
//! [`Snapshot::all`](leakwatch_core::Snapshot::all) and
//! [`Snapshot::held_past`](leakwatch_core::Snapshot::held_past) every
//! descriptor (kind `fd`, with its type of file), thread (`thread`) and
//! child (`child`) recorded, in every scope and none, so exporters and the
//! watchdog see them without depending on `leakwatch-interpose`.
//!

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, Once};
use std::time::Duration;

use leakwatch_core::{Item, ScopeId, Site, Stack, external};
pub(crate) use leakwatch_interpose::unrecorded;
use leakwatch_interpose::{
    Census, Created, FdKind, OpenChild, OpenFd, OpenThread, Support, counts_in, describe_child,
    describe_thread, open_all, open_in,
};

use crate::detect::{Detect, lock, setting};

const NAME: &str = "leakwatch-interpose";

/// The source, linked in: every check sees it, `Scope::check`
/// included, from the first, with nothing run before `main`.
#[linkme::distributed_slice(external::LINKED)]
static INTERPOSED: (&str, external::Source) = (NAME, source);

/// Registers the source where linking did not bring it (a library
/// loaded into another program, whose sections are its own); returns
/// whether this call did.
pub(crate) fn register() -> bool {
    !external::is_registered(NAME) && external::register(NAME, source)
}

/// The live source, linked in the same way: every live view
/// (`Snapshot::all`, `Snapshot::held_past`) sees the whole process.
#[linkme::distributed_slice(external::LINKED_LIVE)]
static INTERPOSED_LIVE: (&str, external::LiveSource) = (NAME, live);

/// Says once if nothing can be seen.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if !seen() {
            eprintln!(
                "leakwatch: {}: descriptors, threads and child processes opened outside \
                 leakwatch's wrappers are not checked",
                unseen_reason()
            );
        }
    });
}

pub(crate) fn seen() -> bool {
    leakwatch_interpose::support() == Support::Active
}

pub(crate) fn unseen_reason() -> &'static str {
    match leakwatch_interpose::support() {
        Support::Active => "active",
        Support::Unavailable(why) => why,
    }
}

/// The descriptors open when a test began, where every kind is
/// attributed.
#[derive(Debug)]
pub(crate) struct Unseen(leakwatch_interpose::Descriptors);

impl Unseen {
    pub(crate) fn begin() -> Option<Unseen> {
        if !seen() {
            return None;
        }
        leakwatch_interpose::Descriptors::now().ok().map(Unseen)
    }

    /// Descriptors opened while the test ran that no record explains:
    /// made by raw system calls, so no test can be charged with them.
    pub(crate) fn end(self, name: &str, others: &str) -> Option<String> {
        let now = leakwatch_interpose::Descriptors::now().ok()?;
        let fds: Vec<i32> = now
            .opened_since(&self.0)
            .into_iter()
            .filter(|&fd| !leakwatch_interpose::is_recorded(fd))
            .collect();
        if fds.is_empty() {
            return None;
        }
        let census = Census::of(&fds);
        let kinds: Vec<(i32, Option<&leakwatch_interpose::FdKind>)> = fds
            .iter()
            .map(|&fd| (fd, census.as_ref().ok().and_then(|c| c.get(fd))))
            // `/proc` read by raw system calls is leakwatch's own
            // listing (this one's, or a check's on another thread),
            // open for microseconds; closed since, it is no finding.
            .filter(|(_, kind)| {
                !matches!(kind, Some(leakwatch_interpose::FdKind::File { path })
                    if path.starts_with("/proc/"))
                    && kind.is_some()
            })
            .collect();
        if kinds.is_empty() {
            return None;
        }
        let fds: Vec<i32> = kinds.iter().map(|&(fd, _)| fd).collect();
        let described: Vec<String> = kinds
            .iter()
            .map(|(fd, kind)| match kind {
                Some(kind) => format!("{kind} (fd {fd})"),
                None => format!("fd {fd}"),
            })
            .collect();
        let verb = if fds.len() == 1 { "was" } else { "were" };
        let count = leakwatch_core::counted(fds.len(), "descriptor");
        Some(format!(
            "leakwatch: cannot attribute: {count} opened while `{name}` ran {verb} made where \
             no hook sees (a raw system call: rustix's linux_raw backend, io_uring, a pidfd) \
             and {verb} still open: {}; {others}; no test is blamed for them",
            described.join(", ")
        ))
    }
}

/// Kernel ids of a test runtime's threads: the runtime's, alive until
/// it shuts down after the check.
static TRACKED_THREADS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

fn gettid() -> i32 {
    // SAFETY: `gettid` has no preconditions.
    unsafe { libc::gettid() }
}

fn mark(tid: i32) {
    lock(&TRACKED_THREADS)
        .get_or_insert_with(HashSet::new)
        .insert(tid);
}

fn unmark(tid: i32) {
    if let Some(set) = lock(&TRACKED_THREADS).as_mut() {
        set.remove(&tid);
    }
}

/// A test runtime's threads: marked from its start hook to its stop
/// hook.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct RuntimeThread;

#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
impl RuntimeThread {
    pub(crate) fn start() {
        mark(gettid());
    }

    pub(crate) fn stop() {
        unmark(gettid());
    }
}

/// What the family of scopes `family[0]` has open, as items.
fn source(family: &[ScopeId]) -> Vec<Item> {
    let Some(&checked) = family.first() else {
        return Vec::new();
    };
    if counts_in(family).total() == 0 {
        return Vec::new();
    }
    let detect = setting(checked);
    let mut open = open_in(family);
    // A thread just started may not have begun running, and so has no
    // id or name yet: give it a few milliseconds (this is a failing
    // check's path only) so the report can name it.
    for _ in 0..20 {
        if !detect.threads || open.threads.iter().all(|t| t.tid.is_some()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        open = open_in(family);
    }
    let mut items = Vec::new();
    let mut labels = Labels::default();
    if detect.fds && !open.fds.is_empty() {
        let fds: Vec<i32> = open.fds.iter().map(|f| f.fd).collect();
        let census = Census::of(&fds);
        items.extend(
            open.fds
                .iter()
                .map(|fd| fd_item(fd, census.as_ref(), &mut labels)),
        );
    }
    if detect.threads {
        let tracked = lock(&TRACKED_THREADS).clone().unwrap_or_default();
        items.extend(
            open.threads
                .iter()
                .filter(|t| !t.tid.is_some_and(|tid| tracked.contains(&tid)))
                .filter_map(|t| thread_item(t, &mut labels)),
        );
    }
    if detect.children {
        items.extend(open.children.iter().map(|c| child_item(c, &mut labels)));
    }
    items
}

/// What the whole process has open, in every scope and none, that
/// `keep` accepts by kind and age: the live view's items. Kinds
/// `LEAKWATCH_DETECT` switches off for the process are left out.
/// Each item is named by its record ([`Item::with_key`]), so that a
/// socket whose TCP state changes stays the same item.
fn live(keep: &dyn Fn(&str, Duration) -> bool) -> Vec<Item> {
    if !seen() {
        return Vec::new();
    }
    let detect = Detect::from_env().unwrap_or(Detect::ALL);
    let open = open_all();
    let mut labels = Labels::default();
    let mut items = Vec::new();
    if detect.fds {
        let fds: Vec<&OpenFd> = open
            .fds
            .iter()
            .filter(|f| keep("fd", f.created.at.elapsed()))
            .collect();
        if !fds.is_empty() {
            let numbers: Vec<i32> = fds.iter().map(|f| f.fd).collect();
            let census = Census::of(&numbers);
            items.extend(fds.into_iter().map(|fd| {
                fd_item(fd, census.as_ref(), &mut labels).with_key(record_key(
                    "fd",
                    fd.fd,
                    &fd.created,
                ))
            }));
        }
    }
    if detect.threads {
        items.extend(
            open.threads
                .iter()
                .filter(|t| keep("thread", t.created.at.elapsed()))
                .filter_map(|t| {
                    // Not by its tid, which it has only once running.
                    let key = record_key("thread", 0, &t.created);
                    Some(thread_item(t, &mut labels)?.with_key(key))
                }),
        );
    }
    if detect.children {
        items.extend(
            open.children
                .iter()
                .filter(|c| keep("child", c.created.at.elapsed()))
                .map(|c| {
                    child_item(c, &mut labels).with_key(record_key("child", c.pid, &c.created))
                }),
        );
    }
    items
}

/// What names a record among those open at once: its kind, number and
/// creation (when, on which thread). Even, so never a tracked item's
/// (see [`Item::with_key`]), and never 0.
fn record_key(kind: &str, number: i32, created: &Created) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (kind, number, created.at, created.thread).hash(&mut hasher);
    (hasher.finish() & !1).max(2)
}

/// Thread labels (`'name'`, else `#tid`) of one answer, each read from
/// `/proc` once however many items its thread created.
#[derive(Default)]
struct Labels(HashMap<i32, String>);

impl Labels {
    fn of(&mut self, tid: i32) -> String {
        self.0
            .entry(tid)
            .or_insert_with(|| match describe_thread(tid) {
                Ok(d) => format!("'{}'", d.name),
                Err(_) => format!("#{tid}"),
            })
            .clone()
    }
}

fn fd_item(
    fd: &OpenFd,
    census: Result<&Census, &leakwatch_interpose::DescribeError>,
    labels: &mut Labels,
) -> Item {
    let described = census.map(|census| census.get(fd.fd));
    let detail = match described {
        Ok(Some(kind)) => format!("{kind} (fd {})", fd.fd),
        Ok(None) => format!("fd {} (closed while being described)", fd.fd),
        Err(err) => format!("fd {} ({err})", fd.fd),
    };
    let item = item("fd", &fd.created, labels)
        .with_detail(detail)
        .with_fd(fd.fd);
    match described {
        Ok(Some(kind)) => item.with_file_type(file_type(fd.fd, kind)),
        _ => item,
    }
}

/// Which of [`leakwatch_core::FILE_TYPES`] descriptor `fd`, described
/// as `kind`, is.
fn file_type(fd: i32, kind: &FdKind) -> &'static str {
    match kind {
        FdKind::File { .. } => {
            // The link's target, as the descriptor sees it (the path may
            // have been renamed or removed since).
            let dir = std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok_and(|m| m.is_dir());
            if dir { "dir" } else { "file" }
        }
        FdKind::Tcp { .. } => "tcp",
        FdKind::Udp { .. } => "udp",
        FdKind::Unix { .. } => "unix",
        FdKind::Pipe { .. } => "pipe",
        FdKind::Memfd { .. } => "memfd",
        FdKind::Anon { name } => match name.as_str() {
            "eventfd" => "eventfd",
            "eventpoll" => "epoll",
            "timerfd" => "timerfd",
            "signalfd" => "signalfd",
            "inotify" => "inotify",
            _ => "other",
        },
        _ => "other",
    }
}

/// The item for `thread`; `None` for leakwatch's own background
/// threads (`leakwatch-clock`), started by whichever scope first
/// needed them and never any scope's leak.
fn thread_item(thread: &OpenThread, labels: &mut Labels) -> Option<Item> {
    if thread
        .created
        .opener()
        .is_some_and(|f| leakwatch_core::is_own_frame(&f))
    {
        return None;
    }
    let creator = labels.of(thread.created.thread);
    let detail = thread_detail(thread.tid, &creator)?;
    Some(item("thread", &thread.created, labels).with_detail(detail))
}

/// What a report says of thread `tid` (`None`: not yet running), started
/// by the thread labelled `creator`; `None` for one of leakwatch's
/// background threads, and for one that ended since the query found it
/// running, which is no leak. A thread given no name has its creator's
/// (the kernel copies it), which the detail says rather than let it pass
/// for a name of its own.
fn thread_detail(tid: Option<i32>, creator: &str) -> Option<String> {
    Some(match tid.map(describe_thread) {
        Some(Ok(d)) if d.name.starts_with("leakwatch-") => return None,
        Some(Ok(d)) if creator == format!("'{}'", d.name) => {
            format!(
                "'{}' (tid {}; unnamed: the name of the thread that started it)",
                d.name, d.tid
            )
        }
        Some(Ok(d)) => format!("'{}' (tid {})", d.name, d.tid),
        Some(Err(err)) if err.is_gone() => return None,
        Some(Err(err)) => format!("tid {} ({err})", tid.unwrap_or_default()),
        None => "not yet running".to_owned(),
    })
}

/// The line that called into the language's runtime to create an
/// item: the user's own, or a library's when one did, which a report
/// prints with the user's call that led there (`opened at
/// socket2-0.6.1/src/socket.rs:89:23 via tests/client.rs:12:40`).
/// A library's line stands alone when no frame of the user's was
/// recorded (a thread that a library's own thread started has none).
/// `None` when neither has a line.
fn opening_site(stack: &Stack) -> Option<Site> {
    let opener = stack.frames().into_iter().find(|f| {
        let bare = f.function.trim_start_matches('<');
        !["std::", "core::", "alloc::"]
            .iter()
            .any(|p| bare.starts_with(p))
            && f.line.is_some()
    });
    match opener {
        Some(frame) if frame.is_dependency() => Some(Site::new(
            frame.file.unwrap_or_default(),
            frame.line.unwrap_or(0),
            frame.column.unwrap_or(0),
        )),
        _ => stack.user_call().map(|user| {
            Site::new(
                user.file().to_owned(),
                user.line(),
                user.column().unwrap_or(0),
            )
        }),
    }
}

fn child_item(child: &OpenChild, labels: &mut Labels) -> Item {
    let detail = match describe_child(child.pid) {
        Ok(d) => format!("pid {} {}: {}", d.pid, d.state, d.command.join(" ")),
        Err(err) => format!("pid {} ({err})", child.pid),
    };
    item("child", &child.created, labels).with_detail(detail)
}

/// An item created as `created` says: its line from the stack, else
/// a site that says how to get it.
fn item(kind: &'static str, created: &Created, labels: &mut Labels) -> Item {
    let stack = created.caller_stack();
    // Taken at `LEAKWATCH=stacks` to be printed, and in test builds at
    // the default level only to name the user's line.
    let full = leakwatch_core::level() == leakwatch_core::Level::Stacks;
    let stack = (!stack.is_empty()).then(|| Stack::from_addresses(stack, full));
    let site = stack.as_ref().and_then(opening_site).unwrap_or_else(|| {
        Site::unknown(match &stack {
            // Only library and runtime frames were recorded: the
            // stack printed below says where, as far as it goes.
            Some(stack) => format!(
                "an unknown line ({}; no frame of your code among the {} innermost \
                     recorded)",
                created.call,
                stack.addresses().len()
            ),
            None => format!(
                "an unknown line ({}; run with LEAKWATCH=stacks for it)",
                created.call
            ),
        })
    });
    let thread = labels.of(created.thread);
    let item = Item::external(kind, site, created.scope)
        .with_age(created.at.elapsed())
        .with_thread(thread);
    match stack {
        Some(stack) => item.with_stack(stack),
        None => item,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// A thread that ends between the query that found it running and
    /// its description is not reported; while it runs, it is.
    #[test]
    fn a_thread_that_ends_before_it_is_described_is_no_item() {
        let (tid_sent, tid) = mpsc::channel();
        let (go, wait) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("ends-soon".into())
            .spawn(move || {
                tid_sent.send(gettid()).unwrap();
                wait.recv().unwrap();
            })
            .unwrap();
        let tid = tid.recv().unwrap();
        assert_eq!(
            thread_detail(Some(tid), "'main'"),
            Some(format!("'ends-soon' (tid {tid})"))
        );
        go.send(()).unwrap();
        handle.join().unwrap();
        assert_eq!(thread_detail(Some(tid), "'main'"), None);
        assert_eq!(
            thread_detail(None, "'main'").as_deref(),
            Some("not yet running")
        );
    }

    /// A thread started without a name carries its creator's, and the
    /// report says so; a named one does not.
    #[test]
    fn an_unnamed_thread_is_not_given_its_creators_name_as_its_own() {
        let (tid_sent, tid) = mpsc::channel();
        let (go, wait) = mpsc::channel::<()>();
        let creator = std::thread::Builder::new()
            .name("creator".into())
            .spawn(move || {
                std::thread::spawn(move || {
                    tid_sent.send(gettid()).unwrap();
                    wait.recv().unwrap();
                })
                .join()
                .unwrap();
            })
            .unwrap();
        let tid = tid.recv().unwrap();
        assert_eq!(
            thread_detail(Some(tid), "'creator'"),
            Some(format!(
                "'creator' (tid {tid}; unnamed: the name of the thread that started it)"
            ))
        );
        go.send(()).unwrap();
        creator.join().unwrap();
    }
}
