//! IRQ lines: from the interrupt controller to the module that holds the line.
//!
//! Lines 0-15 are the 8259's (vectors 32-47); lines 16-47 are the MSI-X
//! vectors the kernel hands out for granted PCI functions (vectors 48-79,
//! see `pci_bus::vectors`), masked in the function's MSI-X table and ended
//! at the local APIC. Line `n` is always vector `32 + n`.
//!
//! The handler does as little as possible: it masks the line, signals end of
//! interrupt, and records the line as pending. The event loop turns pending
//! lines into IRQ events for the holding module, which acknowledges with
//! `irq_ack`; that unmasks the line again if the module has it enabled.
//! Masking until the acknowledgement works for edge- and level-triggered
//! devices alike (a masked MSI-X entry keeps its message pending), and a
//! module that never acknowledges only silences its own device. Line 0 is
//! the kernel's timer tick.
#![forbid(unsafe_code)]

use crate::arch::pic;
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::interrupts::without_interrupts;

/// The kernel's own line: the PIT tick.
pub const TIMER_LINE: u8 = 0;
/// The first message-signalled line (the 8259 has 0-15).
pub const MSI_FIRST_LINE: u8 = crate::pci_bus::vectors::FIRST_LINE;
/// Lines in all: the 8259's and the MSI-X vectors.
pub const LINES: u8 = MSI_FIRST_LINE + crate::pci_bus::vectors::MSI_LINES as u8;

/// The vector of line `line`.
pub const fn vector_of(line: u8) -> u8 {
    pic::VECTOR_BASE + line
}

/// Lines that fired and await delivery.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Lines a module has enabled (unmasked) and not disabled since.
static ENABLED: AtomicU64 = AtomicU64::new(0);

fn is_message_signalled(line: u8) -> bool {
    (MSI_FIRST_LINE..LINES).contains(&line)
}

fn set_masked(line: u8, masked: bool) {
    if is_message_signalled(line) {
        crate::pci_bus::vectors::set_masked(line, masked);
    } else {
        pic::set_masked(line, masked);
    }
}

fn end_of_interrupt(line: u8) {
    if is_message_signalled(line) {
        crate::arch::local_apic::end_of_interrupt();
    } else {
        pic::end_of_interrupt(line);
    }
}

/// Called from the interrupt entry for vectors 32-79 (`line` = vector - 32).
pub fn handle(line: u8) {
    if line == TIMER_LINE {
        crate::time::tick();
        pic::end_of_interrupt(line);
        // After end-of-interrupt: this may switch threads (see `sched`).
        crate::sched::on_timer_tick();
        return;
    }
    if line >= LINES {
        return;
    }
    if !is_message_signalled(line) && pic::filter_spurious(line) {
        return;
    }
    set_masked(line, true);
    // A line a native process attached arrives as a message on its endpoint.
    if crate::proc::deliver_irq(line) {
        end_of_interrupt(line);
        crate::sched::on_device_interrupt();
        return;
    }
    PENDING.fetch_or(1 << line, Ordering::AcqRel);
    end_of_interrupt(line);
    crate::sched::on_device_interrupt();
}

/// Takes every pending line (bit `n` = line `n`).
pub fn take_pending() -> u64 {
    PENDING.swap(0, Ordering::AcqRel)
}

/// Enables or disables a module-held line.
pub fn set_enabled(line: u8, enabled: bool) {
    if line == TIMER_LINE || line >= LINES {
        return;
    }
    without_interrupts(|| {
        if enabled {
            ENABLED.fetch_or(1 << line, Ordering::AcqRel);
        } else {
            ENABLED.fetch_and(!(1 << line), Ordering::AcqRel);
        }
        set_masked(line, !enabled);
    });
}

/// The holder has handled the line: unmask it again if it is enabled.
pub fn acknowledge(line: u8) {
    if line == TIMER_LINE || line >= LINES {
        return;
    }
    without_interrupts(|| {
        if ENABLED.load(Ordering::Acquire) & (1 << line) != 0 {
            set_masked(line, false);
        }
    });
}

/// Masks a line for good when its holder dies; it stays masked until a new
/// holder enables it. An MSI-X vector goes back to the kernel too (its table
/// entry masked; MSI-X off with the function's last vector).
pub fn revoke(line: u8) {
    set_enabled(line, false);
    PENDING.fetch_and(!(1 << line), Ordering::AcqRel);
    if is_message_signalled(line) {
        crate::pci_bus::vectors::release(line);
    }
}

/// Sets up the controllers and the timer tick, then enables interrupts.
pub fn start() {
    without_interrupts(|| {
        pic::initialise();
        if let Err(error) = crate::arch::local_apic::initialise() {
            log::warn!("local APIC not mapped ({error}): no MSI-X, devices use INTx");
        }
        crate::arch::pit::start_periodic();
        pic::set_masked(TIMER_LINE, false);
    });
    x86_64::instructions::interrupts::enable();
}
