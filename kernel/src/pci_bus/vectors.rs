//! The kernel's MSI-X vectors: which table entry of which function each
//! message-signalled line belongs to. A driver asks for an entry of its own
//! function (`pci_msix`); the kernel takes a free line, programs the entry
//! itself (masked) and turns MSI-X on for the function with its first
//! vector; releasing the last vector turns MSI-X off again, so the function
//! signals INTx as before. Lines [`crate::irq::MSI_FIRST_LINE`] onwards
//! (vectors 48-79) are these; the bookkeeping ([`Routes`]) runs on the host
//! too.

use cella_abi::ErrorCode;
use cella_wasm_host::abi::PciAddress;

/// Message-signalled lines the kernel hands out.
pub const MSI_LINES: usize = 32;
/// The first of them (lines 0-15 are the 8259's).
pub const FIRST_LINE: u8 = 16;

/// One handed-out vector: the function and its table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The function whose table holds the entry.
    pub function: PciAddress,
    /// The entry.
    pub entry: u16,
}

/// Which line goes to which entry.
#[derive(Debug)]
pub struct Routes {
    slots: [Option<Route>; MSI_LINES],
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    /// No line handed out.
    pub const fn new() -> Routes {
        Routes {
            slots: [None; MSI_LINES],
        }
    }

    /// Takes a free line for `entry` of `function`; also says whether it is
    /// the function's first (MSI-X goes on then).
    ///
    /// # Errors
    /// [`ErrorCode::Busy`] if that entry has a line already (another holder
    /// has not let it go), [`ErrorCode::Exhausted`] when every line is taken.
    pub fn attach(&mut self, function: PciAddress, entry: u16) -> Result<(u8, bool), ErrorCode> {
        let route = Route { function, entry };
        if self.slots.contains(&Some(route)) {
            return Err(ErrorCode::Busy);
        }
        let first = !self.holds_function(function);
        let index = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(ErrorCode::Exhausted)?;
        self.slots[index] = Some(route);
        Ok((FIRST_LINE + index as u8, first))
    }

    /// Lets `line` go; returns its route and whether it was its function's
    /// last (MSI-X goes off then). `None` for a line not handed out.
    pub fn release(&mut self, line: u8) -> Option<(Route, bool)> {
        let slot = self
            .slots
            .get_mut(usize::from(line.checked_sub(FIRST_LINE)?))?;
        let route = slot.take()?;
        Some((route, !self.holds_function(route.function)))
    }

    /// The route of `line`, if it is handed out.
    pub fn route(&self, line: u8) -> Option<Route> {
        *self.slots.get(usize::from(line.checked_sub(FIRST_LINE)?))?
    }

    /// Lines handed out.
    pub fn in_use(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    fn holds_function(&self, function: PciAddress) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|route| route.function == function)
    }
}

#[cfg(target_os = "none")]
pub use hardware::{attach, in_use, release, route, set_masked, turn_off};

/// The routes applied to the machine: tables programmed, MSI-X switched.
#[cfg(target_os = "none")]
mod hardware {
    use super::super::msix::{self, TableAccess};
    use super::{Route, Routes};
    use crate::mm::device_memory::DeviceRange;
    use cella_abi::ErrorCode;
    use cella_wasm_host::abi::PciAddress;
    use core::sync::atomic::{AtomicBool, Ordering};
    use spin::Mutex;
    use x86_64::instructions::interrupts::without_interrupts;

    /// The routes and, per line, the table entry's 16 bytes.
    struct Programmed {
        routes: Routes,
        entries: [Option<DeviceRange>; super::MSI_LINES],
    }

    /// Set by the command line's `msix=off`: no vector is handed out.
    static OFF: AtomicBool = AtomicBool::new(false);

    /// Hands out no vector from now on (`msix=off`): every driver takes
    /// its INTx line.
    pub fn turn_off() {
        OFF.store(true, Ordering::Release);
    }

    static PROGRAMMED: Mutex<Programmed> = Mutex::new(Programmed {
        routes: Routes::new(),
        entries: [None; super::MSI_LINES],
    });

    /// One entry's bytes as the table (offsets from the entry's start).
    struct Entry(DeviceRange);

    impl TableAccess for Entry {
        fn read32(&mut self, offset: u64) -> u32 {
            self.0.read(offset, 4).unwrap_or(u64::MAX) as u32
        }
        fn write32(&mut self, offset: u64, value: u32) {
            if let Err(error) = self.0.write(offset, 4, u64::from(value)) {
                log::error!(
                    "MSI-X table write at {:#x}: {error}",
                    self.0.start() + offset
                );
            }
        }
    }

