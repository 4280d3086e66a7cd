//! Hands this crate's source folder to the crates that depend on it
//! (`DEP_LEAKWATCH_PRELOAD_SRC`): `cargo-leakwatch` builds the library to
//! preload from there, as a `cdylib` of its own.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let src = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo::metadata=src={src}");
}
