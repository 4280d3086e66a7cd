//! Bakes in where `leakwatch-preload`'s source is (its build script says),
//! so that `cargo leakwatch test` can build the library it preloads: in
//! this workspace, or in Cargo's registry after `cargo install`.

fn main() {
    println!("cargo::rerun-if-env-changed=DEP_LEAKWATCH_PRELOAD_SRC");
    let src = std::env::var("DEP_LEAKWATCH_PRELOAD_SRC")
        .expect("leakwatch-preload's build script sets its source folder");
    println!("cargo::rustc-env=LEAKWATCH_PRELOAD_SRC={src}");
}
