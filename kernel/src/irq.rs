//! IRQ lines: from the interrupt controller to the module that holds the line.
//!
//! The handler does as little as possible: it masks the line, signals end of
//! interrupt, and records the line as pending. The event loop turns pending
//! lines into IRQ events for the holding module, which acknowledges with
//! `irq_ack`; that unmasks the line again if the module has it enabled.
//! Masking until the acknowledgement works for edge- and level-triggered
//! devices alike, and a module that never acknowledges only silences its own
//! device. Line 0 is the kernel's timer tick.
#![forbid(unsafe_code)]

use crate::arch::pic;
use core::sync::atomic::{AtomicU16, Ordering};
use x86_64::instructions::interrupts::without_interrupts;

/// The kernel's own line: the PIT tick.
pub const TIMER_LINE: u8 = 0;

/// Lines that fired and await delivery.
static PENDING: AtomicU16 = AtomicU16::new(0);
/// Lines a module has enabled (unmasked) and not disabled since.
static ENABLED: AtomicU16 = AtomicU16::new(0);

/// Called from the interrupt entry for vectors 32-47.
pub fn handle(line: u8) {
    if line == TIMER_LINE {
        crate::time::tick();
        pic::end_of_interrupt(line);
        // After end-of-interrupt: this may switch threads (see `sched`).
        crate::sched::on_timer_tick();
        return;
    }
    if pic::filter_spurious(line) {
        return;
    }
    pic::set_masked(line, true);
    // A line a native process attached arrives as a message on its endpoint.
    if crate::proc::deliver_irq(line) {
        pic::end_of_interrupt(line);
        crate::sched::on_device_interrupt();
        return;
    }
    PENDING.fetch_or(1 << line, Ordering::AcqRel);
    pic::end_of_interrupt(line);
    crate::sched::on_device_interrupt();
}

/// Takes every pending line (bit `n` = line `n`).
pub fn take_pending() -> u16 {
    PENDING.swap(0, Ordering::AcqRel)
}

/// Enables or disables a module-held line.
pub fn set_enabled(line: u8, enabled: bool) {
    if line == TIMER_LINE || line >= pic::LINES {
        return;
    }
    without_interrupts(|| {
        if enabled {
            ENABLED.fetch_or(1 << line, Ordering::AcqRel);
        } else {
            ENABLED.fetch_and(!(1 << line), Ordering::AcqRel);
        }
        pic::set_masked(line, !enabled);
    });
}

/// The holder has handled the line: unmask it again if it is enabled.
pub fn acknowledge(line: u8) {
    if line == TIMER_LINE || line >= pic::LINES {
        return;
    }
    without_interrupts(|| {
        if ENABLED.load(Ordering::Acquire) & (1 << line) != 0 {
            pic::set_masked(line, false);
        }
    });
}

/// Masks a line for good when its holder dies; it stays masked until a new holder enables it.
pub fn revoke(line: u8) {
    set_enabled(line, false);
    PENDING.fetch_and(!(1 << line), Ordering::AcqRel);
}

/// Sets up the controllers and the timer tick, then enables interrupts.
pub fn start() {
    without_interrupts(|| {
        pic::initialise();
        crate::arch::pit::start_periodic();
        pic::set_masked(TIMER_LINE, false);
    });
    x86_64::instructions::interrupts::enable();
}
