//! [`Tag`], the handle a tracked resource embeds.
//!
//! Creating a tag records one open item; dropping it removes the record. Put
//! one in a resource type next to the thing it tracks, and the resource is
//! reported, with the place that opened it, by any check that runs while it
//! is still alive: parked in a global, kept by an `Rc` cycle, passed to
//! `mem::forget` or `Box::leak`, or moved into a thread that never ends.
//!
//! ```
//! use leakwatch_core::Tag;
//!
//! /// A connection from the user's own pool.
//! struct Conn {
//!     id: u32,
//!     _tag: Tag,
//! }
//!
//! impl Conn {
//!     #[track_caller] // so the tag records our caller's line, not this one
//!     fn open(id: u32) -> Conn {
//!         Conn { id, _tag: Tag::with_detail("db-conn", format_args!("conn #{id}")) }
//!     }
//! }
//!
//! let scope = leakwatch_core::Scope::new("example");
//! let conn = scope.run(|| Conn::open(7));
//! assert!(scope.check_now().is_err() || !leakwatch_core::COMPILED_IN);
//! drop(conn);
//! assert!(scope.check_now().is_ok());
//! ```
//!
//! # Must-close items
//!
//! A transaction that must be committed, a writer that must be flushed: for
//! these, [`Tag::must_close`] makes dropping the tag without [`Tag::close`] a
//! finding of its own, reported as "dropped without close" at the open site.

use std::fmt;
use std::marker::PhantomData;
use std::panic::Location;

use crate::scope_id::ScopeId;

/// Where, for whom and which: what [`Tag::with_origin`] records for an item
/// that code other than its opener learns about, such as a runtime hook
/// seeing a task spawned.
///
/// ```
/// let origin = leakwatch_core::Origin {
///     site: std::panic::Location::caller(),
///     scope: leakwatch_core::ScopeId::current(),
///     id: Some(17),
/// };
/// # let _ = origin;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    /// Where in the user's code the item was opened.
    pub site: &'static Location<'static>,
    /// The scope it belongs to.
    pub scope: ScopeId,
    /// Its id (a task id), shown in reports as `id N`.
    pub id: Option<u64>,
}

/// A record of one open item, removed when the tag is dropped.
///
/// With tracking compiled out (release builds without the `production`
/// feature) a `Tag` is zero-sized and every method is an empty inline
/// function.
pub struct Tag {
    inner: imp::Inner,
}

impl Tag {
    /// Records an open item of `kind` at the caller's location.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("lock-file");
    /// drop(tag); // closed
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    #[inline]
    pub fn new(kind: &'static str) -> Tag {
        Tag {
            inner: imp::open(kind, None::<&str>, -1, false),
        }
    }

    /// Like [`Tag::new`], with a detail shown in reports: a path, an
    /// address, a name. It is formatted only when tracking is on.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::with_detail("socket", "127.0.0.1:8080");
    /// # drop(tag);
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    #[inline]
    pub fn with_detail(kind: &'static str, detail: impl fmt::Display) -> Tag {
        Tag {
            inner: imp::open(kind, Some(detail), -1, false),
        }
    }

    /// Records an item of `kind` with `detail`, opened at `site` rather than
    /// at the caller, in the current scope: for wrappers that open items on
    /// behalf of a line they saw earlier, such as an iterator of accepted
    /// connections reporting each at the line that made the iterator.
    ///
    /// ```
    /// use std::panic::Location;
    ///
    /// #[track_caller]
    /// fn here() -> &'static Location<'static> {
    ///     Location::caller()
    /// }
    ///
    /// let site = here(); // this line
    /// let tag = leakwatch_core::Tag::with_detail_at("tcp", "127.0.0.1:80", site);
    /// # drop(tag);
    /// ```
    #[inline]
    pub fn with_detail_at(
        kind: &'static str,
        detail: impl fmt::Display,
        site: &'static Location<'static>,
    ) -> Tag {
        Tag {
            inner: imp::open_at(kind, Some(detail), -1, false, site),
        }
    }

    /// Records an item of `kind` with `detail` that holds descriptor `fd`
    /// (a socket, say, whose detail is its addresses): like
    /// [`Tag::with_detail`], and a descriptor that a layer seeing libc
    /// calls also recorded is reported once, as this item (see
    /// [`external`](crate::external)).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    ///
    /// let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let tag = leakwatch_core::Tag::for_fd_with_detail("udp", socket.as_fd(), "bound");
    /// # drop(tag);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(unix)]
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    #[inline]
    pub fn for_fd_with_detail(
        kind: &'static str,
        fd: std::os::fd::BorrowedFd<'_>,
        detail: impl fmt::Display,
    ) -> Tag {
        use std::os::fd::AsRawFd;
        Tag {
            inner: imp::open(kind, Some(detail), fd.as_raw_fd(), false),
        }
    }

