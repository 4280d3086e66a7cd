//! What a descriptor, thread or child is, as a person wants to read it,
//! from `/proc`.
//!
//! A descriptor's `/proc/self/fd` link names a file's path, or a socket's
//! or pipe's inode, or an anonymous inode's kind (`[eventfd]`,
//! `[eventpoll]`); `procfs` parses it. The listing takes one `readlinkat`
//! per descriptor, in raw system calls the hooks do not see.
//!
//! A socket (known by `fstat`, which is cheaper than its link) is asked
//! directly for its family, type, addresses and TCP state (`getsockopt`,
//! `getsockname`, `getpeername`), and the answers are kept only if the
//! descriptor still names the same inode afterwards. That gives what
//! joining by inode with `/proc/self/net/{tcp,tcp6,udp,udp6,unix}` gives,
//! for the process's own sockets, without the kernel walking its whole
//! socket hash tables to print them: reading `tcp` and `tcp6` costs
//! milliseconds even with few sockets, the per-socket queries microseconds
//! each.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use std::str::FromStr;

use procfs::ProcError;
use procfs::process::{FDTarget, Process};

mod socket;

/// A `/proc` entry that could not be read.
///
/// ```
/// let err = leakwatch_interpose::describe_child(-1).unwrap_err();
/// assert!(err.to_string().starts_with("cannot read /proc/-1"), "{err}");
/// ```
#[derive(Debug)]
pub struct DescribeError {
    entry: String,
    reason: String,
    gone: bool,
}

impl DescribeError {
    fn io(entry: String, err: std::io::Error) -> DescribeError {
        DescribeError {
            entry,
            gone: err.kind() == std::io::ErrorKind::NotFound,
            reason: err.to_string(),
        }
    }

    fn new(entry: impl Into<String>, err: ProcError) -> DescribeError {
        let gone = matches!(err, ProcError::NotFound(_));
        let reason = match err {
            ProcError::PermissionDenied(_) => "permission denied".to_owned(),
            ProcError::NotFound(_) => "no such entry (closed or exited?)".to_owned(),
            ProcError::Incomplete(_) => "incomplete contents".to_owned(),
            ProcError::Io(e, _) => e.to_string(),
            other => other.to_string(),
        };
        DescribeError {
            entry: entry.into(),
            reason,
            gone,
        }
    }

    /// Whether the entry does not exist: the descriptor was closed, the
    /// thread ended or the process was reaped after it was recorded.
    /// Other failures (permissions, a malformed entry) say nothing of
    /// whether it still exists.
    ///
    /// ```
    /// assert!(leakwatch_interpose::describe_thread(-1).unwrap_err().is_gone());
    /// ```
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    /// The `/proc` path that could not be read.
    ///
    /// ```
    /// let err = leakwatch_interpose::describe_thread(-1).unwrap_err();
    /// assert_eq!(err.entry(), "/proc/self/task/-1/stat");
    /// ```
    pub fn entry(&self) -> &str {
        &self.entry
    }
}

impl fmt::Display for DescribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.entry, self.reason)
    }
}

impl std::error::Error for DescribeError {}

/// What a descriptor refers to.
///
/// ```
/// use leakwatch_interpose::FdKind;
///
/// let kind = FdKind::File { path: "/etc/hosts".into() };
/// assert_eq!(kind.to_string(), "file /etc/hosts");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FdKind {
    /// A file, directory or device.
    File {
        /// Its path as the kernel shows it.
        path: PathBuf,
    },
    /// A TCP socket.
    Tcp {
        /// The local address.
        local: SocketAddr,
        /// The remote address (unspecified while listening).
        remote: SocketAddr,
        /// The TCP state, as `/proc/net/tcp` names it (`ESTABLISHED`).
        state: String,
    },
    /// A UDP socket.
    Udp {
        /// The local address.
        local: SocketAddr,
        /// The remote address, unspecified unless connected.
        remote: SocketAddr,
    },
    /// A Unix-domain socket.
    Unix {
        /// The bound path, if any.
        path: Option<PathBuf>,
        /// `stream`, `dgram` or `seqpacket`.
        socket_type: &'static str,
    },
    /// A socket of another family (netlink, packet), or one that closed
    /// between listing and lookup.
    Socket {
        /// Its inode.
        inode: u64,
    },
    /// One end of a pipe.
    Pipe {
        /// The pipe's inode, shared by both ends.
        inode: u64,
    },
    /// A memfd, by the name it was created with.
    Memfd {
        /// The name given to `memfd_create`.
        name: String,
    },
    /// An anonymous inode: `eventfd`, `eventpoll` (epoll), `timerfd`,
    /// `signalfd`, `inotify`, `pidfd`, ...
    Anon {
        /// The kernel's name for it, without brackets.
        name: String,
    },
    /// Anything else, as the link reads.
    Other {
        /// The link's text.
        target: String,
    },
}

