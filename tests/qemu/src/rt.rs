//! The bare-metal runtime of the test image: vector table, reset handler, fault
//! and panic handlers, semihosting (output and exit code) and stack painting.
//!
//! Hand-written instead of `cortex-m-rt` + `cortex-m-semihosting` so the image
//! has no dependency but sockwire and the stack region is ours to paint. This is
//! the only module with `unsafe`; the library itself forbids it.

use core::arch::{asm, global_asm};
use core::fmt::{self, Write};

use crate::println;

// ---- reset -------------------------------------------------------------------

// Zero .bss, copy .data from its load address, give the FPU full access (CPACR:
// CP10 and CP11; the hard-float ABI may use it), then call `main_entry`.
global_asm!(
    ".section .text.reset,\"ax\",%progbits",
    ".global reset",
    ".type reset,%function",
    ".thumb_func",
    "reset:",
    "  ldr r0, =_sbss",
    "  ldr r1, =_ebss",
    "  movs r2, #0",
    "0:",
    "  cmp r0, r1",
    "  bhs 1f",
    "  stm r0!, {{r2}}",
    "  b 0b",
    "1:",
    "  ldr r0, =_sdata",
    "  ldr r1, =_edata",
    "  ldr r2, =_sidata",
    "2:",
    "  cmp r0, r1",
    "  bhs 3f",
    "  ldm r2!, {{r3}}",
    "  stm r0!, {{r3}}",
    "  b 2b",
    "3:",
    "  ldr r0, =0xE000ED88",
    "  ldr r1, [r0]",
    "  orr r1, r1, #(0xF << 20)",
    "  str r1, [r0]",
    "  dsb",
    "  isb",
    "  bl main_entry",
    "  udf #0",
    ".ltorg",
    // Faults: pass the stacked exception frame (MSP or PSP, per EXC_RETURN) to
    // `fault_entry`, which prints the faulting PC and the fault status.
    ".section .text.fault_trampoline,\"ax\",%progbits",
    ".global fault_trampoline",
    ".type fault_trampoline,%function",
    ".thumb_func",
    "fault_trampoline:",
    "  tst lr, #4",
    "  ite eq",
    "  mrseq r0, msp",
    "  mrsne r0, psp",
    "  mrs r1, ipsr",
    "  b fault_entry",
);

unsafe extern "C" {
    fn reset() -> !;
    fn fault_trampoline() -> !;
    static _stack_bottom: u32;
    static _stack_top: u32;
}

type Handler = unsafe extern "C" fn() -> !;

/// Entries 1 to 15 of the vector table (entry 0, the initial stack pointer, is
/// written by the linker script). No interrupt is enabled, so there are no
/// IRQ entries.
#[unsafe(link_section = ".vector_table")]
#[used]
static VECTORS: [Option<Handler>; 15] = [
    Some(reset),
    Some(fault_trampoline), // NMI
    Some(fault_trampoline), // HardFault
    Some(fault_trampoline), // MemManage
    Some(fault_trampoline), // BusFault
    Some(fault_trampoline), // UsageFault
    None,
    None,
    None,
    None,
    Some(fault_trampoline), // SVCall
    Some(fault_trampoline), // DebugMonitor
    None,
    Some(fault_trampoline), // PendSV
    Some(fault_trampoline), // SysTick
];

#[unsafe(no_mangle)]
extern "C" fn main_entry() -> ! {
    guard_stack();
    exit(crate::run())
}

/// Bytes at the bottom of the stack that the MPU makes inaccessible.
const GUARD: usize = 32;