    /// [`Tag::for_fd_with_detail`] opened at `site` rather than at the
    /// caller (see [`Tag::with_detail_at`]).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    ///
    /// let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let site = std::panic::Location::caller();
    /// let tag = leakwatch_core::Tag::for_fd_with_detail_at("udp", socket.as_fd(), "bound", site);
    /// # drop(tag);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(unix)]
    #[inline]
    pub fn for_fd_with_detail_at(
        kind: &'static str,
        fd: std::os::fd::BorrowedFd<'_>,
        detail: impl fmt::Display,
        site: &'static Location<'static>,
    ) -> Tag {
        use std::os::fd::AsRawFd;
        Tag {
            inner: imp::open_at(kind, Some(detail), fd.as_raw_fd(), false, site),
        }
    }

    /// Records an item that must be [closed](Tag::close): dropping it
    /// without closing is reported as "dropped without close".
    ///
    /// ```
    /// let txn = leakwatch_core::Tag::must_close("db-txn");
    /// txn.close(); // committed
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    #[inline]
    pub fn must_close(kind: &'static str) -> Tag {
        Tag {
            inner: imp::open(kind, None::<&str>, -1, true),
        }
    }

    /// [`Tag::must_close`] with a detail.
    ///
    /// ```
    /// let w = leakwatch_core::Tag::must_close_with_detail("writer", "out.csv");
    /// w.close();
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    #[inline]
    pub fn must_close_with_detail(kind: &'static str, detail: impl fmt::Display) -> Tag {
        Tag {
            inner: imp::open(kind, Some(detail), -1, true),
        }
    }

    /// Records an item of `kind` whose detail is the path of `fd`, read
    /// only when a report or snapshot is made (from `/proc/self/fd` on
    /// Linux; elsewhere the detail is `fd N`). Opening costs no allocation.
    ///
    /// The tag must be dropped before `fd` is closed, or a snapshot taken in
    /// between may name whatever file reused the number: put the tag first
    /// in your struct, since fields drop in order.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    ///
    /// struct Log {
    ///     _tag: leakwatch_core::Tag, // first: dropped before `file`
    ///     file: std::fs::File,
    /// }
    ///
    /// let file = std::fs::File::open("Cargo.toml")?;
    /// let log = Log { _tag: leakwatch_core::Tag::for_fd("log", file.as_fd()), file };
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(unix)]
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    #[inline]
    pub fn for_fd(kind: &'static str, fd: std::os::fd::BorrowedFd<'_>) -> Tag {
        use std::os::fd::AsRawFd;
        Tag {
            inner: imp::open(kind, None::<&str>, fd.as_raw_fd(), false),
        }
    }

    /// Records an item of `kind` at `origin`, rather than at the caller
    /// and in the caller's scope: for integrations that learn of items after
    /// the fact, such as the tokio runtime hooks seeing a task spawned.
    ///
    /// ```
    /// use leakwatch_core::{Origin, Scope, Tag};
    ///
    /// let test = Scope::new("test");
    /// let origin = Origin { site: std::panic::Location::caller(), scope: test.id(), id: Some(7) };
    /// let task = Tag::with_origin("task", origin); // opened outside the scope, yet in it
    /// assert_eq!(test.check_now().is_err(), leakwatch_core::COMPILED_IN);
    /// drop(task);
    /// ```
    #[inline]
    pub fn with_origin(kind: &'static str, origin: Origin) -> Tag {
        Tag {
            inner: imp::recorded(kind, origin),
        }
    }

    /// Gives the item an id, shown in reports as `id N`: for items whose id
    /// is known only once they exist, such as a spawned task's.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("task");
    /// tag.set_id(42);
    /// # drop(tag);
    /// ```
    #[inline]
    pub fn set_id(&self, id: u64) {
        imp::set_id(&self.inner, id);
    }

    /// A way to give this item its id after the tag has been handed on, to
    /// code that may drop it at any time: a task's id is known once the task
    /// is spawned, and by then the task may have finished and dropped its
    /// tag.
    ///
    /// [`IdSetter::set`] sets the id only while it can be sure the item is
    /// still the one this tag recorded. Call it right after the hand-off, on
    /// the same thread: an `IdSetter` cannot be sent to another one.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("job");
    /// let late = tag.id_setter();
    /// let worker = std::thread::spawn(move || drop(tag));
    /// late.set(42); // does nothing if the worker dropped the tag already
    /// worker.join().unwrap();
    /// ```
    #[inline]
    pub fn id_setter(&self) -> IdSetter {
        IdSetter {
            inner: imp::late(&self.inner),
            _same_thread: PhantomData,
        }
    }

    /// Closes the item properly. For a plain tag this is the same as
    /// dropping it; for a must-close tag it is the only clean way out.
    ///
    /// ```
    /// leakwatch_core::Tag::must_close("flush").close();
    /// ```
    #[inline]
    pub fn close(mut self) {
        imp::close(&mut self.inner);
    }

    /// Whether this tag is recorded: false when tracking is compiled out or
    /// `LEAKWATCH=off`.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("file");
    /// assert_eq!(tag.is_tracked(), leakwatch_core::level() != leakwatch_core::Level::Off);
    /// ```
    #[inline]
    pub fn is_tracked(&self) -> bool {
        imp::is_tracked(&self.inner)
    }
}

