//! The native backend's capability table: the module's manifest requests,
//! named by handle, with the Wasm host's checks and error codes
//! (`wasm-host/src/capabilities.rs`, `calls/*.rs`). Pure logic, host-tested.
//! Whether an access lies inside its port range or MMIO region is
//! `cella-system`'s [`range_holds`], the rule the kernel checks the
//! process's grant with.
//!
//! Handles are `generation << 8 | slot` as in the Wasm host; a process runs
//! one instance, so every handle carries [`GENERATION`] and anything else is
//! [`ErrorCode::BadHandle`].

use cella_abi::{CapabilityKind, CapabilityRequest, ErrorClass, ErrorCode, Manifest};
use cella_abi::{MAX_CAPABILITY_REQUESTS, ManifestError};
use cella_system::grants::range_holds;

/// The generation of every handle in a native process (one instance).
pub const GENERATION: u32 = 1;
/// Capability violations tolerated; the next one faults the module (as the
/// Wasm host's default `Limits`).
pub const MAX_VIOLATIONS: u32 = 16;
/// Bad host calls tolerated; the next one faults the module.
pub const MAX_BAD_CALLS: u32 = 16;

/// One held capability and what the backend keeps for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Ports `base .. base + count`.
    Ports { base: u16, count: u32 },
    /// Physical MMIO `base .. base + length`, mapped at user `address` (0: not yet).
    Mmio {
        base: u64,
        length: u64,
        address: u64,
    },
    /// An IRQ line.
    Irq { line: u8 },
    /// A DMA pool: its budget and the bytes allocated from it now.
    Dma { bytes: u64, used: u64 },
    /// A buffer from the pool in slot `pool`, mapped at user `address`; its
    /// device sees it at `device_address`.
    DmaBuffer {
        pool: u8,
        address: u64,
        device_address: u64,
        size: u64,
    },
    /// A buffer another holder lent with request `request`, which the
    /// kernel mapped at user `address` until the request is answered.
    LentBuffer {
        request: i32,
        address: u64,
        device_address: u64,
        size: u64,
        writable: bool,
    },
    /// An endpoint to send to, and its kernel send handle once looked up.
    Endpoint {
        name: &'static str,
        kernel: Option<u64>,
    },
    /// A one-shot timer and its armed deadline.
    Timer { deadline: Option<u64> },
    /// The process's granted PCI function (its record is kept in the
    /// backend's state).
    PciDevice,
    /// The list of PCI functions: the kernel grants it to modules only, so
    /// a manifest asking for it does not start.
    PciBus,
}

impl Entry {
    fn kind(&self) -> CapabilityKind {
        match self {
            Entry::Ports { .. } => CapabilityKind::PortRange,
            Entry::Mmio { .. } => CapabilityKind::MmioRegion,
            Entry::Irq { .. } => CapabilityKind::IrqLine,
            Entry::Dma { .. } => CapabilityKind::DmaPool,
            Entry::DmaBuffer { .. } | Entry::LentBuffer { .. } => CapabilityKind::DmaBuffer,
            Entry::Endpoint { .. } => CapabilityKind::Endpoint,
            Entry::Timer { .. } => CapabilityKind::Timer,
            Entry::PciDevice => CapabilityKind::PciDevice,
            Entry::PciBus => CapabilityKind::PciBus,
        }
    }

    fn from_request(request: CapabilityRequest<'static>) -> Entry {
        match request {
            CapabilityRequest::PortRange { base, count } => Entry::Ports { base, count },
            CapabilityRequest::MmioRegion { base, length } => Entry::Mmio {
                base,
                length,
                address: 0,
            },
            CapabilityRequest::IrqLine { line } => Entry::Irq { line },
            CapabilityRequest::DmaPool { bytes } => Entry::Dma { bytes, used: 0 },
            CapabilityRequest::Endpoint { name } => Entry::Endpoint { name, kernel: None },
            CapabilityRequest::Timer => Entry::Timer { deadline: None },
            CapabilityRequest::PciDevice { .. } => Entry::PciDevice,
            CapabilityRequest::PciBus => Entry::PciBus,
        }
    }
}

/// Slots of the table: the manifest's lines, then what the module is given
/// while it runs (DMA buffers, PCI BARs and lines).
pub const SLOTS: usize = 2 * MAX_CAPABILITY_REQUESTS;

/// The manifest's capabilities, slot `i` = capability line `i`, then the
/// capabilities made at run time.
pub struct Table {
    entries: [Option<Entry>; SLOTS],
    requested: usize,
}

