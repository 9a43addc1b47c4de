//! Build script: links the test kernel with the kernel's linker script.
fn main() {
    let directory = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target == "x86_64-unknown-none" {
        println!("cargo:rustc-link-arg-bins=-T{directory}/../../kernel/linker.ld");
    }
    println!("cargo:rerun-if-changed=../../kernel/linker.ld");
}
