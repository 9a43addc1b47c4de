//! IRQ lines: from the interrupt controller to the module that holds the line.
//!
//! Lines 0-15 are the legacy lines (vectors 32-47): the ISA IRQs and the
//! PCI INTx lines the firmware numbered. When the ACPI MADT names an I/O
//! APIC (and the chipset's INTx wiring is known), they arrive through it:
//! each ISA IRQ on its GSI (after the MADT's overrides: IRQ 0 is GSI 2 on
//! q35), edge-triggered, each PCI function's INTx on the GSI its chipset
//! wires it to, level-triggered and active low; every 8259 line stays
//! masked. Otherwise they arrive through the 8259. Lines 16-47 are the
//! MSI-X vectors the kernel hands out for granted PCI functions (vectors
//! 48-79, see `pci_bus::vectors`), masked in the function's MSI-X table.
//! Everything but an 8259 line ends at the local APIC. Line `n` is always
//! vector `32 + n`.
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

use crate::arch::{io_apic, pic};
use crate::interrupt_routing::{self, Madt, NoIoApic};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use spin::Once;
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
/// Whether the legacy lines come through the I/O APIC (else the 8259).
static THROUGH_IO_APIC: AtomicBool = AtomicBool::new(false);
/// Legacy lines whose I/O APIC pin is edge-triggered (ISA). The I/O APIC
/// drops an edge on a masked pin, where the 8259 kept it pending, so these
/// are never masked between the interrupt and the acknowledgement: a line
/// in service takes further edges into [`LATCHED`] instead, delivered again
/// when the holder acknowledges (the 8259's request register, in software).
static EDGE_LINES: AtomicU64 = AtomicU64::new(0);
/// Edge lines delivered and not yet acknowledged.
static IN_SERVICE: AtomicU64 = AtomicU64::new(0);
/// Edge lines that fired again while in service.
static LATCHED: AtomicU64 = AtomicU64::new(0);
/// Acknowledgements still awaited for a level-triggered line delivered to
/// several holders (a shared PCI INTx line): it is unmasked when the last
/// of them acknowledges, so one holder's acknowledgement does not let a
/// line another holder's device still asserts fire again at once.
static AWAITED: [AtomicU8; LINES as usize] = [const { AtomicU8::new(0) }; LINES as usize];
/// Each legacy line's I/O APIC pins, one bit a pin.
static LINE_PINS: [AtomicU32; 16] = [const { AtomicU32::new(0) }; 16];
/// The MADT as the boot read it.
static MADT: Once<Result<Madt, NoIoApic>> = Once::new();
/// The controllers are set up (the first [`start`]).
static STARTED: Once<()> = Once::new();
/// Lines a module has enabled (unmasked) and not disabled since.
static ENABLED: AtomicU64 = AtomicU64::new(0);

fn is_message_signalled(line: u8) -> bool {
    (MSI_FIRST_LINE..LINES).contains(&line)
}

fn through_io_apic() -> bool {
    THROUGH_IO_APIC.load(Ordering::Acquire)
}

/// An edge-triggered legacy line on the I/O APIC (see [`EDGE_LINES`]).
fn is_edge(line: u8) -> bool {
    line < MSI_FIRST_LINE
        && through_io_apic()
        && EDGE_LINES.load(Ordering::Acquire) & (1 << line) != 0
}

fn set_masked(line: u8, masked: bool) {
    if is_message_signalled(line) {
        crate::pci_bus::vectors::set_masked(line, masked);
    } else if through_io_apic() {
        let pins = LINE_PINS
            .get(usize::from(line))
            .map_or(0, |pins| pins.load(Ordering::Acquire));
        for pin in (0..32).filter(|pin| pins & (1 << pin) != 0) {
            io_apic::set_masked(pin, masked);
        }
    } else {
        pic::set_masked(line, masked);
    }
}

fn end_of_interrupt(line: u8) {
    if is_message_signalled(line) || through_io_apic() {
        crate::arch::local_apic::end_of_interrupt();
    } else {
        pic::end_of_interrupt(line);
    }
}

/// Called from the interrupt entry for vectors 32-79 (`line` = vector - 32).
pub fn handle(line: u8) {
    if line == TIMER_LINE {
        crate::time::tick();
        end_of_interrupt(line);
        // After end-of-interrupt: this may switch threads (see `sched`).
        crate::sched::on_timer_tick();
        return;
    }
    if line >= LINES {
        return;
    }
    if !is_message_signalled(line) && !through_io_apic() && pic::filter_spurious(line) {
        return;
    }
    if is_edge(line) {
        end_of_interrupt(line);
        if IN_SERVICE.fetch_or(1 << line, Ordering::AcqRel) & (1 << line) != 0 {
            LATCHED.fetch_or(1 << line, Ordering::AcqRel);
            return;
        }
        if !crate::proc::deliver_irq(line) {
            PENDING.fetch_or(1 << line, Ordering::AcqRel);
        }
        crate::sched::on_device_interrupt();
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
        AWAITED[usize::from(line)].store(0, Ordering::Release);
        if enabled {
            ENABLED.fetch_or(1 << line, Ordering::AcqRel);
        } else {
            ENABLED.fetch_and(!(1 << line), Ordering::AcqRel);
        }
        set_masked(line, !enabled);
    });
}

/// The line was delivered to `holders` holders: each acknowledges it, and
/// the last acknowledgement unmasks it.
pub fn expect_acknowledgements(line: u8, holders: u8) {
    if let Some(awaited) = AWAITED.get(usize::from(line)) {
        awaited.store(holders, Ordering::Release);
    }
}

