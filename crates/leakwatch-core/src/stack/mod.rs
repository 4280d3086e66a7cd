//! Full stacks: raw frames at open, symbols only when a report is printed.
//!
//! At `LEAKWATCH=stacks` each open captures up to [`MAX_FRAMES`] return
//! addresses and nothing else: symbolizing costs tens of microseconds per
//! frame (70 ms for the first), so it waits until a report is printed or
//! exported, and then each distinct address is looked up once and cached.
//!
//! Builds with frame pointers (`-C force-frame-pointers=yes`) walk them
//! instead of calling the unwinder, checking every pointer (see
//! `frame_pointers`).
//!
//! Frames are trimmed for the reader: leakwatch's own frames and the
//! unwinder's at the top, and the runtime's (thread start, test harness,
//! `main`'s shims) at the bottom, so the user's frame comes first.

#[cfg(all(
    feature = "stacks",
    not(leakwatch_frame_pointers),
    any(debug_assertions, feature = "production")
))]
mod capture;
#[cfg(all(
    feature = "stacks",
    any(leakwatch_frame_pointers, test),
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64"),
    any(debug_assertions, feature = "production")
))]
mod frame_pointers;
#[cfg(feature = "stacks")]
mod resolve;
mod trim;

use std::fmt;

/// The calling thread's stack, or `None` in a build without `stacks`.
#[cfg(any(debug_assertions, feature = "production"))]
#[inline]
pub(crate) fn capture() -> Option<Box<Stack>> {
    #[cfg(all(feature = "stacks", leakwatch_frame_pointers))]
    return frame_pointers::capture();
    #[cfg(all(feature = "stacks", not(leakwatch_frame_pointers)))]
    return capture::capture();
    #[cfg(not(feature = "stacks"))]
    None
}

/// How many return addresses an open keeps at most.
///
/// ```
/// assert_eq!(leakwatch_core::MAX_FRAMES, 16);
/// ```
pub const MAX_FRAMES: usize = 16;

/// Return addresses captured when an item was opened.
///
/// A fixed array rather than a `Vec`, so that a record's stack is a single
/// allocation.
///
/// ```
/// // Captured at LEAKWATCH=stacks.
/// let scope = leakwatch_core::Scope::new("s");
/// let tag = scope.run(|| leakwatch_core::Tag::new("file"));
/// for item in scope.snapshot().items() {
///     if let Some(stack) = item.stack() {
///         assert!(stack.addresses().len() <= leakwatch_core::MAX_FRAMES);
///     }
/// }
/// # drop(tag);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Stack {
    len: usize,
    ips: [usize; MAX_FRAMES],
}

impl Stack {
    /// A boxed stack of what `fill` writes, which returns how many
    /// addresses it wrote; `None` when it wrote none.
    ///
    /// The array is filled on the stack and then moved into the box: a
    /// zeroed box would be allocated with `calloc`, which misses glibc's
    /// per-thread cache and costs twice as much.
    #[cfg(all(feature = "stacks", any(debug_assertions, feature = "production")))]
    #[inline(always)]
    fn boxed(fill: impl FnOnce(&mut [usize; MAX_FRAMES]) -> usize) -> Option<Box<Stack>> {
        let mut ips = [0; MAX_FRAMES];
        let len = fill(&mut ips);
        (len > 0).then(|| Box::new(Stack { len, ips }))
    }

    /// The raw return addresses, innermost first, as captured.
    ///
    /// ```
    /// # let stack: Option<&leakwatch_core::Stack> = None;
    /// if let Some(stack) = stack {
    ///     println!("{} frames", stack.addresses().len());
    /// }
    /// ```
    pub fn addresses(&self) -> &[usize] {
        &self.ips[..self.len]
    }

    /// The frames a reader should see: symbolized (once per distinct
    /// address, cached for the process), with leakwatch's and the runtime's
    /// frames trimmed so the user's frame comes first.
    ///
    /// Empty when this build has no `stacks` feature.
    ///
    /// ```
    /// # let stack: Option<&leakwatch_core::Stack> = None;
    /// for frame in stack.map(|s| s.frames()).unwrap_or_default() {
    ///     println!("{frame}");
    /// }
    /// ```
    pub fn frames(&self) -> Vec<Frame> {
        #[cfg(feature = "stacks")]
        let all = resolve::resolve(self.addresses());
        #[cfg(not(feature = "stacks"))]
        let all = Vec::new();
        trim::user_frames(all)
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("frames", &self.ips.len())
            .finish()
    }
}

/// One symbolized frame.
///
/// ```
/// let frame = leakwatch_core::Frame {
///     function: "app::db::connect".into(),
///     file: Some("src/db.rs".into()),
///     line: Some(42),
/// };
/// assert_eq!(frame.to_string(), "app::db::connect at src/db.rs:42");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize))]
pub struct Frame {
    /// The demangled function name, without its hash.
    pub function: String,
    /// The source file, when debug info has it.
    pub file: Option<String>,
    /// The line in `file`.
    pub line: Option<u32>,
}

impl fmt::Display for Frame {
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

#[cfg(all(
    test,
    feature = "stacks",
    any(debug_assertions, feature = "production")
))]
mod tests {
    use super::*;

    #[inline(never)]
    fn open_here() -> Option<Box<Stack>> {
        capture()
    }

    #[test]
    fn captures_the_caller_and_caches_each_address() {
        let stack = open_here().expect("the unwinder found frames");
        let all = resolve::resolve(stack.addresses());
        assert!(
            all.iter().any(|f| f.function.ends_with("open_here")),
            "{all:#?}"
        );
        assert!(stack.addresses().iter().all(|&ip| resolve::cached(ip)));
        // Trimming drops this crate's own frames, which here include the
        // test itself; what is left starts below them.
        let shown = stack.frames();
        assert!(
            shown
                .iter()
                .all(|f| !f.function.starts_with("leakwatch_core::"))
        );
    }
}
