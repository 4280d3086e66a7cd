//! Sets `cfg(leakwatch_hooks)` where this crate defines libc's functions:
//! the `interpose` feature, glibc Linux on x86_64 or aarch64 (the variadic
//! hooks rely on their calling conventions; see `active/hooks.rs`), and a
//! dynamically linked C runtime (`+crt-static` links libc into the
//! executable, where no `dlsym(RTLD_NEXT, ..)` finds the real functions).
//! Whether tracking is compiled in (`debug_assertions` or `production`) is
//! the other half of the condition, in `lib.rs`; one place decides, so the
//! code says `cfg_hooks!` instead of repeating it, this package's tests and
//! benches say `cfg(leakwatch_hooks)`, and crates that depend on this one
//! read the answer from `DEP_LEAKWATCH_INTERPOSE_HOOKS` (`true`/`false`).

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(leakwatch_hooks)");
    // Set by hand (`RUSTFLAGS="--cfg leakwatch_stacks_at_level_only"`) to
    // measure what taking every scoped item's stack in test builds costs a
    // test suite: stacks are then taken at `LEAKWATCH=stacks` only.
    println!("cargo::rustc-check-cfg=cfg(leakwatch_stacks_at_level_only)");
    println!("cargo::rerun-if-changed=build.rs");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let platform = var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && matches!(var("CARGO_CFG_TARGET_ARCH").as_str(), "x86_64" | "aarch64");
    let crt_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    let feature = env::var_os("CARGO_FEATURE_INTERPOSE").is_some();
    let hooks = platform && feature && !crt_static;
    if hooks {
        println!("cargo::rustc-cfg=leakwatch_hooks");
    }
    println!("cargo::metadata=hooks={hooks}");
}