/// Makes the lowest 32 bytes of the stack a no-access MPU region, so an
/// overflow faults (MemManage, escalated to HardFault) instead of running on:
/// QEMU's AN386 maps RAZ/WI "reserved" space just below RAM, where writes
/// would vanish silently.
fn guard_stack() {
    const MPU_CTRL: *mut u32 = 0xE000_ED94 as *mut u32;
    const MPU_RNR: *mut u32 = 0xE000_ED98 as *mut u32;
    const MPU_RBAR: *mut u32 = 0xE000_ED9C as *mut u32;
    const MPU_RASR: *mut u32 = 0xE000_EDA0 as *mut u32;
    // RASR: enabled, size 2^(4+1) = 32 bytes, AP = 0b000 (no access), XN.
    let rasr = 1 | (4 << 1) | (1 << 28);
    // SAFETY: ARMv7-M PMSAv7 registers; region 0 covers [bottom, bottom + 32),
    // which the linker script aligns to 32 bytes and nothing else uses.
    unsafe {
        MPU_RNR.write_volatile(0);
        MPU_RBAR.write_volatile(stack_bottom() as u32);
        MPU_RASR.write_volatile(rasr);
        // Enabled, the default memory map for everything else (PRIVDEFENA).
        MPU_CTRL.write_volatile(1 | (1 << 2));
        asm!("dsb", "isb", options(nostack, preserves_flags));
    }
}

/// The guard's address, for the fault self-test.
#[cfg(feature = "selftest-fault")]
pub fn guard_address() -> usize {
    stack_bottom()
}

#[unsafe(no_mangle)]
extern "C" fn fault_entry(frame: *const u32, ipsr: u32) -> ! {
    // SAFETY: `frame` is the exception frame the core stacked (8 words); the
    // fault status registers are architectural (ARMv7-M SCB).
    let (pc, lr, cfsr, hfsr, bfar) = unsafe {
        (
            frame.add(6).read_volatile(),
            frame.add(5).read_volatile(),
            (0xE000_ED28 as *const u32).read_volatile(),
            (0xE000_ED2C as *const u32).read_volatile(),
            (0xE000_ED38 as *const u32).read_volatile(),
        )
    };
    crate::report::flush();
    let name = match ipsr & 0x1ff {
        2 => "NMI",
        3 => "HardFault",
        4 => "MemManage",
        5 => "BusFault",
        6 => "UsageFault",
        _ => "unexpected exception",
    };
    println!(
        "FAIL {} (exception {}) at pc={:#010x} lr={:#010x} cfsr={:#010x} hfsr={:#010x} bfar={:#010x}",
        name,
        ipsr & 0x1ff,
        pc,
        lr,
        cfsr,
        hfsr,
        bfar
    );
    exit(2)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::report::flush();
    println!("FAIL panic: {}", info);
    exit(3)
}

// ---- semihosting -------------------------------------------------------------

const SYS_WRITE0: usize = 0x04;
const SYS_EXIT: usize = 0x18;
const SYS_EXIT_EXTENDED: usize = 0x20;
const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
const ADP_STOPPED_RUNTIME_ERROR_UNKNOWN: usize = 0x20023;

/// One semihosting call (`bkpt 0xab` on M-profile): operation in r0, argument
/// block in r1, result in r0.
fn semihost(op: usize, arg: usize) -> usize {
    let r;
    // SAFETY: the debugger (QEMU with `-semihosting-config enable=on`) services
    // the breakpoint; it reads only the argument block we pass.
    unsafe { asm!("bkpt 0xab", inout("r0") op => r, in("r1") arg, options(nostack)) };
    r
}

/// Ends the QEMU run with `code` as its exit status (SYS_EXIT_EXTENDED: the
/// 32-bit SYS_EXIT cannot carry a status other than success or failure).
pub fn exit(code: u32) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as usize];
    semihost(SYS_EXIT_EXTENDED, block.as_ptr() as usize);
    // Not serviced: fall back to the plain call (0 or 1).
    let reason = if code == 0 {
        ADP_STOPPED_APPLICATION_EXIT
    } else {
        ADP_STOPPED_RUNTIME_ERROR_UNKNOWN
    };
    semihost(SYS_EXIT, reason);
    loop {
        core::hint::spin_loop();
    }
}

/// A line of output, written with one SYS_WRITE0 (a NUL-terminated string).
pub struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Line {
    pub const fn new() -> Self {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }

    pub fn emit(&mut self) {
        self.buf[self.len] = 0;
        semihost(SYS_WRITE0, self.buf.as_ptr() as usize);
        self.len = 0;
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            // Keep the last byte for the NUL; a NUL inside would cut the line.
            if self.len + 1 >= self.buf.len() {
                self.emit();
            }
            self.buf[self.len] = if b == 0 { b'?' } else { b };
            self.len += 1;
        }
        Ok(())
    }
}

