//! Full stacks: raw frames at open, symbols only when a report is printed.
//!
//! At `LEAKWATCH=stacks` each open captures up to [`USER_SITE_FRAMES`]
//! return addresses (at a dependency's site [`DEEP_FRAMES`]) and nothing
//! else: symbolizing costs far more than capturing (the first lookup
//! indexes the binary's debug information), so it waits until a report is printed or exported, and then
//! each distinct address is looked up once and cached.
//!
//! Builds with frame pointers (`-C force-frame-pointers=yes`) walk them
//! instead of calling the unwinder, checking every pointer (see
//! `frame_pointers`).
//!
//! Frames are trimmed for the reader: leakwatch's own frames and the
//! unwinder's at the top, and the runtime's (thread start, test harness,
//! `main`'s shims) at the bottom, so the user's frame comes first. Which
//! crates are leakwatch's own, each says itself ([`OWN_FRAMES`],
//! [`register_own_frames`]).
//!
//! # Items a dependency opened
//!
//! An item whose site is in a dependency (a task hyper-util spawned, a
//! `Tag` a library made) says little by its site alone: the user cannot
//! change that line, and it does not say which of their calls led there.
//! So for those items only, decided once per site (see `whose`), a stack
//! is captured even at `LEAKWATCH=sites`, up to [`DEEP_FRAMES`] deep to get
//! past the runtime's and the library's frames, and a report names the
//! first frame of the user's code beside the library's site
//! ([`Stack::user_call`]). Items opened in the user's own code pay one
//! table lookup for the decision.
//!
//! The frames above the library's (leakwatch's, and tokio's spawn path
//! when a runtime hook saw the task) are walked at capture and skipped when
//! the stack is read, not at capture: telling whose a return address is
//! takes its symbols, which only a failing check should pay. The deeper limit is what
//! keeps them from crowding out the user's frame.

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
mod own;
mod readable;
#[cfg(feature = "stacks")]
mod resolve;
mod trim;
#[cfg_attr(not(any(debug_assertions, feature = "production")), allow(dead_code))]
mod whose;

use std::fmt;
use std::panic::Location;

pub use own::{OWN_FRAMES, is_own_frame, register_own_frames};
pub use readable::{FrameLine, UserCall};

/// The calling thread's stack, or `None` in a build without `stacks`.
#[cfg(all(test, any(debug_assertions, feature = "production")))]
#[inline]
pub(crate) fn capture() -> Option<std::sync::Arc<Stack>> {
    capture_to::<USER_SITE_FRAMES>(true)
}

/// Up to `N` frames of the calling thread's stack (`full`: captured for
/// `LEAKWATCH=stacks`), or `None` in a build without `stacks`.
#[cfg(any(debug_assertions, feature = "production"))]
#[inline(always)]
fn capture_to<const N: usize>(full: bool) -> Option<std::sync::Arc<Stack>> {
    #[cfg(all(feature = "stacks", leakwatch_frame_pointers))]
    return Stack::boxed::<N>(full, frame_pointers::fill);
    #[cfg(all(feature = "stacks", not(leakwatch_frame_pointers)))]
    return Stack::boxed::<N>(full, capture::fill);
    #[cfg(not(feature = "stacks"))]
    {
        let _ = full;
        None
    }
}

/// Whether an item opened at `site` at `level` records a stack: always at
/// `LEAKWATCH=stacks`, at `sites` when `site` is in a dependency (see the
/// [module docs](self)), in builds with the `stacks` feature.
#[cfg(any(debug_assertions, feature = "production"))]
#[inline]
pub(crate) fn wanted(site: &'static Location<'static>, level: crate::Level) -> bool {
    match level {
        crate::Level::Stacks => true,
        crate::Level::Sites | crate::Level::Sampled(_) => {
            cfg!(feature = "stacks") && whose::is_dependency(site)
        }
        crate::Level::Off => false,
    }
}

/// The stack an item opened at `site` at `level` records, if any (see
/// [`wanted`]): [`USER_SITE_FRAMES`] deep for the user's own sites,
/// [`DEEP_FRAMES`] for a dependency's.
#[cfg(any(debug_assertions, feature = "production"))]
#[inline]
pub(crate) fn capture_for(
    site: &'static Location<'static>,
    level: crate::Level,
) -> Option<std::sync::Arc<Stack>> {
    if !wanted(site, level) {
        return None;
    }
    capture_wanted(site, level)
}

