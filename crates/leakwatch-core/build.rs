//! Detects whether the crate is built with frame pointers, so `stacks` can
//! walk them (far cheaper than the unwinder; see BENCHMARKS.md) instead of
//! guessing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(leakwatch_frame_pointers)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mut forced = false;
    let mut after_c = false;
    for flag in flags.split('\x1f') {
        let option = match flag.strip_prefix("-C") {
            Some("") => {
                after_c = true;
                continue;
            }
            Some(rest) => rest,
            None if after_c => flag,
            None => "",
        };
        after_c = false;
        if let Some(value) = option.strip_prefix("force-frame-pointers") {
            forced = matches!(value, "" | "=yes" | "=y" | "=on" | "=true" | "=always");
        }
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if forced && os == "linux" && matches!(arch.as_str(), "x86_64" | "aarch64") {
        println!("cargo::rustc-cfg=leakwatch_frame_pointers");
    }
}
