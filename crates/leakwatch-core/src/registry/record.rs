//! What the registry keeps for one open item.

use std::panic::Location;

use crate::scope::ScopeId;
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
    /// The file descriptor whose path is the detail, read when a snapshot
    /// is taken (see [`Tag::for_fd`](crate::Tag::for_fd)); -1 for none.
    pub(crate) fd: i32,
    /// A path, an address, a name: one allocation, made only when given.
    pub(crate) detail: Option<Box<str>>,
    /// Raw frames, at `LEAKWATCH=stacks`; boxed (a thin pointer) so that
    /// records without one stay small and cheap to move.
    pub(crate) stack: Option<Box<Stack>>,
}

impl Record {
    pub(crate) fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    pub(crate) fn stack(&self) -> Option<&Stack> {
        self.stack.as_deref()
    }
}
