//! Links the kernel with this board's linker script, at the address the
//! chosen mode is loaded at: 0x8020_0000 after OpenSBI (S-mode), or
//! 0x8000_0000, the start of RAM, with no firmware (M-mode).

use std::path::PathBuf;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let base = if std::env::var_os("CARGO_FEATURE_MACHINE").is_some() {
        "0x80000000"
    } else {
        "0x80200000"
    };
    let template = std::fs::read_to_string(format!("{dir}/linker.ld")).expect("linker.ld");
    let script = out.join("linker.ld");
    std::fs::write(&script, template.replace("@KERNEL_BASE@", base)).expect("write linker script");
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    println!("cargo:rerun-if-changed=linker.ld");
}
