fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    if std::env::var("TARGET").unwrap() == "x86_64-unknown-none" {
        println!("cargo:rustc-link-arg-bins=-T{dir}/unpack.ld");
    }
    println!("cargo:rerun-if-changed=unpack.ld");
    println!("cargo:rerun-if-changed=src");
}
