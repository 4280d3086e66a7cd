//! The registry, scopes and reports behind [leakwatch].
//!
//! Most users depend on the `leakwatch` facade crate, which re-exports what
//! a test author types (in its root) and what integrations need (in
//! `leakwatch::integration`), together with tracked std types and
//! `#[leakwatch::test]`. This crate is the small core that integrations
//! build on. Its items, by who uses them:
//!
//! # Tracking and checking
//!
//! * [`Tag`] is the handle a resource embeds. Creating it records the
//!   resource's kind and the caller's source location in the registry;
//!   dropping it removes the record.
//! * [`Scope`] groups what was opened while it was current, the way a Go
//!   test's `Tracker` does; [`Scope::check`] waits through the grace and
//!   turns what is still open into a [`Report`], and [`Scope::check_now`]
//!   looks once. [`ScopeGuard`] keeps a scope current.
//! * [`Ignore`] rules leave known background work out of checks.
//! * [`Settings`]: the suite's settings file, `.config/leakwatch.toml`
//!   (ignore rules, [`Switches`] of what is checked, the grace), read once
//!   by every check; [`Ignored`] says what its rules left out.
//! * [`Level`], [`level`], [`set_level`] and [`grace`]: the settings
//!   (`LEAKWATCH`, `LEAKWATCH_GRACE`).
//!
//! # For integrations
//!
//! * Opening on another's behalf: [`Tag::with_origin`] records an item at an
//!   [`Origin`] learned after the fact; [`Tag::id_setter`] gives a
//!   handed-on item its id through an [`IdSetter`]; an [`IdTable`] keeps
//!   items seen only by an id (tasks seen by tokio's hooks), where no tag can
//!   be kept.
//! * Scopes by id: [`ScopeId`], to carry a scope into other threads or
//!   tasks.
//! * Reading reports: a [`Report`]'s [`Group`]s share a [`Finding`], a kind
//!   and a site; [`Snapshot`] is an owned copy of live [`Item`]s, the one
//!   way data leaves the registry (open → registry → snapshot → report or
//!   export), joined in live views by the live sources of [`external`]
//!   ([`FILE_TYPES`] names what a descriptor item refers to); [`Stack`], [`Frame`], [`FrameLine`], [`UserCall`],
//!   [`USER_SITE_FRAMES`], [`DEEP_FRAMES`] describe stacks; a crate that opens
//!   items for its users names its own frames, which stacks leave out,
//!   with [`OWN_FRAMES`] or [`register_own_frames`].
//! * Settings: [`COMPILED_IN`], [`parse_grace`], [`DEFAULT_GRACE`],
//!   [`ConfigError`], [`SettingsError`], [`CountedTasks`], and [`Backoff`]
//!   to wait as checks do.
//!
//! # Layers
//!
//! Data flows one way, open → registry → snapshot → report, and so do the
//! modules: each uses only those on the lines above it.
//!
//! 1. `scope_id`, `config`, `clock`, `stack`, `sync`, `backoff`, `rounds`:
//!    leaves (ids, settings, time, raw stacks, the atomics loom can
//!    replace, a hunt's rounds).
//! 2. `registry`: live records, per-scope counts and the scope table.
//! 3. `current`: each thread's current scope, and the followed id table.
//! 4. `snapshot`: owned copies of records ([`Snapshot`], [`Item`],
//!    [`Finding`], [`Site`]).
//! 5. `external`: sources of items outside the registry ([`external`]),
//!    and the live views that join them ([`Snapshot::all`],
//!    [`Snapshot::held_past`]).
//! 6. `report`, `ignore`: what a person reads, and what is left out.
//! 7. `settings`: the suite's settings file ([`Settings`]).
//! 8. `scope`, `tag`, `by_id`: the API ([`Scope`], [`Tag`], [`IdTable`]).
//!
//! `python3 shared/tools/modcycle.py crates/leakwatch-core/src` lists any
//! cycle between these modules (none).
//!
//! # When tracking is compiled in
//!
//! Tracking is compiled in when `debug_assertions` are on (debug builds and
//! `cargo test`) or when the `production` feature is enabled. Otherwise
//! [`Tag`] is zero-sized, every call is an empty inline function, and
//! every check passes. [`COMPILED_IN`] says which build this is.
//!
//! At run time the `LEAKWATCH` environment variable picks the level, see
//! [`Level`].
//!
//! [leakwatch]: https://docs.rs/leakwatch

#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
mod macros;

mod backoff;
mod by_id;
mod config;
mod current;
pub mod external;
mod ignore;
mod report;
mod rounds;
mod scope;
mod scope_id;
mod settings;
mod snapshot;
mod stack;
mod tag;

cfg_on! {
    mod clock;
    mod registry;
    mod sync;
}

// Tracking and checking.
#[doc(hidden)]
pub use config::__seed_sampler;
pub use config::{Level, level, level_if_known, set_level};
pub use ignore::Ignore;
pub use report::{Ignored, Report, counted};
pub use rounds::{Rounds, RoundsError};
pub use scope::{Scope, ScopeGuard};
pub use settings::{Settings, Switches, grace};
pub use tag::Tag;

// For integrations.
pub use backoff::Backoff;
pub use by_id::IdTable;
pub use config::{ConfigError, DEFAULT_GRACE, DEFAULT_SAMPLE, SettingsError, parse_grace};
#[cfg(feature = "json")]
pub use report::REPORT_JSON_VERSION;
pub use report::{Finding, Group};
pub use scope_id::ScopeId;
pub use settings::CountedTasks;
pub use snapshot::{FILE_TYPES, Item, Site, Snapshot};
pub use stack::{
    DEEP_FRAMES, Frame, FrameLine, OWN_FRAMES, Stack, USER_SITE_FRAMES, UserCall, is_own_frame,
    register_own_frames,
};
pub use tag::{IdSetter, Origin};

/// Whether tracking is compiled into this build.
///
/// `true` in debug builds, in `cargo test`, and wherever the `production`
/// feature is on; `false` in plain release builds, where every leakwatch call
/// compiles to nothing.
///
/// ```
/// if leakwatch_core::COMPILED_IN {
///     println!("leakwatch is tracking (LEAKWATCH={})", leakwatch_core::level());
/// }
/// ```
pub const COMPILED_IN: bool = cfg!(any(debug_assertions, feature = "production"));
