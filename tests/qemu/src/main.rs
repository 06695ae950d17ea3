//! sockwire on a Cortex-M4: a `no_std`, `no_main` test image for QEMU's
//! `mps2-an386` machine, with no heap. It runs, in memory on a virtual clock, a
//! WebSocket client/server pair and an Engine.IO + Socket.IO client/server
//! pair, a broadcast of the Socket.IO server endpoint in fixed storage, a
//! connection state recovery in lent storage, plus
//! the RFC 6455 and protocol vectors; prints `ok NAME` or
//! `FAIL NAME: why` per check, the stack high-water mark per scenario (stack
//! painting) with the `size_of` of the state it keeps on the stack, then in a
//! second pass over the same scenarios the deepest call of each role (client,
//! server) below the frame holding its state, then `N passed, M failed`, and
//! exits with 0 only when every check passed (semihosting). A panic or a fault
//! exits non-zero with a message.
//!
//! Built with the feature `deflate` (sockwire's permessage-deflate), it runs
//! only the `ws_deflate` scenario instead, so the default image's figures stay
//! those of a firmware without the feature.
//!
//! `run.sh` (this directory) builds it both ways and runs each in QEMU.
#![no_std]
#![no_main]

mod report;
mod rt;
#[cfg_attr(feature = "deflate", allow(dead_code))]
mod sio_broadcast;
#[cfg_attr(feature = "deflate", allow(dead_code))]
mod sio_pair;
#[cfg_attr(feature = "deflate", allow(dead_code))]
mod sio_recovery;
#[cfg_attr(feature = "deflate", allow(dead_code))]
mod vectors;
mod wire;
#[cfg(feature = "deflate")]
mod ws_deflate;
#[cfg_attr(feature = "deflate", allow(dead_code))]
mod ws_pair;

/// A scenario, measured on its own freshly painted stack.
struct Scenario {
    name: &'static str,
    run: fn(),
    /// What it keeps on the stack besides call frames (`size_of`), if its
    /// calls are measured per role.
    state: &'static [(&'static str, usize)],
}

#[cfg(feature = "deflate")]
const SCENARIOS: [Scenario; 1] = [Scenario {
    name: "ws_deflate",
    run: ws_deflate::run,
    state: &ws_deflate::STATE,
}];

#[cfg(not(feature = "deflate"))]
const SCENARIOS: [Scenario; 5] = [
    Scenario {
        name: "vectors",
        run: vectors::run,
        state: &[],
    },
    Scenario {
        name: "ws_pair",
        run: ws_pair::run,
        state: &ws_pair::STATE,
    },
    Scenario {
        name: "sio_pair",
        run: sio_pair::run,
        state: &sio_pair::STATE,
    },
    Scenario {
        name: "sio_broadcast",
        run: sio_broadcast::run,
        state: &sio_broadcast::STATE,
    },
    Scenario {
        name: "sio_recovery",
        run: sio_recovery::run,
        state: &sio_recovery::STATE,
    },
];

/// The test run; its result is the exit code.
fn run() -> u32 {
    println!(
        "sockwire on a Cortex-M4 (QEMU mps2-an386): {} scenarios, {} B of stack",
        SCENARIOS.len(),
        rt::stack_size()
    );
    #[cfg(feature = "selftest-panic")]
    selftest_panic();
    #[cfg(feature = "selftest-fault")]
    selftest_fault();
    for Scenario { name, run, state } in SCENARIOS {
        println!("# {}", name);
        let used = rt::stack_high_water(run);
        check!(
            "stack: the scenario stays 1 KiB or more inside the stack",
            used + 1024 <= rt::stack_size(),
            "{} of {} bytes used",
            used,
            rt::stack_size()
        );
        report::flush();
        println!("stack {}: {} bytes", name, used);
        for (part, size) in state {
            println!("  size_of {}: {} bytes", part, size);
        }
    }
    // The second pass: the same scenarios, measuring how deep each role's
    // calls reach below the frame that holds its state (checks muted unless
    // they fail).
    report::mute(true);
    for Scenario { name, run, state } in SCENARIOS {
        if state.is_empty() {
            continue;
        }
        rt::measure_depth(true);
        run();
        rt::measure_depth(false);
        report::mute(false);
        let (client, server) = rt::depths();
        check!(
            "call depth: inside the painted band",
            client.max(server) + 64 < rt::BAND,
            "{} / {} of {} bytes",
            client,
            server,
            rt::BAND
        );
        report::flush();
        report::mute(true);
        println!(
            "call depth {}: client {} bytes, server {} bytes",
            name, client, server
        );
    }
    report::mute(false);
    let (passed, failed) = report::totals();
    println!("{} passed, {} failed", passed, failed);
    u32::from(failed != 0)
}

#[cfg(feature = "selftest-panic")]
fn selftest_panic() {
    check!("selftest: a check before the panic", true, "");
    let v = core::hint::black_box(None::<u32>);
    v.expect("selftest-panic: the panic handler reports this");
}

#[cfg(feature = "selftest-fault")]
fn selftest_fault() {
    // A write to the stack guard, as an overflow would do: a MemManage fault,
    // escalated to HardFault.
    let p = core::hint::black_box(rt::guard_address() as *mut u32);
    // SAFETY: none; the point is the fault.
    unsafe { p.write_volatile(0) };
    println!("selftest-fault: wrote the stack guard without a fault");
}