    /// Hands out a line for `entry` of `function` and programs the entry
    /// (masked) to raise that line's vector on this CPU.
    ///
    /// # Errors
    /// [`ErrorCode::NotFound`] if the function has no MSI-X (or the command
    /// line said `msix=off`), a
    /// [`ErrorCode::BadArgument`] entry past its table, [`ErrorCode::Busy`],
    /// [`ErrorCode::Exhausted`] (see [`Routes::attach`]), or
    /// [`ErrorCode::DeviceError`] when the table cannot be reached.
    pub fn attach(function: PciAddress, entry: u16) -> Result<u8, ErrorCode> {
        if OFF.load(Ordering::Acquire) {
            return Err(ErrorCode::NotFound);
        }
        let (found, capability) = super::super::msix_of(function).ok_or(ErrorCode::NotFound)?;
        if entry >= capability.table_size {
            return Err(ErrorCode::BadArgument);
        }
        let table = capability
            .table_address(&found)
            .ok_or(ErrorCode::DeviceError)?;
        let apic_id = crate::arch::local_apic::id().ok_or(ErrorCode::DeviceError)?;
        let bytes = DeviceRange::new(
            table + u64::from(entry) * msix::ENTRY_BYTES,
            msix::ENTRY_BYTES,
        )
        .map_err(|_| ErrorCode::DeviceError)?;
        without_interrupts(|| {
            let mut programmed = PROGRAMMED.lock();
            let (line, first) = programmed.routes.attach(function, entry)?;
            let vector = crate::irq::vector_of(line);
            msix::program_entry(&mut Entry(bytes), 0, apic_id, vector);
            programmed.entries[usize::from(line - super::FIRST_LINE)] = Some(bytes);
            if first {
                msix::set_enabled(&mut super::super::Mechanism1, function, &capability, true);
            }
            Ok(line)
        })
    }

    /// Masks `line`'s entry and lets the line go; MSI-X goes off with the
    /// function's last line.
    pub fn release(line: u8) {
        without_interrupts(|| {
            let mut programmed = PROGRAMMED.lock();
            let Some(index) = line.checked_sub(super::FIRST_LINE).map(usize::from) else {
                return;
            };
            if let Some(bytes) = programmed.entries.get_mut(index).and_then(Option::take) {
                msix::set_entry_masked(&mut Entry(bytes), 0, true);
            }
            if let Some((route, true)) = programmed.routes.release(line)
                && let Some((_, capability)) = super::super::msix_of(route.function)
            {
                msix::set_enabled(
                    &mut super::super::Mechanism1,
                    route.function,
                    &capability,
                    false,
                );
            }
        });
    }

    /// Masks or unmasks `line`'s entry (interrupts off: the IRQ handler's
    /// path too).
    pub fn set_masked(line: u8, masked: bool) {
        let Some(index) = line.checked_sub(super::FIRST_LINE).map(usize::from) else {
            return;
        };
        let programmed = PROGRAMMED.lock();
        if let Some(Some(bytes)) = programmed.entries.get(index) {
            msix::set_entry_masked(&mut Entry(*bytes), 0, masked);
        }
    }

    /// The route of `line`, if handed out.
    pub fn route(line: u8) -> Option<Route> {
        without_interrupts(|| PROGRAMMED.lock().routes.route(line))
    }

    /// Lines handed out.
    pub fn in_use() -> usize {
        without_interrupts(|| PROGRAMMED.lock().routes.in_use())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk() -> PciAddress {
        PciAddress::new(0, 3, 0).unwrap()
    }

    #[test]
    fn lines_are_handed_out_once_per_entry_and_msix_follows_the_first_and_last() {
        let mut routes = Routes::new();
        assert_eq!(routes.attach(disk(), 0), Ok((16, true)));
        assert_eq!(routes.attach(disk(), 1), Ok((17, false)));
        assert_eq!(routes.attach(disk(), 0), Err(ErrorCode::Busy));
        let other = PciAddress::new(0, 4, 0).unwrap();
        assert_eq!(routes.attach(other, 0), Ok((18, true)));
        assert_eq!(
            routes.route(17),
            Some(Route {
                function: disk(),
                entry: 1
            })
        );
        assert_eq!(routes.release(16).map(|(_, last)| last), Some(false));
        assert_eq!(routes.release(16), None, "a line goes once");
        assert_eq!(routes.release(17).map(|(_, last)| last), Some(true));
        assert_eq!(
            routes.release(4),
            None,
            "an 8259 line is not handed out here"
        );
        assert_eq!(routes.route(16), None);
        assert_eq!(routes.in_use(), 1);
    }

    #[test]
    fn lines_run_out_and_come_back_over_many_rounds() {
        let mut routes = Routes::new();
        for round in 0..50u16 {
            for entry in 0..MSI_LINES as u16 {
                assert_eq!(
                    routes.attach(disk(), entry).map(|(line, _)| line),
                    Ok(FIRST_LINE + entry as u8),
                    "round {round}"
                );
            }
            assert_eq!(routes.attach(disk(), 999), Err(ErrorCode::Exhausted));
            for line in FIRST_LINE..FIRST_LINE + MSI_LINES as u8 {
                assert!(routes.release(line).is_some());
            }
            assert_eq!(routes.in_use(), 0);
        }
    }
}
