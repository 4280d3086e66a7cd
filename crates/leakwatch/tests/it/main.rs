//! leakwatch's integration tests, in one binary. The files that need a
//! process of their own are the other targets in `tests/`: `config_env`
//! (sets `LEAKWATCH` for child processes), `readme_task` (the README runs
//! it by name), `report_stacks` (switches the level for the whole process),
//! `tokio_hooks` (installs runtime hooks process-wide; `--cfg
//! tokio_unstable` only) and `zero_cost` (also run in release, where
//! tracking is compiled out).

#[path = "../support/mod.rs"]
mod support;

mod attribute;
mod client_socket;
mod drop_in;
mod fs_file;
mod heap_report_unset;
mod messages;
// Where libc calls are interposed: glibc Linux, x86_64 or aarch64, with
// tracking compiled in.
#[cfg(all(feature = "macros", leakwatch_hooks, debug_assertions))]
mod interposed;
mod net_sockets;
mod registry_stress;
mod report_grep;
mod report_json;
mod scope_parallel;
mod scope_threads;
mod settings_file;
mod tag_must_close;
mod thread_leaks;
mod tokio_dumps;
mod tokio_patterns;
mod tokio_tasks;
mod tracked_value;
