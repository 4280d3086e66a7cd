//! Hands this crate's source folder to the crates that depend on it
//! (`DEP_LEAKWATCH_PRELOAD_SRC`): `cargo-leakwatch` builds the library to
//! preload from there, as a `cdylib` of its own. Passes on whether the
//! interposition builds its hooks for this target
//! (`DEP_LEAKWATCH_PRELOAD_HOOKS`), which `leakwatch-interpose`'s build
//! script alone decides.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let src = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo::metadata=src={src}");
    let hooks = std::env::var("DEP_LEAKWATCH_INTERPOSE_HOOKS")
        .expect("leakwatch-interpose's build script says whether it builds hooks");
    println!("cargo::metadata=hooks={hooks}");
}
