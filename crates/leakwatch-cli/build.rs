//! Bakes in where `leakwatch-preload`'s source is (its build script says),
//! so that `cargo leakwatch test` can build the library it preloads: in
//! this workspace, or in Cargo's registry after `cargo install`. Sets
//! `cfg(leakwatch_hooks)` where the interposition builds its hooks for this
//! target, as `leakwatch-interpose`'s build script decides and passes on.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(leakwatch_hooks)");
    println!("cargo::rerun-if-env-changed=DEP_LEAKWATCH_PRELOAD_SRC");
    println!("cargo::rerun-if-env-changed=DEP_LEAKWATCH_PRELOAD_HOOKS");
    let src = std::env::var("DEP_LEAKWATCH_PRELOAD_SRC")
        .expect("leakwatch-preload's build script sets its source folder");
    println!("cargo::rustc-env=LEAKWATCH_PRELOAD_SRC={src}");
    let hooks = std::env::var("DEP_LEAKWATCH_PRELOAD_HOOKS")
        .expect("leakwatch-preload's build script says whether hooks are built");
    if hooks == "true" {
        println!("cargo::rustc-cfg=leakwatch_hooks");
    }
}
