//! Whose frames are leakwatch's own: the crates that sit between the user's
//! code and a capture, and that a reader never needs to see.
//!
//! Core knows only its own (and its unwinder's). Every other crate that
//! opens items on the user's behalf says which are its own, either linked
//! in ([`OWN_FRAMES`], seen from the first capture with nothing run before
//! `main`) or at run time ([`register_own_frames`], for code that only
//! runs once loaded, or that links no `linkme`).

use std::sync::OnceLock;

/// Prefixes of function names that are leakwatch's own, linked in: each
/// crate adds its own with `#[distributed_slice(leakwatch_core::OWN_FRAMES)]`
/// (the [`linkme`] crate), and every stack read after that (any
/// [`Stack::frames`](crate::Stack::frames), from the first) leaves their
/// frames out. A prefix also matches the same path after a trait impl's
/// `<`.
///
/// ```
/// use leakwatch_core::OWN_FRAMES;
/// use linkme::distributed_slice;
///
/// #[distributed_slice(OWN_FRAMES)]
/// static MINE: &str = "my_wrappers::";
///
/// assert!(OWN_FRAMES.contains(&"my_wrappers::"));
/// assert!(OWN_FRAMES.contains(&"leakwatch_core::"), "core's own are linked in");
/// ```
#[linkme::distributed_slice]
pub static OWN_FRAMES: [&'static str];

#[linkme::distributed_slice(OWN_FRAMES)]
static CORE: &str = "leakwatch_core::";

/// The unwinder core captures with: its frames are above every capture.
#[linkme::distributed_slice(OWN_FRAMES)]
static UNWINDER: &str = "backtrace::";

/// Lists registered at run time: more than any process links wrappers.
const REGISTERED_LISTS: usize = 32;

/// The lists [`register_own_frames`] was given, each once, in the order
/// given: set slots are always the first ones, since a registration sets
/// a slot only once every slot before it is set.
static REGISTERED: [OnceLock<&'static [&'static str]>; REGISTERED_LISTS] =
    [const { OnceLock::new() }; REGISTERED_LISTS];

/// Makes `prefixes` (function name prefixes such as `"my_wrappers::"`)
/// leakwatch's own from now on: stacks read after this leave out their
/// frames, as [`OWN_FRAMES`] does for those linked in. Returns whether they
/// are registered, now or by an earlier call (a list equal to one already
/// registered is not added again); `false` only once 32 different lists
/// have been.
///
/// Cheap enough to call at every start of a crate's own entry points:
/// after the first call it reads the registered lists and compares, with
/// no lock and no allocation. Any thread may call it.
///
/// ```
/// static OURS: &[&str] = &["my_pool::", "my_pool_macros::"];
///
/// assert!(leakwatch_core::register_own_frames(OURS));
/// assert!(leakwatch_core::register_own_frames(OURS), "registered once, found again");
/// ```
pub fn register_own_frames(prefixes: &'static [&'static str]) -> bool {
    REGISTERED.iter().any(|slot| {
        let held = *slot.get_or_init(|| prefixes);
        std::ptr::eq(held, prefixes) || held == prefixes
    })
}

/// Whether `function` (a symbolized frame's name) is in a crate that is
/// leakwatch's own: linked into [`OWN_FRAMES`] or registered with
/// [`register_own_frames`].
///
/// ```
/// assert!(leakwatch_core::is_own_frame("leakwatch_core::tag::Tag::new"));
/// assert!(!leakwatch_core::is_own_frame("my_app::main"));
/// ```
pub fn is_own_frame(function: &str) -> bool {
    let function = function.trim_start_matches('<');
    let registered = REGISTERED
        .iter()
        .map_while(OnceLock::get)
        .flat_map(|list| list.iter());
    OWN_FRAMES
        .iter()
        .chain(registered)
        .any(|prefix| function.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::{is_own_frame, register_own_frames};

    #[test]
    fn linked_and_registered_prefixes_are_own_and_others_are_not() {
        assert!(is_own_frame("leakwatch_core::tag::Tag::new"));
        assert!(is_own_frame(
            "<leakwatch_core::tag::Tag as core::ops::drop::Drop>::drop"
        ));
        assert!(is_own_frame("backtrace::backtrace::trace"));
        assert!(!is_own_frame("own_frames_test_wrappers::open"));
        assert!(!is_own_frame("app::leakwatch_core::lookalike"));

        static WRAPPERS: &[&str] = &["own_frames_test_wrappers::"];
        assert!(register_own_frames(WRAPPERS));
        assert!(is_own_frame("own_frames_test_wrappers::open"));
        assert!(is_own_frame(
            "<own_frames_test_wrappers::Conn as Drop>::drop"
        ));
        assert!(!is_own_frame("own_frames_test_app::main"));
    }

    #[test]
    fn a_list_is_registered_once_however_often_it_is_given() {
        static LIST: &[&str] = &["own_frames_test_once::"];
        // An equal list at another address counts as the same.
        let copy: &'static [&'static str] = Box::leak(Box::new(["own_frames_test_once::"]));
        for list in [LIST, copy, LIST] {
            assert!(register_own_frames(list));
        }
        let registered = super::REGISTERED.iter().map_while(|slot| slot.get());
        assert_eq!(registered.filter(|list| **list == LIST).count(), 1);
    }
}
