//! The panic report: location and message on COM1, then a failing QEMU exit.
#![forbid(unsafe_code)]

use crate::arch::qemu::{self, ExitCode};
use crate::console;
use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

/// Reports a panic and ends the run. A panic inside the report just exits.
pub fn report(info: &PanicInfo<'_>) -> ! {
    x86_64::instructions::interrupts::disable();
    if PANICKING.swap(true, Ordering::Relaxed) {
        qemu::exit(ExitCode::Failure);
    }
    let mut out = console::emergency_writer();
    let _ = match info.location() {
        Some(location) => write!(
            out,
            "\nPANIC at {}:{}:{}: {}\n",
            location.file(),
            location.line(),
            location.column(),
            info.message()
        ),
        None => write!(out, "\nPANIC at an unknown location: {}\n", info.message()),
    };
    qemu::exit(ExitCode::Failure)
}
