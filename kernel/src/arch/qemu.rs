//! Leaving QEMU with a status through the `isa-debug-exit` device (port 0xf4).
//!
//! QEMU exits with `(value << 1) | 1`: 0x10 becomes 33 (success) and 0x11
//! becomes 35 (failure). On hardware without the device the write does
//! nothing and the CPU halts instead.

use x86_64::instructions::port::Port;

/// I/O port of QEMU's `isa-debug-exit` device, as the tool configures it.
const DEBUG_EXIT_PORT: u16 = 0xf4;

/// The two outcomes a test run reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// QEMU exit status 33.
    Success = 0x10,
    /// QEMU exit status 35.
    Failure = 0x11,
}

/// Ends the QEMU run with `code`; halts if there is no exit device.
pub fn exit(code: ExitCode) -> ! {
    let mut port = Port::<u32>::new(DEBUG_EXIT_PORT);
    // SAFETY: port 0xf4 is QEMU's debug-exit device (or nothing on real
    // hardware); writing it has no effect on memory.
    unsafe { port.write(code as u32) };
    super::halt_forever()
}
