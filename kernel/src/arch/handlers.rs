//! The kernel's handlers that the entry code calls: the kernel registers them
//! once at boot, so `arch` names no part of the kernel above it.
//!
//! Until they are registered, an exception is reported as a kernel exception,
//! an IRQ is ignored with a warning and a `syscall` fails with -1; none of
//! these can happen before boot registers them (interrupts are off, and no
//! process exists yet).

use super::interrupts::TrapFrame;
use super::syscall::SyscallFrame;
use spin::Once;

/// What the entry code calls for events that belong to the rest of the kernel.
#[derive(Clone, Copy, Debug)]
pub struct Handlers {
    /// A CPU exception in ring 3: ends the faulting process and never returns.
    pub user_fault: fn(&TrapFrame) -> !,
    /// A hardware interrupt on line 0..=47: the 8259's 0-15, the MSI-X
    /// vectors' 16-47 (vector - 32; interrupts off).
    pub irq: fn(u8),
    /// A `syscall` from ring 3: reads the number and arguments, writes the result.
    pub syscall: fn(&mut SyscallFrame),
}

static HANDLERS: Once<Handlers> = Once::new();

/// Registers the handlers; the first registration stays (boot calls this once,
/// before interrupts are enabled).
pub fn register(handlers: Handlers) {
    HANDLERS.call_once(|| handlers);
}

/// The registered handlers, if boot has registered them.
pub(super) fn registered() -> Option<&'static Handlers> {
    HANDLERS.get()
}
