//! [`Tracked<T>`]: any value, tracked while it lives.
//!
//! Wrap a value you own in [`Tracked`] and it is recorded as an open item of
//! the kind you name, at the line that wrapped it, until it is dropped or
//! unwrapped with [`Tracked::into_inner`]. It dereferences to the value and
//! passes `Read`, `Write`, `Seek`, `BufRead`, `AsFd` and `AsRawFd` through,
//! so it slots in where the value was.
//!
//! ```
//! use std::io::Write;
//! use leakwatch::Tracked;
//!
//! let mut buf = Tracked::new(Vec::new(), "buffer");
//! buf.write_all(b"hello").unwrap();
//! assert_eq!(buf.len(), 5); // through Deref
//! let bytes: Vec<u8> = buf.into_inner(); // no longer tracked
//! ```

use std::fmt;
use std::io::{self, BufRead, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::ops::{Deref, DerefMut};

use crate::Tag;

/// A value recorded as an open item while it lives.
///
/// With tracking compiled out, `Tracked<T>` has the size and layout cost of
/// `T` alone.
///
/// ```
/// use leakwatch::{Scope, Tracked};
///
/// let scope = Scope::new("pool");
/// let conn = scope.run(|| Tracked::new(String::from("conn-1"), "db-conn"));
/// assert_eq!(conn.len(), 6); // Deref to the String
/// drop(conn);
/// scope.check_now().unwrap();
/// ```
pub struct Tracked<T> {
    // First, so it drops before `value`: a snapshot never sees a record
    // whose file descriptor is already closed (see `Tag::for_fd`).
    tag: Tag,
    value: T,
}

impl<T> Tracked<T> {
    /// Tracks `value` as an item of `kind`, opened at the caller's line.
    ///
    /// ```
    /// let conn = leakwatch::Tracked::new(String::from("conn-1"), "db-conn");
    /// # drop(conn);
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    #[inline]
    pub fn new(value: T, kind: &'static str) -> Tracked<T> {
        Tracked {
            value,
            tag: Tag::new(kind),
        }
    }

    /// Like [`Tracked::new`], with a detail shown in reports (a path, an
    /// address, a name), formatted only when tracking is on.
    ///
    /// ```
    /// let conn = leakwatch::Tracked::with_detail((), "db-conn", "postgres://db/app");
    /// # drop(conn);
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    #[inline]
    pub fn with_detail(value: T, kind: &'static str, detail: impl fmt::Display) -> Tracked<T> {
        Tracked {
            value,
            tag: Tag::with_detail(kind, detail),
        }
    }

    /// Wraps `value` with a tag the caller made, such as a
    /// [must-close](Tag::must_close) one.
    ///
    /// ```
    /// use leakwatch::{Tag, Tracked};
    ///
    /// let txn = Tracked::from_parts("BEGIN", Tag::must_close("db-txn"));
    /// let (_sql, tag) = txn.into_parts();
    /// tag.close(); // committed
    /// ```
    #[inline]
    pub fn from_parts(value: T, tag: Tag) -> Tracked<T> {
        Tracked { value, tag }
    }

    /// Stops tracking and returns the value.
    ///
    /// ```
    /// let n = leakwatch::Tracked::new(5, "counter").into_inner();
    /// assert_eq!(n, 5);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The value and its tag, to close a must-close tag explicitly.
    ///
    /// ```
    /// let (value, tag) = leakwatch::Tracked::new(1, "k").into_parts();
    /// tag.close();
    /// # let _ = value;
    /// ```
    #[inline]
    pub fn into_parts(self) -> (T, Tag) {
        (self.value, self.tag)
    }

    /// The tag that records this value.
    ///
    /// ```
    /// let v = leakwatch::Tracked::new((), "k");
    /// println!("tracked: {}", v.tag().is_tracked());
    /// ```
    #[inline]
    pub fn tag(&self) -> &Tag {
        &self.tag
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Tracked<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Tracked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Tracked").field(&self.value).finish()
    }
}

impl<T: Read> Read for Tracked<T> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.value.read(buf)
    }

    #[inline]
    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.value.read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.value.read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.value.read_to_string(buf)
    }
}

impl<'a, T> Read for &'a Tracked<T>
where
    &'a T: Read,
{
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.value).read(buf)
    }
}

impl<T: Write> Write for Tracked<T> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.value.write(buf)
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.value.write_vectored(bufs)
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        self.value.flush()
    }
}

impl<'a, T> Write for &'a Tracked<T>
where
    &'a T: Write,
{
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.value).write(buf)
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        (&self.value).flush()
    }
}

impl<T: Seek> Seek for Tracked<T> {
    #[inline]
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.value.seek(pos)
    }
}

impl<'a, T> Seek for &'a Tracked<T>
where
    &'a T: Seek,
{
    #[inline]
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&self.value).seek(pos)
    }
}

impl<T: BufRead> BufRead for Tracked<T> {
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.value.fill_buf()
    }

    #[inline]
    fn consume(&mut self, amt: usize) {
        self.value.consume(amt)
    }
}

#[cfg(unix)]
impl<T: std::os::fd::AsRawFd> std::os::fd::AsRawFd for Tracked<T> {
    #[inline]
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.value.as_raw_fd()
    }
}

#[cfg(unix)]
impl<T: std::os::fd::AsFd> std::os::fd::AsFd for Tracked<T> {
    #[inline]
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.value.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_io_through() {
        let mut cursor = Tracked::new(io::Cursor::new(b"line one\nline two\n".to_vec()), "cursor");
        let mut first = String::new();
        cursor.read_line(&mut first).unwrap();
        assert_eq!(first, "line one\n");
        cursor.seek(SeekFrom::Start(5)).unwrap();
        let mut rest = String::new();
        cursor.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "one\nline two\n");
        cursor.write_all(b"!").unwrap();
        assert_eq!(cursor.into_inner().into_inner().last(), Some(&b'!'));
    }
}
