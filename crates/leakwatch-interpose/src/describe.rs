//! What a descriptor, thread or child is, as a person wants to read it,
//! from `/proc`.
//!
//! A descriptor's `/proc/self/fd` link names a file's path, or a socket's
//! or pipe's inode, or an anonymous inode's kind (`[eventfd]`,
//! `[eventpoll]`). Sockets are joined by inode with
//! `/proc/self/net/{tcp,tcp6,udp,udp6,unix}` for their addresses and
//! state; those tables are read once per [`Census`], and only when it has a
//! socket.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use procfs::ProcError;
use procfs::process::{FDTarget, Process};

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
}

impl DescribeError {
    fn new(entry: impl Into<String>, err: ProcError) -> DescribeError {
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
        }
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
        let me = Process::myself().map_err(|e| DescribeError::new("/proc/self", e))?;
        let mut raw = Vec::new();
        match only {
            None => {
                let iter = me
                    .fd()
                    .map_err(|e| DescribeError::new("/proc/self/fd", e))?;
                for info in iter {
                    match info {
                        Ok(info) => raw.push((info.fd, info.target)),
                        // Closed while listing: not open now.
                        Err(ProcError::NotFound(_)) => {}
                        Err(e) => return Err(DescribeError::new("/proc/self/fd", e)),
                    }
                }
            }
            Some(fds) => {
                for &fd in fds {
                    match me.fd_from_fd(fd) {
                        Ok(info) => raw.push((info.fd, info.target)),
                        Err(ProcError::NotFound(_)) => {}
                        Err(e) => return Err(DescribeError::new(format!("/proc/self/fd/{fd}"), e)),
                    }
                }
            }
        }
        let sockets = if raw.iter().any(|(_, t)| matches!(t, FDTarget::Socket(_))) {
            socket_table(&me)?
        } else {
            HashMap::new()
        };
        let fds = raw
            .into_iter()
            .map(|(fd, target)| (fd, kind(target, &sockets)))
            .collect();
        Ok(Census { fds })
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

fn kind(target: FDTarget, sockets: &HashMap<u64, FdKind>) -> FdKind {
    match target {
        FDTarget::Path(path) => FdKind::File { path },
        FDTarget::Socket(inode) => sockets
            .get(&inode)
            .cloned()
            .unwrap_or(FdKind::Socket { inode }),
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

/// Sockets of this process's network namespace by inode.
fn socket_table(me: &Process) -> Result<HashMap<u64, FdKind>, DescribeError> {
    let mut by_inode = HashMap::new();
    for (entry, table) in [("tcp", me.tcp()), ("tcp6", me.tcp6())] {
        // A kernel without IPv6 has no tcp6 table.
        if entry == "tcp6" && matches!(table, Err(ProcError::NotFound(_))) {
            continue;
        }
        for e in read(entry, table)? {
            by_inode.insert(
                e.inode,
                FdKind::Tcp {
                    local: e.local_address,
                    remote: e.remote_address,
                    state: tcp_state(&e.state).to_owned(),
                },
            );
        }
    }
    for (entry, table) in [("udp", me.udp()), ("udp6", me.udp6())] {
        if entry == "udp6" && matches!(table, Err(ProcError::NotFound(_))) {
            continue;
        }
        for e in read(entry, table)? {
            by_inode.insert(
                e.inode,
                FdKind::Udp {
                    local: e.local_address,
                    remote: e.remote_address,
                },
            );
        }
    }
    for e in read("unix", me.unix())? {
        let socket_type = match i32::from(e.socket_type) {
            libc::SOCK_STREAM => "stream",
            libc::SOCK_DGRAM => "dgram",
            libc::SOCK_SEQPACKET => "seqpacket",
            _ => "socket",
        };
        by_inode.insert(
            e.inode,
            FdKind::Unix {
                path: e.path,
                socket_type,
            },
        );
    }
    Ok(by_inode)
}

fn read<T>(entry: &str, table: procfs::ProcResult<T>) -> Result<T, DescribeError> {
    table.map_err(|e| DescribeError::new(format!("/proc/self/net/{entry}"), e))
}

fn tcp_state(state: &procfs::net::TcpState) -> &'static str {
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
/// assert_eq!(d.command, ["sleep", "5"]);
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
    /// Its command line; for a zombie, whose command line is gone, its
    /// name alone.
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
