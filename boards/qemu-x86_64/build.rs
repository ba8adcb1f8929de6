//! Links the kernel with `linker.ld` (load address 1 MiB, PVH note segment).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    println!("cargo:rerun-if-changed=linker.ld");
    // `defmt-log`: defmt's script (defmt's build script puts defmt.x on the
    // link search path) lays out the `.defmt` table the host decodes with.
    if std::env::var_os("CARGO_FEATURE_DEFMT_LOG").is_some() {
        println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    }
}
