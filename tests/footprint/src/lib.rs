//! Shared pieces of the footprint images (see `run.sh`).
//!
//! Every image under `src/bin/` is a `#![no_std] #![no_main]` program for
//! `thumbv7em-none-eabihf` with an `extern "C" fn _start() -> !` entry point, so it
//! links with rust-lld's default layout and needs no linker script. Inputs come
//! through `core::hint::black_box`, outputs go into it, so the optimizer can neither
//! constant-fold the protocol work away nor drop it as dead.
#![no_std]

use core::hint::black_box;

/// Panics only ever park the core: `panic = "abort"` plus a loop keeps the panic
/// machinery (formatting, unwinding) out of the measured images.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Exports `size_of::<T>()` and `align_of::<T>()` of a type as the *values* of two
/// absolute symbols, `__sizeof_<NAME>` and `__alignof_<NAME>`, computed by the
/// compiler for the image's own target. They occupy no byte of flash or RAM;
/// `run.sh` reads them with `llvm-nm`.
#[macro_export]
macro_rules! export_size {
    ($name:ident, $t:ty) => {
        ::core::arch::global_asm!(
            concat!(".globl __sizeof_", stringify!($name)),
            concat!(".set __sizeof_", stringify!($name), ", {size}"),
            concat!(".globl __alignof_", stringify!($name)),
            concat!(".set __alignof_", stringify!($name), ", {align}"),
            size = const ::core::mem::size_of::<$t>(),
            align = const ::core::mem::align_of::<$t>(),
        );
    };
}

/// Exports the bytes an image keeps on its stack besides call frames (its
/// protocol state and buffers, a `const` expression) as the value of the
/// absolute symbol `__stackstate_<IMAGE>`. `run.sh` adds it to the deepest
/// call measured on the core by the QEMU scenario that runs the same role
/// (`tests/qemu`) to state the image's stack need. Zero bytes of image.
#[macro_export]
macro_rules! export_state {
    ($image:ident, $bytes:expr) => {
        ::core::arch::global_asm!(
            concat!(".globl __stackstate_", stringify!($image)),
            concat!(".set __stackstate_", stringify!($image), ", {bytes}"),
            bytes = const $bytes,
        );
    };
}

/// A tiny deterministic generator (xorshift32) standing in for the hardware RNG a
/// firmware would use for client masking keys. Its seed comes through `black_box`.
pub struct TinyRng(u32);

impl TinyRng {
    pub fn new() -> Self {
        TinyRng(black_box(0x9e37_79b9u32) | 1)
    }
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
    pub fn fill(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(4) {
            let v = self.next_u32().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

impl Default for TinyRng {
    fn default() -> Self {
        Self::new()
    }
}

/// A value "from outside" (configuration, user data): opaque to the optimizer.
#[inline(always)]
pub fn input<T>(x: T) -> T {
    black_box(x)
}

/// Stands in for a network read: the optimizer must assume `buf` now holds
/// arbitrary bytes, and that any count up to `buf.len()` of them arrived.
#[inline(always)]
pub fn recv(buf: &mut [u8]) -> usize {
    let len = buf.len();
    black_box(buf);
    black_box(len)
}

/// Something "sent to the network" or otherwise observed: keeps it alive.
#[inline(always)]
pub fn output<T>(x: T) {
    black_box(x);
}

/// Parks the core at the end of `_start`.
pub fn halt() -> ! {
    loop {
        black_box(());
        core::hint::spin_loop();
    }
}