/// Sets an item's id after its [`Tag`] was handed on: see [`Tag::id_setter`].
///
/// ```
/// let tag = leakwatch_core::Tag::new("job");
/// let late = tag.id_setter();
/// drop(tag);
/// late.set(3); // the item is gone: nothing to set
/// ```
///
/// It stays on the thread that made it, where nothing can reuse the item's
/// place in the registry while it sets the id:
///
/// ```compile_fail
/// let tag = leakwatch_core::Tag::new("job");
/// let late = tag.id_setter();
/// std::thread::spawn(move || late.set(3)); // error: `IdSetter` is not `Send`
/// ```
#[derive(Debug)]
pub struct IdSetter {
    inner: imp::Late,
    _same_thread: PhantomData<*const ()>,
}

impl IdSetter {
    /// Gives the item `id`, shown in reports as `id N`, if it is still open
    /// and nothing else was opened on its thread since its tag was made.
    /// Returns whether the id was set.
    ///
    /// ```
    /// let tag = leakwatch_core::Tag::new("job");
    /// let late = tag.id_setter();
    /// assert_eq!(late.set(3), tag.is_tracked());
    /// ```
    #[inline]
    pub fn set(self, id: u64) -> bool {
        imp::set_late(&self.inner, id)
    }
}

impl Drop for Tag {
    #[inline]
    fn drop(&mut self) {
        imp::drop(&mut self.inner);
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tag")
            .field("tracked", &self.is_tracked())
            .finish()
    }
}

