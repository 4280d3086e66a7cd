//! Sets `cfg(leakwatch_hooks)` where leakwatch sees descriptors, threads
//! and children created outside its wrappers, as `leakwatch-interpose`'s
//! build script alone decides and leakwatch passes on
//! (`DEP_LEAKWATCH_HOOKS`): the tests that need it say so by that name.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(leakwatch_hooks)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=DEP_LEAKWATCH_HOOKS");
    let hooks = std::env::var("DEP_LEAKWATCH_HOOKS")
        .expect("leakwatch's build script says whether hooks are built");
    if hooks == "true" {
        println!("cargo::rustc-cfg=leakwatch_hooks");
    }
}
