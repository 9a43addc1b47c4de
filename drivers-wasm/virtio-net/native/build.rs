//! The native build links at 0x40_0000 with the user programs' linker script.
fn main() {
    let directory = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    if std::env::var("TARGET").unwrap_or_default() == "x86_64-unknown-none" {
        println!("cargo:rustc-link-arg-bins=-T{directory}/../../../userland/user.ld");
    }
    println!("cargo:rerun-if-changed=../../../userland/user.ld");
}