/// The handle of a run-time entry in `slot` (from [`Table::entries`]).
pub fn handle_of_slot(slot: usize) -> i32 {
    encode(slot)
}

fn encode(slot: usize) -> i32 {
    // slot < 64 and GENERATION is small: fits in 31 bits.
    ((GENERATION << 8) | slot as u32) as i32
}

impl Table {
    /// An empty table (before the manifest is read).
    pub const fn empty() -> Table {
        Table {
            entries: [None; SLOTS],
            requested: 0,
        }
    }

    /// The table for a module's manifest text.
    ///
    /// # Errors
    /// The manifest's first bad line.
    pub fn from_manifest(text: &'static str) -> Result<Table, ManifestError> {
        let manifest = Manifest::parse(text)?;
        let mut table = Table::empty();
        for (slot, request) in table.entries.iter_mut().zip(manifest.capabilities()) {
            *slot = Some(Entry::from_request(request));
            table.requested += 1;
        }
        Ok(table)
    }

    /// Every held capability with its slot.
    pub fn entries(&self) -> impl Iterator<Item = (usize, Entry)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(slot, entry)| entry.map(|entry| (slot, entry)))
    }

    /// The entry in `slot`, to update what the backend keeps for it.
    pub fn entry_mut(&mut self, slot: usize) -> Option<&mut Entry> {
        self.entries.get_mut(slot).and_then(Option::as_mut)
    }

    /// `cap_handle(index)`.
    ///
    /// # Errors
    /// [`ErrorCode::BadArgument`] if the manifest has no such capability.
    pub fn handle_for_index(&self, index: i32) -> Result<i32, ErrorCode> {
        let slot = usize::try_from(index).map_err(|_| ErrorCode::BadArgument)?;
        match self.entries.get(slot) {
            Some(Some(_)) if slot < self.requested => Ok(encode(slot)),
            _ => Err(ErrorCode::BadArgument),
        }
    }

    /// The handle of an entry equal to `entry`, inserting it after the
    /// manifest's lines if there is none (asking twice for the same BAR or
    /// line takes one slot).
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] when every slot is taken.
    pub fn insert(&mut self, entry: Entry) -> Result<i32, ErrorCode> {
        if let Some((slot, _)) = self.entries().find(|(_, held)| *held == entry) {
            return Ok(encode(slot));
        }
        self.insert_new(entry)
    }

    /// Stores `entry` in a free slot after the manifest's lines.
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] when every slot is taken.
    pub fn insert_new(&mut self, entry: Entry) -> Result<i32, ErrorCode> {
        let slot = (self.requested..SLOTS)
            .find(|&slot| matches!(self.entries.get(slot), Some(None)))
            .ok_or(ErrorCode::Exhausted)?;
        if let Some(free) = self.entries.get_mut(slot) {
            *free = Some(entry);
        }
        Ok(encode(slot))
    }

    /// Takes the entry made at run time in `slot` out (a freed DMA buffer).
    pub fn remove(&mut self, slot: usize) -> Option<Entry> {
        if slot < self.requested {
            return None;
        }
        self.entries.get_mut(slot).and_then(Option::take)
    }

    /// The handle of the IRQ capability for `line`.
    pub fn handle_for_irq(&self, line: u8) -> Option<i32> {
        self.entries()
            .find(|(_, entry)| *entry == Entry::Irq { line })
            .map(|(slot, _)| encode(slot))
    }

    /// Resolves a module's handle to its slot, checking generation and kind.
    ///
    /// # Errors
    /// [`ErrorCode::BadHandle`] (not a handle of this instance),
    /// [`ErrorCode::Denied`] (a capability of another kind).
    pub fn resolve(&self, handle: i32, kind: CapabilityKind) -> Result<(usize, Entry), ErrorCode> {
        let value = u32::try_from(handle)
            .ok()
            .filter(|value| *value != 0 && *value >> 8 == GENERATION)
            .ok_or(ErrorCode::BadHandle)?;
        let slot = (value & 0xff) as usize;
        match self.entries.get(slot) {
            Some(Some(entry)) if entry.kind() == kind => Ok((slot, *entry)),
            Some(Some(_)) => Err(ErrorCode::Denied),
            _ => Err(ErrorCode::BadHandle),
        }
    }

    /// The port at `offset` of the range `handle` names, for a `width`-byte access.
    ///
    /// # Errors
    /// As [`Table::resolve`]; [`ErrorCode::Denied`] past the range.
    pub fn port(&self, handle: i32, offset: i32, width: u32) -> Result<u16, ErrorCode> {
        let (_, Entry::Ports { base, count }) = self.resolve(handle, CapabilityKind::PortRange)?
        else {
            return Err(ErrorCode::BadHandle);
        };
        let port = u64::from(base) + u64::from(offset as u32);
        if !range_holds(u64::from(base), u64::from(count), port, u64::from(width)) {
            return Err(ErrorCode::Denied);
        }
        u16::try_from(port).map_err(|_| ErrorCode::Denied)
    }

    /// The user address at `offset` of the MMIO region `handle` names, for a
    /// `width`-byte access (alignment checked on the physical address).
    ///
    /// # Errors
    /// As [`Table::resolve`]; [`ErrorCode::Denied`] past the region,
    /// [`ErrorCode::Misaligned`], [`ErrorCode::DeviceError`] if it is not mapped.
    pub fn mmio(&self, handle: i32, offset: i32, width: u32) -> Result<u64, ErrorCode> {
        let (
            _,
            Entry::Mmio {
                base,
                length,
                address,
            },
        ) = self.resolve(handle, CapabilityKind::MmioRegion)?
        else {
            return Err(ErrorCode::BadHandle);
        };
        let offset = u64::from(offset as u32);
        let held = base
            .checked_add(offset)
            .is_some_and(|first| range_holds(base, length, first, u64::from(width)));
        if !held {
            return Err(ErrorCode::Denied);
        }
        if (base + offset) % u64::from(width) != 0 {
            return Err(ErrorCode::Misaligned);
        }
        if address == 0 {
            return Err(ErrorCode::DeviceError);
        }
        Ok(address + offset)
    }

    /// The line of the IRQ capability `handle` names.
    ///
    /// # Errors
    /// As [`Table::resolve`].
    pub fn irq(&self, handle: i32) -> Result<u8, ErrorCode> {
        match self.resolve(handle, CapabilityKind::IrqLine)? {
            (_, Entry::Irq { line }) => Ok(line),
            _ => Err(ErrorCode::BadHandle),
        }
    }

    /// `timer_set(handle, deadline)` (`Some`) or `timer_cancel(handle)` (`None`).
    ///
    /// # Errors
    /// [`ErrorCode::BadArgument`] for a negative deadline; as [`Table::resolve`].
    pub fn set_timer(&mut self, handle: i32, deadline: Option<i64>) -> Result<(), ErrorCode> {
        let deadline = match deadline {
            Some(value) => Some(u64::try_from(value).map_err(|_| ErrorCode::BadArgument)?),
            None => None,
        };
        let (slot, _) = self.resolve(handle, CapabilityKind::Timer)?;
        if let Some(Entry::Timer { deadline: armed }) = self.entry_mut(slot) {
            *armed = deadline;
        }
        Ok(())
    }

    /// The earliest armed timer deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        self.entries()
            .filter_map(|(_, entry)| match entry {
                Entry::Timer { deadline } => deadline,
                _ => None,
            })
            .min()
    }

    /// Disarms the earliest timer due at `now` and returns its handle.
    pub fn take_due(&mut self, now: u64) -> Option<i32> {
        let (slot, _) = self
            .entries()
            .filter_map(|(slot, entry)| match entry {
                Entry::Timer {
                    deadline: Some(deadline),
                } if deadline <= now => Some((slot, deadline)),
                _ => None,
            })
            .min_by_key(|(_, deadline)| *deadline)?;
        if let Some(Entry::Timer { deadline }) = self.entry_mut(slot) {
            *deadline = None;
        }
        Some(encode(slot))
    }
}

