//! defmt link check: logs with `defmt::info!` through a minimal global logger
//! that writes the encoded frames into a static buffer (a firmware would hand
//! them to RTT, a UART, ...), linked with defmt's `defmt.x`.
#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use sockwire_footprint::{halt, input};

/// The logger's state: defmt's frame encoder and a byte ring the encoded frames
/// go into (a firmware would hand them to RTT, a UART, ...).
struct Sink {
    encoder: defmt::Encoder,
    ring: [u8; 256],
    pos: usize,
}

struct Shared(UnsafeCell<Sink>);
// SAFETY: the sink is only touched between `acquire` and `release`, which
// `TAKEN` makes exclusive.
unsafe impl Sync for Shared {}

static SINK: Shared = Shared(UnsafeCell::new(Sink {
    encoder: defmt::Encoder::new(),
    ring: [0; 256],
    pos: 0,
}));
static TAKEN: AtomicBool = AtomicBool::new(false);
/// Frames logged so far, used as the timestamp.
static FRAMES: AtomicU32 = AtomicU32::new(0);

/// Runs `f` on the sink's encoder with a writer into the ring.
///
/// # Safety
/// Only between `acquire` and `release`.
unsafe fn with_sink(f: impl FnOnce(&mut defmt::Encoder, &mut dyn FnMut(&[u8]))) {
    // SAFETY: exclusive by the caller's contract.
    let sink = unsafe { &mut *SINK.0.get() };
    let (ring, pos) = (&mut sink.ring, &mut sink.pos);
    let mut write = |bytes: &[u8]| {
        for &b in bytes {
            ring[*pos % ring.len()] = b;
            *pos = pos.wrapping_add(1);
        }
    };
    f(&mut sink.encoder, &mut write);
}

#[defmt::global_logger]
struct RingLogger;

// SAFETY: `acquire` makes the logger exclusive until `release` (single core,
// no logging from interrupts in this image; reentry panics).
unsafe impl defmt::Logger for RingLogger {
    fn acquire() {
        if TAKEN.swap(true, Ordering::Acquire) {
            panic!("defmt logger taken reentrantly");
        }
        FRAMES.fetch_add(1, Ordering::Relaxed);
        // SAFETY: acquired above.
        unsafe { with_sink(|e, w| e.start_frame(w)) }
    }
    unsafe fn flush() {}
    unsafe fn release() {
        // SAFETY: called by defmt after `acquire`.
        unsafe { with_sink(|e, w| e.end_frame(w)) }
        TAKEN.store(false, Ordering::Release);
    }
    unsafe fn write(bytes: &[u8]) {
        // SAFETY: called by defmt between `acquire` and `release`.
        unsafe { with_sink(|e, w| e.write(bytes, w)) }
    }
}

defmt::timestamp!("{=u32}", FRAMES.load(Ordering::Relaxed));

// ---- what gets logged: sockwire's public types -------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    use sockwire::ws::{Config, Error, Event, MessageKind};
    let data: &[u8] = input(&b"hello"[..]);
    let event = Event::Data {
        kind: input(MessageKind::Text),
        data,
        fin: input(true),
    };
    defmt::info!("{}", event);
    defmt::info!("{}", input(Error::BufferTooSmall { required: 14 }));
    defmt::info!("{}", input(Config::default()));
    halt()
}