/// A holder has handled the line: unmask it again if it is enabled and no
/// other holder it was delivered to still has to acknowledge it.
pub fn acknowledge(line: u8) {
    if line == TIMER_LINE || line >= LINES {
        return;
    }
    without_interrupts(|| {
        let awaited = &AWAITED[usize::from(line)];
        let left = awaited.load(Ordering::Acquire);
        if left > 1 {
            awaited.store(left - 1, Ordering::Release);
            return;
        }
        awaited.store(0, Ordering::Release);
        let enabled = ENABLED.load(Ordering::Acquire) & (1 << line) != 0;
        if is_edge(line) {
            IN_SERVICE.fetch_and(!(1 << line), Ordering::AcqRel);
            // An edge that came meanwhile is delivered now; the event loop
            // finds it at its next look (at the latest the next tick).
            if LATCHED.fetch_and(!(1 << line), Ordering::AcqRel) & (1 << line) != 0 && enabled {
                IN_SERVICE.fetch_or(1 << line, Ordering::AcqRel);
                if !crate::proc::deliver_irq(line) {
                    PENDING.fetch_or(1 << line, Ordering::AcqRel);
                }
            }
            return;
        }
        if enabled {
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
    IN_SERVICE.fetch_and(!(1 << line), Ordering::AcqRel);
    LATCHED.fetch_and(!(1 << line), Ordering::AcqRel);
    if is_message_signalled(line) {
        crate::pci_bus::vectors::release(line);
    }
}

/// Keeps the MADT the boot read (before memory set-up, with the other ACPI
/// tables) for [`start`].
pub fn remember_madt(madt: Result<Madt, NoIoApic>) {
    MADT.call_once(|| madt);
}

/// Sets up the controllers (the first call: the I/O APIC if it can carry
/// the legacy lines, else the 8259) and the timer tick, then enables
/// interrupts.
pub fn start() {
    without_interrupts(|| {
        STARTED.call_once(|| {
            pic::initialise();
            let apic_id = crate::arch::local_apic::initialise();
            if let Err(error) = apic_id {
                log::warn!("local APIC not mapped ({error}): no MSI-X, devices use INTx");
            }
            match apic_id
                .map_err(|_| NoIoApic::Unreadable)
                .and_then(route_through_io_apic)
            {
                Ok(summary) => log::info!("interrupts: {summary}"),
                Err(reason) => {
                    log::info!("interrupts: the 8259 carries the legacy lines ({reason})")
                }
            }
            crate::arch::pit::start_periodic();
            set_masked(TIMER_LINE, false);
        });
    });
    x86_64::instructions::interrupts::enable();
}

/// Routes the legacy lines through the I/O APIC the MADT names and masks
/// the 8259 for good; says what it routed. Needs a chipset whose PCI INTx
/// wiring is known (ICH9), or a PCI line would be lost.
fn route_through_io_apic(apic_id: u8) -> Result<alloc::string::String, NoIoApic> {
    let madt = match MADT.get() {
        Some(Ok(madt)) => *madt,
        Some(Err(reason)) => return Err(*reason),
        None => return Err(NoIoApic::NoMadt),
    };
    let found = crate::pci_bus::found();
    let ich9 = found
        .iter()
        .any(|function| (function.vendor_id, function.device_id) == interrupt_routing::ICH9_LPC);
    if !ich9 {
        return Err(NoIoApic::UnknownChipset);
    }
    let pins =
        io_apic::initialise(u64::from(madt.io_apic_address)).map_err(|_| NoIoApic::Unreadable)?;
    let mut pci_lines = 0u16;
    for function in found.iter().filter(|function| function.bus == 0) {
        let line = function.irq_line;
        if !(1..16).contains(&line) || function.header_type != 0 {
            continue;
        }
        let Some(address) =
            crate::pci_bus::address(function.bus, function.device, function.function)
        else {
            continue;
        };
        let pin = crate::arch::pci_config::read(address, 0x3d, 1) as u8;
        let Some(gsi) = interrupt_routing::ich9_gsi(function.device, pin) else {
            continue;
        };
        if gsi >= u32::from(pins) {
            continue;
        }
        pci_lines |= 1 << line;
        LINE_PINS[usize::from(line)].fetch_or(1 << gsi, Ordering::AcqRel);
        io_apic::program(
            gsi,
            interrupt_routing::redirection_entry(vector_of(line), true, true, apic_id),
        );
    }
    for irq in (0..16u8).filter(|&irq| irq != 2 && pci_lines & (1 << irq) == 0) {
        let route = madt.isa_route(irq);
        if route.gsi >= u32::from(pins) || madt.gsi_taken_by_other(irq, route.gsi) {
            continue;
        }
        LINE_PINS[usize::from(irq)].fetch_or(1 << route.gsi, Ordering::AcqRel);
        if !route.level {
            EDGE_LINES.fetch_or(1 << irq, Ordering::AcqRel);
        }
        io_apic::program(
            route.gsi,
            interrupt_routing::redirection_entry(
                vector_of(irq),
                route.active_low,
                route.level,
                apic_id,
            ),
        );
    }
    pic::mask_all();
    THROUGH_IO_APIC.store(true, Ordering::Release);
    Ok(alloc::format!(
        "I/O APIC at {:#x} ({pins} pins) carries the legacy lines (IRQ 0 on GSI {}, PCI INTx level and active low); the 8259 is masked",
        madt.io_apic_address,
        madt.isa_route(0).gsi
    ))
}
