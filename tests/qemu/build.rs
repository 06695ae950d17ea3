// Links the image with `an386.x` (this directory): the MPS2 AN386 memory map,
// the vector table at address 0, the stack at the bottom of RAM.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-search={dir}");
    println!("cargo:rustc-link-arg=-Tan386.x");
    println!("cargo:rustc-link-arg=--nmagic");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=an386.x");
}
