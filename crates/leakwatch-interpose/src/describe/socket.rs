//! A socket of this process, asked directly: family, type, addresses and
//! TCP state.
//!
//! The descriptor is only a number here: another thread may close it, and
//! the kernel may hand the number to something else, at any time. So every
//! query goes through libc with the raw number (failing with `EBADF` at
//! worst, never touching memory it should not), and the answers count only
//! if the descriptor still names the socket inode the listing showed.

use std::ffi::c_int;
use std::mem::{MaybeUninit, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::PathBuf;

use super::{FdKind, tcp_state};

/// Describes socket `fd`, whose inode `fstat` just gave as `inode`.
pub(super) fn describe(fd: i32, inode: u64) -> FdKind {
    let unknown = FdKind::Socket { inode };
    let (Some(domain), Some(ty)) = (
        int_option(fd, libc::SOL_SOCKET, libc::SO_DOMAIN),
        int_option(fd, libc::SOL_SOCKET, libc::SO_TYPE),
    ) else {
        return unknown;
    };
    let described = match (domain, ty) {
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM) => {
            let Some(local) = address(fd, libc::getsockname).and_then(|a| inet(&a)) else {
                return unknown;
            };
            FdKind::Tcp {
                local,
                remote: address(fd, libc::getpeername)
                    .and_then(|a| inet(&a))
                    .unwrap_or_else(|| unspecified(&local)),
                state: tcp(fd).unwrap_or("?").to_owned(),
            }
        }
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM) => {
            let Some(local) = address(fd, libc::getsockname).and_then(|a| inet(&a)) else {
                return unknown;
            };
            FdKind::Udp {
                local,
                remote: address(fd, libc::getpeername)
                    .and_then(|a| inet(&a))
                    .unwrap_or_else(|| unspecified(&local)),
            }
        }
        (libc::AF_UNIX, ty) => FdKind::Unix {
            path: address(fd, libc::getsockname).and_then(|a| unix_path(&a)),
            socket_type: match ty {
                libc::SOCK_STREAM => "stream",
                libc::SOCK_DGRAM => "dgram",
                libc::SOCK_SEQPACKET => "seqpacket",
                _ => "socket",
            },
        },
        _ => return unknown,
    };
    // The descriptor may have been closed and its number reused while
    // being asked; then the answers may be another socket's.
    if stat(fd).map(|(_, ino)| ino) == Some(inode) {
        described
    } else {
        unknown
    }
}

fn unspecified(local: &SocketAddr) -> SocketAddr {
    match local {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    }
}

/// `fd`'s file type (`st_mode & S_IFMT`) and inode.
pub(super) fn stat(fd: i32) -> Option<(u32, u64)> {
    let mut st = MaybeUninit::<libc::stat64>::uninit();
    // SAFETY: `st` is writable storage for one `stat64`, which `fstat64`
    // fills when it returns 0; an unopened `fd` only makes it fail.
    if unsafe { libc::fstat64(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: `fstat64` returned 0, so `st` is initialized.
    let st = unsafe { st.assume_init() };
    Some((st.st_mode & libc::S_IFMT, st.st_ino))
}

fn int_option(fd: i32, level: c_int, name: c_int) -> Option<c_int> {
    let mut value: c_int = 0;
    let mut len = size_of::<c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are writable and `len` is `value`'s size;
    // the kernel writes at most `len` bytes. A non-socket `fd` only fails.
    let rc = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &mut len) };
    (rc == 0).then_some(value)
}

/// The TCP state's name, from the first byte of `TCP_INFO`.
fn tcp(fd: i32) -> Option<&'static str> {
    let mut info = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable storage of `len` bytes; the kernel writes
    // at most `len` of them.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: zeroed, then partly written by the kernel: every byte is
    // initialized, and `tcp_info` is plain integers.
    let info = unsafe { info.assume_init() };
    procfs::net::TcpState::from_u8(info.tcpi_state).map(|s| tcp_state(&s))
}

type NameFn = unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> c_int;

/// The socket's own (`getsockname`) or peer's (`getpeername`) address.
fn address(fd: i32, get: NameFn) -> Option<(libc::sockaddr_storage, usize)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` is writable for `len` bytes, the most the call
    // writes; `get` is `getsockname` or `getpeername`.
    if unsafe { get(fd, storage.as_mut_ptr().cast(), &mut len) } != 0 {
        return None;
    }
    // SAFETY: zeroed and then partly written: every byte initialized, and
    // `sockaddr_storage` is plain integers.
    Some((unsafe { storage.assume_init() }, len as usize))
}

fn inet((storage, len): &(libc::sockaddr_storage, usize)) -> Option<SocketAddr> {
    match c_int::from(storage.ss_family) {
        libc::AF_INET if *len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: `sockaddr_storage` is at least as large and as aligned
            // as `sockaddr_in`, and the family says that is what it holds.
            let sin = unsafe { &*(&raw const *storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if *len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for `sockaddr_in6`.
            let sin6 = unsafe { &*(&raw const *storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// A bound Unix socket's path; an abstract name is shown as `@name`.
fn unix_path((storage, len): &(libc::sockaddr_storage, usize)) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;

    if c_int::from(storage.ss_family) != libc::AF_UNIX {
        return None;
    }
    // SAFETY: `sockaddr_storage` is at least as large and as aligned as
    // `sockaddr_un`, and the family says that is what it holds.
    let sun = unsafe { &*(&raw const *storage).cast::<libc::sockaddr_un>() };
    let offset = std::mem::offset_of!(libc::sockaddr_un, sun_path);
    let n = len.saturating_sub(offset).min(sun.sun_path.len());
    let bytes: Vec<u8> = sun.sun_path[..n].iter().map(|&c| c as u8).collect();
    match bytes.split_first() {
        None => None,
        Some((0, name)) => {
            let mut shown = b"@".to_vec();
            shown.extend_from_slice(name);
            Some(PathBuf::from(std::ffi::OsStr::from_bytes(&shown)))
        }
        Some(_) => {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            (end > 0).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(&bytes[..end])))
        }
    }
}