impl fmt::Display for FdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unspecified = |a: &SocketAddr| a.ip().is_unspecified() && a.port() == 0;
        match self {
            FdKind::File { path } => write!(f, "file {}", path.display()),
            FdKind::Tcp {
                local,
                remote,
                state,
            } => {
                if unspecified(remote) {
                    write!(f, "tcp {local} ({state})")
                } else {
                    write!(f, "tcp {local} -> {remote} ({state})")
                }
            }
            FdKind::Udp { local, remote } => {
                if unspecified(remote) {
                    write!(f, "udp {local}")
                } else {
                    write!(f, "udp {local} -> {remote}")
                }
            }
            FdKind::Unix { path, socket_type } => match path {
                Some(path) => write!(f, "unix {socket_type} {}", path.display()),
                None => write!(f, "unix {socket_type} (unnamed)"),
            },
            FdKind::Socket { inode } => write!(f, "socket inode {inode}"),
            FdKind::Pipe { inode } => write!(f, "pipe inode {inode}"),
            FdKind::Memfd { name } => write!(f, "memfd {name}"),
            FdKind::Anon { name } => f.write_str(name),
            FdKind::Other { target } => f.write_str(target),
        }
    }
}

/// The descriptors of this process and what each refers to, read at one
/// moment.
///
/// ```
/// let census = leakwatch_interpose::Census::take().unwrap();
/// assert!(census.len() >= 3); // stdin, stdout, stderr (and more)
/// ```
#[derive(Clone, Debug, Default)]
pub struct Census {
    fds: BTreeMap<i32, FdKind>,
}

impl Census {
    /// Every descriptor the process has open now.
    ///
    /// ```
    /// # let census = leakwatch_interpose::Census::take().unwrap();
    /// for (fd, kind) in census.iter() {
    ///     println!("{fd}: {kind}");
    /// }
    /// ```
    pub fn take() -> Result<Census, DescribeError> {
        Census::build(None)
    }

    /// Only the descriptors in `fds` (those of one scope's check), each if
    /// still open.
    ///
    /// ```
    /// let census = leakwatch_interpose::Census::of(&[0, 1, 2]).unwrap();
    /// assert!(census.len() <= 3);
    /// ```
    pub fn of(fds: &[i32]) -> Result<Census, DescribeError> {
        Census::build(Some(fds))
    }

    fn build(only: Option<&[i32]>) -> Result<Census, DescribeError> {
        use rustix::fs::{CWD, Dir, Mode, OFlags};

        const FD_DIR: &str = "/proc/self/fd";
        let io = |entry: String| move |e: rustix::io::Errno| DescribeError::io(entry, e.into());
        let dir = rustix::fs::openat(
            CWD,
            FD_DIR,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io(FD_DIR.to_owned()))?;
        let own = std::os::fd::AsRawFd::as_raw_fd(&dir);
        let mut dir = Dir::new(dir).map_err(io(FD_DIR.to_owned()))?;
        let fds: Vec<i32> = match only {
            Some(fds) => fds.iter().copied().filter(|&fd| fd >= 0).collect(),
            None => {
                let mut all = Vec::new();
                for entry in &mut dir {
                    let entry = entry.map_err(io(FD_DIR.to_owned()))?;
                    if let Some(fd) = entry.file_name().to_str().ok().and_then(|n| n.parse().ok()) {
                        all.push(fd);
                    }
                }
                all
            }
        };
        let dirfd = dir.fd().map_err(io(FD_DIR.to_owned()))?;
        let mut census = BTreeMap::new();
        let mut name = String::new();
        for fd in fds {
            if fd == own {
                continue;
            }
            // A socket's link says only `socket:[inode]`, which `fstat`
            // gives for a third of the cost; the socket is asked the rest.
            match socket::stat(fd) {
                None => continue,
                Some((libc::S_IFSOCK, inode)) => {
                    census.insert(fd, socket::describe(fd, inode));
                    continue;
                }
                Some(_) => {}
            }
            name.clear();
            {
                use std::fmt::Write as _;
                let _ = write!(name, "{fd}");
            }
            let link = match rustix::fs::readlinkat(dirfd, name.as_str(), Vec::with_capacity(64)) {
                Ok(link) => link,
                // Not open (or closed since the listing).
                Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(DescribeError::io(format!("{FD_DIR}/{fd}"), e.into())),
            };
            let link = link.to_string_lossy();
            let target = FDTarget::from_str(&link)
                .map_err(|e| DescribeError::new(format!("{FD_DIR}/{fd}"), e))?;
            census.insert(fd, kind(fd, target));
        }
        Ok(Census { fds: census })
    }