cfg_on! {
    mod imp {
        use std::fmt;
        use std::panic::Location;

        use super::Origin;
        use crate::config::{self, Level};
        use crate::registry::{self, Handle, LateHandle, Number, Record};
        use crate::scope_id::ScopeId;
        use crate::{clock, stack};

        pub(super) type Inner = Option<Handle>;

        /// The level check, inlined into the caller so `LEAKWATCH=off` costs
        /// a load and a branch; the recording itself stays out of line.
        ///
        /// The detail is formatted here, while its type is still known: a
        /// `&str` is then copied rather than formatted (std specializes
        /// `ToString` for it), which halves the cost of a detailed open.
        #[track_caller]
        #[inline]
        pub(super) fn open<D: fmt::Display>(
            kind: &'static str,
            detail: Option<D>,
            fd: i32,
            must_close: bool,
        ) -> Inner {
            open_at(kind, detail, fd, must_close, Location::caller())
        }

        /// [`open`] at `site` instead of the caller's line.
        #[inline]
        pub(super) fn open_at<D: fmt::Display>(
            kind: &'static str,
            detail: Option<D>,
            fd: i32,
            must_close: bool,
            site: &'static Location<'static>,
        ) -> Inner {
            let level = config::level_for_open()?;
            if detail.is_none() && !must_close && !stack::wanted(site, level) {
                // Every argument known at the call site (`Tag::new`,
                // `Tag::for_fd`) and no stack (which needs a map's record):
                // the short path, to the thread's ring.
                return Some(match u64::try_from(fd) {
                    Ok(fd) => record_fd(kind, site, fd),
                    Err(_) => record_plain(kind, site),
                });
            }
            let detail = detail.map(|d| d.to_string().into_boxed_str());
            let number = u64::try_from(fd).ok().map(Number::Fd);
            let scope = ScopeId::current();
            Some(record(kind, detail, number, must_close, level, site, scope))
        }

        #[inline]
        pub(super) fn recorded(kind: &'static str, origin: Origin) -> Inner {
            let level = config::level_for_open()?;
            let number = origin.id.map(Number::Id);
            Some(record(kind, None, number, false, level, origin.site, origin.scope))
        }

        /// Records an item with nothing but a kind and a site, in the current
        /// scope, in the thread's own ring, unlocked: most items (every
        /// `Tag::new`, every unnamed task).
        ///
        /// Out of line, so callers stay small, and with arguments that all
        /// travel in registers: arguments passed in memory are written field
        /// by field and read back in wider loads, a store-forwarding stall.
        #[inline(never)]
        fn record_plain(kind: &'static str, site: &'static Location<'static>) -> Handle {
            registry::insert_plain(kind, site, ScopeId::current(), None)
        }

        /// [`record_plain`] for an item named by a descriptor.
        #[inline(never)]
        fn record_fd(kind: &'static str, site: &'static Location<'static>, fd: u64) -> Handle {
            registry::insert_plain(kind, site, ScopeId::current(), Some(fd))
        }

        /// Records any item (out of line, so callers stay small).
        #[inline(never)]
        fn record(
            kind: &'static str,
            detail: Option<Box<str>>,
            number: Option<Number>,
            must_close: bool,
            level: Level,
            site: &'static Location<'static>,
            scope: ScopeId,
        ) -> Handle {
            build(kind, detail, number, must_close, level, site, scope)
        }

        /// Makes the record in the calling thread's shard.
        #[inline(always)]
        fn build(
            kind: &'static str,
            detail: Option<Box<str>>,
            number: Option<Number>,
            must_close: bool,
            level: Level,
            site: &'static Location<'static>,
            scope: ScopeId,
        ) -> Handle {
            let stack = stack::capture_for(site, level);
            registry::insert(scope, |thread, scope| Record {
                kind,
                site,
                opened: clock::now_nanos(),
                thread,
                scope,
                must_close,
                number,
                detail,
                stack,
            })
        }

        #[inline]
        pub(super) fn set_id(inner: &Inner, id: u64) {
            if let Some(handle) = inner {
                registry::set_id(handle, id);
            }
        }

        pub(super) type Late = Option<LateHandle>;

        #[inline]
        pub(super) fn late(inner: &Inner) -> Late {
            inner.as_ref().map(Handle::late)
        }

        #[inline]
        pub(super) fn set_late(late: &Late, id: u64) -> bool {
            late.as_ref().is_some_and(|late| registry::set_id_late(late, id))
        }

        #[inline]
        pub(super) fn close(inner: &mut Inner) {
            if let Some(handle) = inner.take() {
                registry::remove(handle);
            }
        }

        #[inline]
        pub(super) fn drop(inner: &mut Inner) {
            if let Some(handle) = inner.take() {
                forget(handle);
            }
        }

        /// Removes a record on drop; a must-close one becomes a finding.
        #[inline(never)]
        fn forget(handle: Handle) {
            if let Some(record) = registry::remove(handle) {
                registry::unclosed::push(record);
            }
        }

        #[inline]
        pub(super) fn is_tracked(inner: &Inner) -> bool {
            inner.is_some()
        }
    }
}

cfg_off! {
    mod imp {
        use std::fmt;

        pub(super) type Inner = ();

        #[inline(always)]
        pub(super) fn open<D: fmt::Display>(_: &'static str, _: Option<D>, _: i32, _: bool) {}

        #[inline(always)]
        pub(super) fn open_at<D: fmt::Display>(
            _: &'static str,
            _: Option<D>,
            _: i32,
            _: bool,
            _: &'static std::panic::Location<'static>,
        ) {
        }

        #[inline(always)]
        pub(super) fn recorded(_: &'static str, _: super::Origin) {}

        #[inline(always)]
        pub(super) fn set_id(_: &Inner, _: u64) {}

        pub(super) type Late = ();

        #[inline(always)]
        pub(super) fn late(_: &Inner) {}

        #[inline(always)]
        pub(super) fn set_late(_: &Late, _: u64) -> bool {
            false
        }

        #[inline(always)]
        pub(super) fn close(_: &mut Inner) {}

        #[inline(always)]
        pub(super) fn drop(_: &mut Inner) {}

        #[inline(always)]
        pub(super) fn is_tracked(_: &Inner) -> bool {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tag;

    #[test]
    fn size_matches_the_build() {
        if crate::COMPILED_IN {
            assert_eq!(size_of::<Tag>(), 2 * size_of::<usize>());
        } else {
            assert_eq!(size_of::<Tag>(), 0);
        }
    }
}
