//! Sets `cfg(leakwatch_taskdump_platform)` on the platforms tokio's task
//! dumps support, and `cfg(leakwatch_taskdump)` when they can be used:
//! `--cfg tokio_unstable` in RUSTFLAGS, Linux on x86, x86_64 or aarch64, and
//! the `tokio` feature (whose target-specific dependency then turns on
//! tokio's `taskdump`; see Cargo.toml). One place decides, so the code
//! says `#[cfg(leakwatch_taskdump)]` instead of repeating the condition.
//!
//! Sets `cfg(leakwatch_hooks)` where `leakwatch-interpose` defines libc's
//! functions, as its build script alone decides and passes on
//! (`DEP_LEAKWATCH_INTERPOSE_HOOKS`), and passes it on in turn
//! (`DEP_LEAKWATCH_HOOKS`).

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(leakwatch_taskdump)");
    println!("cargo::rustc-check-cfg=cfg(leakwatch_taskdump_platform)");
    println!("cargo::rustc-check-cfg=cfg(leakwatch_hooks)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=DEP_LEAKWATCH_INTERPOSE_HOOKS");
    let hooks = env::var("DEP_LEAKWATCH_INTERPOSE_HOOKS")
        .expect("leakwatch-interpose's build script says whether it builds hooks");
    if hooks == "true" {
        println!("cargo::rustc-cfg=leakwatch_hooks");
    }
    println!("cargo::metadata=hooks={hooks}");
    let unstable = env::var_os("CARGO_CFG_TOKIO_UNSTABLE").is_some();
    let linux = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let arch = env::var("CARGO_CFG_TARGET_ARCH")
        .is_ok_and(|arch| matches!(arch.as_str(), "x86" | "x86_64" | "aarch64"));
    let tokio = env::var_os("CARGO_FEATURE_TOKIO").is_some();
    if linux && arch {
        println!("cargo::rustc-cfg=leakwatch_taskdump_platform");
    }
    if unstable && linux && arch && tokio {
        println!("cargo::rustc-cfg=leakwatch_taskdump");
    }
}