/// Out of line: only items that record a stack come here.
#[cfg(any(debug_assertions, feature = "production"))]
#[inline(never)]
fn capture_wanted(
    site: &'static Location<'static>,
    level: crate::Level,
) -> Option<std::sync::Arc<Stack>> {
    let full = level == crate::Level::Stacks;
    if whose::is_dependency(site) {
        capture_to::<DEEP_FRAMES>(full)
    } else {
        capture_to::<USER_SITE_FRAMES>(full)
    }
}

/// Whether `site` is in a dependency (decided once per site).
pub(crate) fn in_dependency(site: &'static Location<'static>) -> bool {
    whose::is_dependency(site)
}

/// [`in_dependency`] for a file's path.
pub(crate) fn in_dependency_file(file: &str) -> bool {
    whose::is_dependency_file(file)
}

/// The name of the package `file` belongs to (`hyper-util`, `bb8`): a
/// dependency's from its registry `name-version` folder or its git
/// checkout, a workspace member's from the `Cargo.toml` nearest above the
/// file. `None` for std's files and where nothing says.
pub(crate) fn crate_name_of_file(file: &str) -> Option<String> {
    match whose::crate_of_file(file) {
        Some(shown) => Some(shown.split(' ').next().unwrap_or(&shown).to_owned()),
        None => whose::workspace_package_of_file(file),
    }
}

/// `file` as a report prints a site's: a registry crate's from its
/// `name-version` folder (`hyper-util-0.1.21/src/rt/tokio.rs`), the
/// workspace's relative to its root.
pub(crate) fn short_path(file: &str) -> &str {
    whose::short_path(file)
}

/// How many return addresses an open at `LEAKWATCH=stacks` keeps at most,
/// for a site in the user's own code: leakwatch's own frames (up to about a
/// dozen in a debug build, left out when the stack is shown) and the
/// caller's 16 or more.
///
/// ```
/// assert_eq!(leakwatch_core::USER_SITE_FRAMES, 32);
/// ```
pub const USER_SITE_FRAMES: usize = 32;

/// How many return addresses are kept at most for an item whose site is in
/// a dependency: enough to get past the runtime's spawn path and a
/// library's layers of futures to the user's call, in debug builds too.
///
/// ```
/// assert!(leakwatch_core::DEEP_FRAMES > leakwatch_core::USER_SITE_FRAMES);
/// ```
pub const DEEP_FRAMES: usize = 128;

/// Return addresses captured when an item was opened.
///
/// Up to [`USER_SITE_FRAMES`] in a fixed array rather than a `Vec`, so
/// that a record's stack is a single allocation; a dependency's deeper
/// stack (up to [`DEEP_FRAMES`]) in a second one of its exact length.
///
/// ```
/// // Captured at LEAKWATCH=stacks.
/// let scope = leakwatch_core::Scope::new("s");
/// let tag = scope.run(|| leakwatch_core::Tag::new("file"));
/// for item in scope.snapshot().items() {
///     if let Some(stack) = item.stack() {
///         assert!(stack.addresses().len() <= leakwatch_core::USER_SITE_FRAMES);
///     }
/// }
/// # drop(tag);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Stack {
    len: usize,
    ips: [usize; USER_SITE_FRAMES],
    /// Captured for `LEAKWATCH=stacks`, not only for a dependency's site.
    full: bool,
    /// All of a stack deeper than [`USER_SITE_FRAMES`].
    deep: Option<Box<[usize]>>,
}

impl Stack {
    /// A boxed stack of what `fill` writes into up to `N` addresses, which
    /// returns how many it wrote; `None` when it wrote none.
    ///
    /// The array is filled on the stack and then moved into the box: a
    /// zeroed box would be allocated with `calloc`, which misses glibc's
    /// per-thread cache and costs twice as much.
    #[cfg(all(feature = "stacks", any(debug_assertions, feature = "production")))]
    #[inline(always)]
    fn boxed<const N: usize>(
        full: bool,
        fill: impl FnOnce(&mut [usize]) -> usize,
    ) -> Option<std::sync::Arc<Stack>> {
        let mut all = [0; N];
        let len = fill(&mut all);
        if len == 0 {
            return None;
        }
        let mut ips = [0; USER_SITE_FRAMES];
        let deep = if len <= USER_SITE_FRAMES {
            ips[..len].copy_from_slice(&all[..len]);
            None
        } else {
            Some(Box::from(&all[..len]))
        };
        Some(std::sync::Arc::new(Stack {
            len,
            ips,
            full,
            deep,
        }))
    }

