//! What the registry keeps for one open item.

use std::panic::Location;
use std::sync::Arc;

use super::ring::Seen;
use crate::scope_id::ScopeId;
use crate::stack::Stack;

/// One open item, as recorded when it was opened. A clone allocates only
/// for a detail (a stack is shared).
#[derive(Clone, Debug)]
pub(crate) struct Record {
    /// What kind of thing it is: `"file"`, `"tcp"`, a user's `"db-conn"`.
    pub(crate) kind: &'static str,
    /// Where in the user's code it was opened.
    pub(crate) site: &'static Location<'static>,
    /// When it was opened, on [`clock`](crate::clock).
    pub(crate) opened: u64,
    /// The opening thread's number (see [`super::thread_label`]).
    pub(crate) thread: u32,
    /// The scope it is counted in.
    pub(crate) scope: ScopeId,
    /// Whether dropping it without `close` is itself a finding.
    pub(crate) must_close: bool,
    /// A number naming the item, turned into words only when a snapshot is
    /// taken.
    pub(crate) number: Option<Number>,
    /// A path, an address, a name: one allocation, made only when given.
    pub(crate) detail: Option<Box<str>>,
    /// Raw frames, at `LEAKWATCH=stacks`; boxed (a thin pointer) so that
    /// records without one stay small and cheap to move.
    pub(crate) stack: Option<Arc<Stack>>,
}

/// A number naming an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Number {
    /// An id, such as a task's.
    Id(u64),
    /// A file descriptor, whose path a snapshot reads (see
    /// [`Tag::for_fd`](crate::Tag::for_fd)).
    Fd(u64),
}

impl Record {
    /// The record of a plain item as a ring has it: made for a snapshot,
    /// or for the map when the ring had no room.
    pub(super) fn from_ring(seen: &Seen) -> Record {
        Record {
            kind: seen.kind,
            site: seen.site,
            opened: seen.opened,
            thread: seen.thread,
            scope: seen.scope,
            must_close: false,
            number: seen.number,
            detail: None,
            stack: None,
        }
    }

    /// The descriptor whose path is the item's detail, if it has one.
    pub(crate) fn fd(&self) -> Option<i32> {
        match self.number {
            Some(Number::Fd(fd)) => i32::try_from(fd).ok(),
            _ => None,
        }
    }

    /// The item's id, such as a task id, if it has one.
    pub(crate) fn id(&self) -> Option<u64> {
        match self.number {
            Some(Number::Id(id)) => Some(id),
            _ => None,
        }
    }

    pub(crate) fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}