    /// What `fd` refers to, `None` if it was not open.
    ///
    /// ```
    /// let census = leakwatch_interpose::Census::of(&[-1]).unwrap();
    /// assert!(census.get(-1).is_none());
    /// ```
    pub fn get(&self, fd: i32) -> Option<&FdKind> {
        self.fds.get(&fd)
    }

    /// Each open descriptor and what it refers to, in order.
    ///
    /// ```
    /// # let census = leakwatch_interpose::Census::take().unwrap();
    /// assert!(census.iter().all(|(fd, _)| fd >= 0));
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdKind)> {
        self.fds.iter().map(|(&fd, kind)| (fd, kind))
    }

    /// How many descriptors were open.
    ///
    /// ```
    /// assert_eq!(leakwatch_interpose::Census::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// True when none were.
    ///
    /// ```
    /// assert!(leakwatch_interpose::Census::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

fn kind(fd: i32, target: FDTarget) -> FdKind {
    match target {
        FDTarget::Path(path) => FdKind::File { path },
        // Became a socket between `fstat` and `readlinkat`.
        FDTarget::Socket(inode) => socket::describe(fd, inode),
        FDTarget::Pipe(inode) => FdKind::Pipe { inode },
        FDTarget::MemFD(name) => FdKind::Memfd { name },
        FDTarget::AnonInode(name) => FdKind::Anon {
            name: name.trim_matches(['[', ']']).to_owned(),
        },
        FDTarget::Net(inode) => FdKind::Other {
            target: format!("net:[{inode}]"),
        },
        FDTarget::Other(kind, inode) => FdKind::Other {
            target: format!("{kind}:[{inode}]"),
        },
        FDTarget::Unknown(kind, data) => FdKind::Other {
            target: format!("{kind}:{data}"),
        },
    }
}

pub(crate) fn tcp_state(state: &procfs::net::TcpState) -> &'static str {
    use procfs::net::TcpState::*;
    match state {
        Established => "ESTABLISHED",
        SynSent => "SYN_SENT",
        SynRecv => "SYN_RECV",
        FinWait1 => "FIN_WAIT1",
        FinWait2 => "FIN_WAIT2",
        TimeWait => "TIME_WAIT",
        Close => "CLOSE",
        CloseWait => "CLOSE_WAIT",
        LastAck => "LAST_ACK",
        Listen => "LISTEN",
        Closing => "CLOSING",
        NewSynRecv => "NEW_SYN_RECV",
    }
}

/// The descriptors the process has open, each with the device and inode it
/// names: what the end of a test compares with its beginning, to find
/// descriptors made where no hook sees (raw system calls).
///
/// ```
/// let before = leakwatch_interpose::Descriptors::now().unwrap();
/// let file = std::fs::File::open("Cargo.toml").unwrap();
/// let after = leakwatch_interpose::Descriptors::now().unwrap();
/// assert_eq!(after.opened_since(&before).len(), 1);
/// # drop(file);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Descriptors {
    /// Descriptor, device, inode; by descriptor.
    fds: Vec<(i32, u64, u64)>,
}

