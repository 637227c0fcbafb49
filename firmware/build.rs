fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    if std::env::var("TARGET").unwrap() == "x86_64-unknown-none" {
        println!("cargo:rustc-link-arg-bins=-T{dir}/firmware.ld");
        // defmt's format strings go to a non-allocated .defmt section (docs/design.md).
        println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    }
    println!("cargo:rerun-if-changed=firmware.ld");
}
