//! [`ScopeId`]: the identity of a scope, as every layer passes it around.
//!
//! A leaf: the registry records it, the current-scope cells hold it, and
//! the `scope` module adds `current` and `enter`.

/// The identity of a scope, cheap to copy into other threads and tasks.
///
/// ```
/// use leakwatch_core::{Scope, ScopeId};
///
/// let scope = Scope::new("job");
/// let id = scope.id();
/// std::thread::spawn(move || {
///     let _in_scope = id.enter();
///     assert_eq!(ScopeId::current(), id);
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeId(u64);

impl ScopeId {
    /// No scope: items opened outside every scope.
    pub const NONE: ScopeId = ScopeId(0);

    /// The number behind this id, for exports and logs.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::ScopeId::NONE.as_u64(), 0);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The id whose number is `n`, as [`ScopeId::as_u64`] gave it: for a
    /// layer that keeps ids as plain numbers (libc interposition's tables)
    /// and hands them back.
    ///
    /// ```
    /// use leakwatch_core::{Scope, ScopeId};
    ///
    /// let scope = Scope::new("job");
    /// assert_eq!(ScopeId::from_u64(scope.id().as_u64()), scope.id());
    /// assert_eq!(ScopeId::from_u64(0), ScopeId::NONE);
    /// ```
    pub const fn from_u64(n: u64) -> ScopeId {
        ScopeId(n)
    }

    /// The id whose number is `n`, as [`ScopeId::as_u64`] gave it.
    #[cfg_attr(not(any(debug_assertions, feature = "production")), allow(dead_code))]
    pub(crate) const fn from_raw(n: u64) -> ScopeId {
        ScopeId(n)
    }

    /// The id of the scope counted in slot `index` of the registry's
    /// counts, in its `generation`th use.
    #[cfg_attr(not(any(debug_assertions, feature = "production")), allow(dead_code))]
    pub(crate) const fn from_parts(index: u32, generation: u32) -> ScopeId {
        ScopeId((generation as u64) << 32 | index as u64)
    }

    /// The slot of the registry's counts this scope is counted in.
    #[cfg_attr(not(any(debug_assertions, feature = "production")), allow(dead_code))]
    pub(crate) const fn index(self) -> u32 {
        self.0 as u32
    }

    /// Which use of its slot this scope is.
    #[cfg_attr(not(any(debug_assertions, feature = "production")), allow(dead_code))]
    pub(crate) const fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}