/// Refused calls counted as the Wasm host counts them.
#[derive(Debug, Default)]
pub struct Refusals {
    violations: u32,
    bad_calls: u32,
}

/// What to do about one refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// Refusals of this class so far.
    pub count: u32,
    /// Refusals of this class tolerated.
    pub limit: u32,
    /// Past the limit: the module is faulted.
    pub fault: bool,
}

impl Refusals {
    /// Nothing refused yet.
    pub const fn new() -> Refusals {
        Refusals {
            violations: 0,
            bad_calls: 0,
        }
    }

    /// Counts a refusal with `error`; `None` for codes that are not counted
    /// (conditions such as `Busy`).
    pub fn count(&mut self, error: ErrorCode) -> Option<Counted> {
        let (count, limit) = match error.class() {
            ErrorClass::Violation => {
                self.violations = self.violations.saturating_add(1);
                (self.violations, MAX_VIOLATIONS)
            }
            ErrorClass::BadCall => {
                self.bad_calls = self.bad_calls.saturating_add(1);
                (self.bad_calls, MAX_BAD_CALLS)
            }
            ErrorClass::Success | ErrorClass::Condition => return None,
        };
        Some(Counted {
            count,
            limit,
            fault: count > limit,
        })
    }
}

/// A guest length: non-negative and at most `maximum`.
///
/// # Errors
/// [`ErrorCode::BadArgument`].
pub fn length(length: i32, maximum: u32) -> Result<usize, ErrorCode> {
    let length = u32::try_from(length).map_err(|_| ErrorCode::BadArgument)?;
    if length > maximum {
        return Err(ErrorCode::BadArgument);
    }
    Ok(length as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "cella 1\nname t\nversion 1\nport 0x70 2\nmmio 0xfec00000 0x20\nirq 8\nendpoint log\ntimer\ntimer\ndma 4096\n";

    fn table() -> Table {
        Table::from_manifest(MANIFEST).expect("valid manifest")
    }

    #[test]
    fn handles_follow_the_manifest_order() {
        let table = table();
        assert_eq!(table.handle_for_index(0), Ok(0x100));
        assert_eq!(table.handle_for_index(6), Ok(0x106));
        assert_eq!(table.handle_for_index(7), Err(ErrorCode::BadArgument));
        assert_eq!(table.handle_for_index(-1), Err(ErrorCode::BadArgument));
        assert_eq!(table.handle_for_irq(8), Some(0x102));
        assert_eq!(table.handle_for_irq(4), None);
        assert!(Table::from_manifest("name x\n").is_err());
    }

    #[test]
    fn bad_stale_and_wrong_kind_handles_are_refused_like_the_wasm_host() {
        let table = table();
        assert_eq!(table.port(0, 0, 1), Err(ErrorCode::BadHandle));
        assert_eq!(table.port(-5, 0, 1), Err(ErrorCode::BadHandle));
        assert_eq!(table.port(0x200, 0, 1), Err(ErrorCode::BadHandle));
        assert_eq!(table.port(0x1ff, 0, 1), Err(ErrorCode::BadHandle));
        assert_eq!(table.port(0x102, 0, 1), Err(ErrorCode::Denied));
        assert_eq!(table.irq(0x100), Err(ErrorCode::Denied));
        assert_eq!(table.irq(0x102), Ok(8));
        assert_eq!(
            table
                .resolve(0x103, CapabilityKind::DmaPool)
                .map(|(slot, _)| slot),
            Err(ErrorCode::Denied)
        );
    }

    #[test]
    fn port_offsets_and_widths_stay_inside_the_range() {
        let table = table();
        assert_eq!(table.port(0x100, 0, 1), Ok(0x70));
        assert_eq!(table.port(0x100, 1, 1), Ok(0x71));
        assert_eq!(table.port(0x100, 0, 2), Ok(0x70));
        assert_eq!(table.port(0x100, 1, 2), Err(ErrorCode::Denied));
        assert_eq!(table.port(0x100, 0, 4), Err(ErrorCode::Denied));
        assert_eq!(table.port(0x100, 2, 1), Err(ErrorCode::Denied));
        assert_eq!(table.port(0x100, -1, 1), Err(ErrorCode::Denied));
    }

    #[test]
    fn the_last_port_is_reachable_and_nothing_past_it() {
        let table = Table::from_manifest("cella 1\nname t\nversion 1\nport 0 65536\n")
            .expect("valid manifest");
        assert_eq!(table.port(0x100, 0xffff, 1), Ok(0xffff));
        assert_eq!(table.port(0x100, 0xfffe, 2), Ok(0xfffe));
        assert_eq!(table.port(0x100, 0xffff, 2), Err(ErrorCode::Denied));
        assert_eq!(table.port(0x100, 0x1_0000, 1), Err(ErrorCode::Denied));
        assert_eq!(table.port(0x100, i32::MAX, 4), Err(ErrorCode::Denied));
    }

    #[test]
    fn mmio_checks_bounds_then_alignment_then_the_mapping() {
        let mut table = table();
        assert_eq!(table.mmio(0x101, 0, 4), Err(ErrorCode::DeviceError));
        if let Some(Entry::Mmio { address, .. }) = table.entry_mut(1) {
            *address = 0x6000_0000;
        }
        assert_eq!(table.mmio(0x101, 0x10, 4), Ok(0x6000_0010));
        assert_eq!(table.mmio(0x101, 0x18, 8), Ok(0x6000_0018));
        assert_eq!(table.mmio(0x101, 0x1c, 8), Err(ErrorCode::Denied));
        assert_eq!(table.mmio(0x101, 0x20, 1), Err(ErrorCode::Denied));
        assert_eq!(table.mmio(0x101, 2, 4), Err(ErrorCode::Misaligned));
        assert_eq!(table.mmio(0x101, -4, 4), Err(ErrorCode::Denied));
        assert_eq!(table.mmio(0x100, 0, 4), Err(ErrorCode::Denied));
    }

    #[test]
    fn timers_fire_earliest_first_and_disarm() {
        let mut table = table();
        assert_eq!(table.next_deadline(), None);
        assert_eq!(table.set_timer(0x104, Some(500)), Ok(()));
        assert_eq!(table.set_timer(0x105, Some(300)), Ok(()));
        assert_eq!(
            table.set_timer(0x105, Some(-1)),
            Err(ErrorCode::BadArgument)
        );
        assert_eq!(table.set_timer(0x100, Some(1)), Err(ErrorCode::Denied));
        assert_eq!(table.next_deadline(), Some(300));
        assert_eq!(table.take_due(299), None);
        assert_eq!(table.take_due(1000), Some(0x105));
        assert_eq!(table.take_due(1000), Some(0x104));
        assert_eq!(table.take_due(1000), None);
        assert_eq!(table.set_timer(0x104, Some(10)), Ok(()));
        assert_eq!(table.set_timer(0x104, None), Ok(()));
        assert_eq!(table.next_deadline(), None);
    }

    #[test]
    fn refusals_fault_one_past_the_limit_per_class() {
        let mut refusals = Refusals::default();
        assert_eq!(refusals.count(ErrorCode::Busy), None);
        for count in 1..=MAX_VIOLATIONS {
            let counted = refusals.count(ErrorCode::Denied).expect("counted");
            assert_eq!((counted.count, counted.fault), (count, false));
        }
        assert_eq!(
            refusals.count(ErrorCode::BadArgument).map(|c| c.fault),
            Some(false)
        );
        assert_eq!(
            refusals.count(ErrorCode::BadHandle).map(|c| c.fault),
            Some(true)
        );
    }

    #[test]
    fn lengths() {
        assert_eq!(length(0, 10), Ok(0));
        assert_eq!(length(10, 10), Ok(10));
        assert_eq!(length(11, 10), Err(ErrorCode::BadArgument));
        assert_eq!(length(-1, 10), Err(ErrorCode::BadArgument));
    }
}

#[cfg(test)]
mod runtime_tests {
    use super::*;

    #[test]
    fn capabilities_made_at_run_time_take_slots_after_the_manifest_and_are_freed() {
        let mut table =
            Table::from_manifest("cella 1\nname t\nversion 1\npci 0x1af4 0x1042\ndma 8192\n")
                .expect("valid manifest");
        let bar = Entry::Mmio {
            base: 0xfe00_0000,
            length: 0x4000,
            address: 0x6000_0000,
        };
        let handle = table.insert(bar).unwrap();
        assert_eq!(handle, 0x102, "the first slot after the two lines");
        assert_eq!(
            table.insert(bar),
            Ok(handle),
            "the same BAR twice: one slot"
        );
        assert_eq!(table.handle_for_index(2), Err(ErrorCode::BadArgument));
        let buffer = Entry::DmaBuffer {
            pool: 1,
            address: 0x5000_0000,
            device_address: 0x20_0000,
            size: 4096,
        };
        let first = table.insert_new(buffer).unwrap();
        let second = table.insert_new(buffer).unwrap();
        assert_ne!(first, second, "two buffers, two slots");
        assert_eq!(table.remove(1), None, "a manifest line stays");
        assert_eq!(table.remove(3), Some(buffer));
        assert_eq!(
            table.insert_new(buffer),
            Ok(first),
            "the freed slot is reused"
        );
        while table.insert_new(buffer).is_ok() {}
        assert_eq!(table.insert_new(buffer), Err(ErrorCode::Exhausted));
        assert_eq!(
            table
                .resolve(0x100, CapabilityKind::PciDevice)
                .map(|(_, entry)| entry),
            Ok(Entry::PciDevice)
        );
    }
}