pub fn print(args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = line.write_fmt(args);
    line.emit();
}

#[macro_export]
macro_rules! println {
    ($($t:tt)*) => {
        $crate::rt::print(format_args!("{}\n", format_args!($($t)*)))
    };
}

// ---- stack painting ----------------------------------------------------------

const PAINT: u32 = 0xC5C5_C5C5;

fn stack_bottom() -> usize {
    // Only the symbol's address is taken (no read): safe.
    &raw const _stack_bottom as usize
}

/// The usable stack's size (the linker script's, less the guard).
pub fn stack_size() -> usize {
    &raw const _stack_top as usize - &raw const _stack_bottom as usize - GUARD
}

#[inline(always)]
fn sp() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Fills the unused stack (from above the guard to a little below this
/// function's own frame) with the pattern.
#[inline(never)]
fn paint() {
    let end = sp() - 64;
    let mut p = stack_bottom() + GUARD;
    while p < end {
        // SAFETY: [bottom, sp - 64) is the free part of our stack region.
        unsafe { (p as *mut u32).write_volatile(PAINT) };
        p += 4;
    }
}

/// The lowest stack address written since the last `paint`.
fn lowest_written() -> usize {
    let mut p = stack_bottom() + GUARD;
    // SAFETY: reads inside the stack region, below the live frames.
    while p < sp() && unsafe { (p as *const u32).read_volatile() } == PAINT {
        p += 4;
    }
    p
}

/// Runs `f` and returns its stack high-water mark in bytes: how far below the
/// caller's stack pointer `f` and everything it called wrote (its frames,
/// the state and buffers it keeps on the stack). Exact to the word, unless a
/// frame happens to store the pattern itself at its deepest word.
#[inline(never)]
pub fn stack_high_water(f: fn()) -> usize {
    paint();
    let base = sp();
    f();
    base - lowest_written()
}

// ---- call depth per role -----------------------------------------------------

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The roles whose call depth is measured.
#[derive(Clone, Copy)]
pub enum Role {
    Client = 0,
    Server = 1,
}

static DEPTH_PASS: AtomicBool = AtomicBool::new(false);
static DEPTH: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
/// How far below the caller a measured call may reach.
pub const BAND: usize = 16 * 1024;

/// Turns call-depth measurement on (the second pass; from zero) or off.
pub fn measure_depth(on: bool) {
    if on {
        for d in &DEPTH {
            d.store(0, Ordering::Relaxed);
        }
    }
    DEPTH_PASS.store(on, Ordering::Relaxed);
}

/// The deepest measured call of each role: (client, server).
pub fn depths() -> (usize, usize) {
    (
        DEPTH[0].load(Ordering::Relaxed),
        DEPTH[1].load(Ordering::Relaxed),
    )
}

/// Runs `f`, a call into one role's protocol stack (a sockwire call and the
/// test application's handling of what it returns); in the depth pass,
/// records how far below this frame it wrote. The state it works on lives
/// in the caller's frames and is not counted.
#[inline(never)]
pub fn measured<R>(role: Role, f: impl FnOnce() -> R) -> R {
    if !DEPTH_PASS.load(Ordering::Relaxed) {
        return f();
    }
    let base = sp();
    let floor = (stack_bottom() + GUARD).max(base.saturating_sub(BAND));
    let mut p = floor;
    while p < base - 64 {
        // SAFETY: below our own frame and above the guard: free stack.
        unsafe { (p as *mut u32).write_volatile(PAINT) };
        p += 4;
    }
    let r = f();
    let mut p = floor;
    // SAFETY: reads inside the stack region, below the live frames.
    while p < base && unsafe { (p as *const u32).read_volatile() } == PAINT {
        p += 4;
    }
    DEPTH[role as usize].fetch_max(base - p, Ordering::Relaxed);
    r
}