impl Descriptors {
    /// Those open now. Listed by raw system calls, so listing opens
    /// nothing a hook records.
    pub fn now() -> Result<Descriptors, DescribeError> {
        use rustix::fs::{CWD, Dir, Mode, OFlags};

        const FD_DIR: &str = "/proc/self/fd";
        let io = |e: rustix::io::Errno| DescribeError::io(FD_DIR.to_owned(), e.into());
        let dir = rustix::fs::openat(
            CWD,
            FD_DIR,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        let own = std::os::fd::AsRawFd::as_raw_fd(&dir);
        let mut fds = Vec::new();
        for entry in &mut Dir::new(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let Some(fd) = entry
                .file_name()
                .to_str()
                .ok()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if fd == own {
                continue;
            }
            // SAFETY: `fd` is only looked at; one closed since the listing
            // fails with EBADF and is left out.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            if let Ok(st) = rustix::fs::fstat(borrowed) {
                fds.push((fd, st.st_dev, st.st_ino));
            }
        }
        fds.sort_unstable();
        Ok(Descriptors { fds })
    }

    /// The descriptors open here that were not open in `before`, or that
    /// name another file than they did then.
    pub fn opened_since(&self, before: &Descriptors) -> Vec<i32> {
        self.fds
            .iter()
            .filter(|entry| before.fds.binary_search(entry).is_err())
            .map(|&(fd, _, _)| fd)
            .collect()
    }
}

/// A thread of this process, by its kernel id.
///
/// ```
/// let me = leakwatch_interpose::describe_thread(unsafe { libc::gettid() }).unwrap();
/// assert!(!me.name.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadDescription {
    /// The kernel id.
    pub tid: i32,
    /// Its name (`/proc/self/task/<tid>/comm`, at most 15 bytes).
    pub name: String,
}

/// Names the thread `tid` of this process.
///
/// ```
/// assert!(leakwatch_interpose::describe_thread(-1).is_err());
/// ```
pub fn describe_thread(tid: i32) -> Result<ThreadDescription, DescribeError> {
    let entry = format!("/proc/self/task/{tid}/stat");
    let stat = Process::myself()
        .and_then(|me| me.task_from_tid(tid))
        .and_then(|task| task.stat())
        .map_err(|e| DescribeError::new(&entry, e))?;
    Ok(ThreadDescription {
        tid,
        name: stat.comm,
    })
}

/// Whether a child process still runs.
///
/// ```
/// assert_eq!(leakwatch_interpose::ChildState::Zombie.to_string(), "zombie");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildState {
    /// Running, sleeping or stopped.
    Running,
    /// Exited and not reaped.
    Zombie,
}

impl fmt::Display for ChildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChildState::Running => "running",
            ChildState::Zombie => "zombie",
        })
    }
}

/// A child process.
///
/// ```
/// let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
/// let d = leakwatch_interpose::describe_child(child.id() as i32).unwrap();
/// assert_eq!(d.command[0], "sleep");
/// # child.kill().unwrap();
/// # child.wait().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildDescription {
    /// The process id.
    pub pid: i32,
    /// Running or zombie.
    pub state: ChildState,
    /// Its command line; its name alone for a zombie, whose command line
    /// is gone, and for a child caught in `exec` before its arguments are
    /// in place.
    pub command: Vec<String>,
}

/// Describes the process `pid`.
///
/// ```
/// assert!(leakwatch_interpose::describe_child(-1).is_err());
/// ```
pub fn describe_child(pid: i32) -> Result<ChildDescription, DescribeError> {
    let process = Process::new(pid).map_err(|e| DescribeError::new(format!("/proc/{pid}"), e))?;
    let stat = process
        .stat()
        .map_err(|e| DescribeError::new(format!("/proc/{pid}/stat"), e))?;
    let state = if stat.state == 'Z' {
        ChildState::Zombie
    } else {
        ChildState::Running
    };
    let mut command = match state {
        ChildState::Zombie => Vec::new(),
        ChildState::Running => process
            .cmdline()
            .map_err(|e| DescribeError::new(format!("/proc/{pid}/cmdline"), e))?,
    };
    if command.is_empty() {
        command.push(stat.comm);
    }
    Ok(ChildDescription {
        pid,
        state,
        command,
    })
}
