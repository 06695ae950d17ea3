// The defmt link check is linked like a firmware: a memory layout script
// (`defmt_image.x`, in this directory) followed by defmt's `defmt.x` (put on the
// search path by the defmt crate's own build script). The size images need no
// linker script at all.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-search={dir}");
    println!("cargo:rustc-link-arg-bin=defmt_link=-Tdefmt_image.x");
    println!("cargo:rustc-link-arg-bin=defmt_link=-Tdefmt.x");
    println!("cargo:rustc-link-arg-bin=defmt_link=--nmagic");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=defmt_image.x");
}
