//! What the registry keeps for one open item.

use std::panic::Location;

use super::ring::{Number, Seen};
use crate::scope_id::ScopeId;
use crate::stack::Stack;

/// One open item, as recorded when it was opened.
#[derive(Debug)]
pub(crate) struct Record {
    /// What kind of thing it is: `"file"`, `"tcp"`, a user's `"db-conn"`.
    pub(crate) kind: &'static str,
    /// Where in the user's code it was opened.
    pub(crate) site: &'static Location<'static>,
    /// When it was opened, on [`crate::clock`].
    pub(crate) opened: u64,
    /// The opening thread's number (see [`super::thread_label`]).
    pub(crate) thread: u32,
    /// The scope that was current when it was opened.
    pub(crate) scope: ScopeId,
    /// Whether dropping it without `close` is itself a finding.
    pub(crate) must_close: bool,
    /// What [`Record::number`] is.
    pub(crate) number_is: NumberIs,
    /// A number naming the item, turned into words only when a snapshot is
    /// taken: a file descriptor whose path is read then (see
    /// [`Tag::for_fd`](crate::Tag::for_fd)), or an id such as a task's.
    pub(crate) number: u64,
    /// A path, an address, a name: one allocation, made only when given.
    pub(crate) detail: Option<Box<str>>,
    /// Raw frames, at `LEAKWATCH=stacks`; boxed (a thin pointer) so that
    /// records without one stay small and cheap to move.
    pub(crate) stack: Option<Box<Stack>>,
}

/// What a record's number means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumberIs {
    /// There is none.
    Nothing,
    /// A file descriptor.
    Fd,
    /// An id, such as a task's.
    Id,
}

impl Record {
    /// The record of a plain item as a ring has it: made for a check, or
    /// for the slab when the ring had no room.
    pub(super) fn from_ring(seen: &Seen) -> Record {
        let (number_is, number) = match seen.number {
            Some(Number::Id(id)) => (NumberIs::Id, id),
            Some(Number::Fd(fd)) => (NumberIs::Fd, fd),
            None => (NumberIs::Nothing, 0),
        };
        Record {
            kind: seen.kind,
            site: seen.site,
            opened: seen.opened,
            thread: seen.thread,
            scope: seen.scope,
            must_close: false,
            number_is,
            number,
            detail: None,
            stack: None,
        }
    }

    /// The descriptor whose path is the item's detail, if it has one.
    pub(crate) fn fd(&self) -> Option<i32> {
        match self.number_is {
            NumberIs::Fd => i32::try_from(self.number).ok(),
            _ => None,
        }
    }

    /// The item's id, such as a task id, if it has one.
    pub(crate) fn id(&self) -> Option<u64> {
        match self.number_is {
            NumberIs::Id => Some(self.number),
            _ => None,
        }
    }

    /// Gives the item an id.
    pub(crate) fn set_id(&mut self, id: u64) {
        self.number_is = NumberIs::Id;
        self.number = id;
    }

    pub(crate) fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    pub(crate) fn stack(&self) -> Option<&Stack> {
        self.stack.as_deref()
    }
}