    /// A stack of raw return addresses (innermost first) captured by other
    /// means, such as a layer that records creations leakwatch's wrappers
    /// do not see; `full` as for [`Stack::is_full`].
    ///
    /// ```
    /// let stack = leakwatch_core::Stack::from_addresses(&[0x1000, 0x2000], true);
    /// assert_eq!(stack.addresses(), [0x1000, 0x2000]);
    /// ```
    pub fn from_addresses(addresses: &[usize], full: bool) -> Stack {
        let mut ips = [0; USER_SITE_FRAMES];
        let deep = if addresses.len() <= USER_SITE_FRAMES {
            ips[..addresses.len()].copy_from_slice(addresses);
            None
        } else {
            Some(Box::from(addresses))
        };
        Stack {
            len: addresses.len(),
            ips,
            full,
            deep,
        }
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
        match &self.deep {
            Some(deep) => deep,
            None => &self.ips[..self.len],
        }
    }

    /// Whether it was captured because `LEAKWATCH=stacks` asked for every
    /// item's stack, rather than only to find the user's call that led a
    /// dependency to open the item (see [`Stack::user_call`]). Reports
    /// print the frames of full stacks only.
    ///
    /// ```
    /// # let stack: Option<&leakwatch_core::Stack> = None;
    /// if let Some(stack) = stack.filter(|s| s.is_full()) {
    ///     println!("{:?}", stack.frames());
    /// }
    /// ```
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// The first frame of the user's code, with the dependency's function
    /// it was calling, for an item a dependency opened: what a report shows
    /// as `via tests/client.rs:12:40 (hyper_util::…::ResponseFuture)`.
    /// `None` when no frame is in the user's workspace (or this build has no
    /// `stacks` feature).
    ///
    /// ```
    /// # let stack: Option<&leakwatch_core::Stack> = None;
    /// if let Some(call) = stack.and_then(|s| s.user_call()) {
    ///     println!("via {}", call.location());
    /// }
    /// ```
    pub fn user_call(&self) -> Option<UserCall> {
        #[cfg(feature = "stacks")]
        let all = resolve::resolve(self.addresses());
        #[cfg(not(feature = "stacks"))]
        let all = Vec::new();
        readable::user_call(&all)
    }

    /// [`Stack::frames`] as a report prints them: the user's frames one per
    /// line, each run of one dependency's frames collapsed to one.
    ///
    /// ```
    /// # let stack: Option<&leakwatch_core::Stack> = None;
    /// for line in stack.map(|s| s.lines()).unwrap_or_default() {
    ///     println!("{line}");
    /// }
    /// ```
    pub fn lines(&self) -> Vec<FrameLine> {
        FrameLine::collapse(self.frames())
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
            .field("frames", &self.addresses().len())
            .field("full", &self.full)
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
///     column: Some(9),
/// };
/// assert_eq!(frame.to_string(), "app::db::connect at src/db.rs:42:9");
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
    /// The column in `line`.
    pub column: Option<u32>,
}

impl Frame {
    /// Whether the frame's file is a dependency's (a crate from a registry,
    /// git or a vendor folder, or std's), not the user's workspace's.
    ///
    /// ```
    /// let frame = leakwatch_core::Frame {
    ///     function: "socket2::socket::Socket::new".into(),
    ///     file: Some("/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/socket2-0.6.1/src/socket.rs".into()),
    ///     line: Some(89),
    ///     column: Some(23),
    /// };
    /// assert!(frame.is_dependency());
    /// ```
    pub fn is_dependency(&self) -> bool {
        self.file.as_deref().is_some_and(whose::is_dependency_file)
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.function)?;
        if let Some(file) = &self.file {
            write!(f, " at {file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(column) = self.column {
                    write!(f, ":{column}")?;
                }
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
    fn open_here() -> Option<std::sync::Arc<Stack>> {
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
