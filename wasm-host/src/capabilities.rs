//! The per-instance capability table: what this instance may touch, named
//! by handle.

use crate::handles::{Handle, SLOTS};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_abi::text::Size;
use cella_abi::{CapabilityKind, ErrorCode, PciAddress, Rights};
use cella_interfaces::pci::Function;
use cella_system::devices::PciFunction;

/// One capability held by an instance, resolved against the grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capability {
    /// Ports `base .. base + count`.
    PortRange {
        /// First port.
        base: u16,
        /// Number of ports.
        count: u32,
    },
    /// Physical MMIO bytes `base .. base + length`.
    MmioRegion {
        /// Physical base.
        base: u64,
        /// Length in bytes.
        length: u64,
    },
    /// An IRQ line and whether this instance unmasked it.
    IrqLine {
        /// Line number.
        line: u8,
        /// Unmasked by this instance (the line's state: the same in every
        /// capability naming the line).
        enabled: bool,
    },
    /// A kernel vector for one MSI-X table entry of the granted PCI
    /// function: the kernel programmed the entry, the holder masks, unmasks
    /// and acknowledges it as an IRQ line (`irq_enable`, `irq_ack`).
    MsixVector {
        /// The kernel's line for the vector.
        line: u8,
        /// The table entry.
        entry: u16,
        /// Unmasked by this instance.
        enabled: bool,
    },
    /// A DMA budget.
    DmaPool {
        /// Budget in bytes.
        budget: u64,
        /// Bytes currently allocated from it.
        used: u64,
    },
    /// A buffer allocated from a pool.
    DmaBuffer {
        /// Slot of the pool it came from.
        pool: usize,
        /// Device (physical) address.
        device_address: u64,
        /// Size in bytes.
        size: u64,
        /// The PCI function it was mapped for (the module's granted device).
        device: Option<PciAddress>,
        /// The call it is lent with (`ipc_call_lending`), until that call's
        /// answer arrives: it can be neither lent again nor freed meanwhile.
        lent_for: Option<u32>,
    },
    /// Another module's buffer, lent with request `request` (see
    /// [`crate::Loan`]): read (and written, if `writable`) like an own
    /// buffer, never freed; it goes when the request is answered.
    LentBuffer {
        /// The request it came with.
        request: u32,
        /// Device (physical) address.
        device_address: u64,
        /// Size in bytes.
        size: u64,
        /// Whether this instance (and its device) may write it.
        writable: bool,
        /// This instance's PCI function, which the loan mapped it for.
        device: Option<PciAddress>,
    },
    /// An endpoint, with what the holder may do on it: [`Rights::SEND`] for
    /// an endpoint its manifest requests (`endpoint NAME`),
    /// [`Rights::RECEIVE`] for one it serves.
    Endpoint {
        /// Endpoint id from the grant.
        id: u64,
        /// What the holder may do: send and call, or take the endpoint's
        /// messages and answer them.
        rights: Rights,
    },
    /// A one-shot timer.
    Timer {
        /// Armed deadline in nanoseconds.
        deadline: Option<u64>,
    },
    /// The PCI function the grant resolved to.
    PciDevice {
        /// Its address, windows and interrupt line.
        function: Box<PciFunction>,
    },
    /// The PCI functions the kernel found at boot, read-only.
    PciBus {
        /// The functions, in bus order.
        functions: Arc<[Function]>,
    },
}

/// How `caps` shows a held capability: `port 0x510 2`, `mmio 0xfebf1000
/// 4096`, `irq 4 (unmasked)`, `dma 64 KiB (12 KiB used)`, `endpoint 3
/// (send)` (the embedder names the endpoint instead of its id).
impl core::fmt::Display for Capability {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Capability::PortRange { base, count } => write!(formatter, "port {base:#x} {count}"),
            Capability::MmioRegion { base, length } => {
                write!(formatter, "mmio {base:#x} {length}")
            }
            Capability::IrqLine { line, enabled } => write!(
                formatter,
                "irq {line} ({})",
                if *enabled { "unmasked" } else { "masked" }
            ),
            Capability::MsixVector {
                line,
                entry,
                enabled,
            } => write!(
                formatter,
                "irq {line} msi-x entry {entry} ({})",
                if *enabled { "unmasked" } else { "masked" }
            ),
            Capability::DmaPool { budget, used } => {
                write!(formatter, "dma {} ({} used)", Size(*budget), Size(*used))
            }
            Capability::DmaBuffer {
                device_address,
                size,
                lent_for: None,
                ..
            } => write!(formatter, "dma buffer {device_address:#x} {}", Size(*size)),
            Capability::DmaBuffer {
                device_address,
                size,
                lent_for: Some(call),
                ..
            } => write!(
                formatter,
                "dma buffer {device_address:#x} {} (lent with call {call})",
                Size(*size)
            ),
            Capability::LentBuffer {
                request,
                device_address,
                size,
                writable,
                ..
            } => write!(
                formatter,
                "lent buffer {device_address:#x} {} ({}, for request {request})",
                Size(*size),
                if *writable { "read-write" } else { "read-only" }
            ),
            Capability::Endpoint { id, rights } => write!(formatter, "endpoint {id} ({rights})"),
            Capability::Timer { deadline: None } => formatter.write_str("timer (not armed)"),
            Capability::Timer {
                deadline: Some(deadline),
            } => write!(formatter, "timer (armed for {deadline} ns)"),
            Capability::PciDevice { function } => write!(
                formatter,
                "pci {:04x}:{:04x} at {}",
                function.vendor, function.device, function.address
            ),
            Capability::PciBus { functions } => {
                write!(
                    formatter,
                    "pci-bus ({} functions, read-only)",
                    functions.len()
                )
            }
        }
    }
}

impl Capability {
    /// The capability's kind.
    pub fn kind(&self) -> CapabilityKind {
        match self {
            Capability::PortRange { .. } => CapabilityKind::PortRange,
            Capability::MmioRegion { .. } => CapabilityKind::MmioRegion,
            Capability::IrqLine { .. } | Capability::MsixVector { .. } => CapabilityKind::IrqLine,
            Capability::DmaPool { .. } => CapabilityKind::DmaPool,
            Capability::DmaBuffer { .. } | Capability::LentBuffer { .. } => {
                CapabilityKind::DmaBuffer
            }
            Capability::Endpoint { .. } => CapabilityKind::Endpoint,
            Capability::Timer { .. } => CapabilityKind::Timer,
            Capability::PciDevice { .. } => CapabilityKind::PciDevice,
            Capability::PciBus { .. } => CapabilityKind::PciBus,
        }
    }
}

/// Most endpoints one module serves: its serve capabilities and its requests
/// ([`cella_abi::MAX_CAPABILITY_REQUESTS`]) leave half the table
/// ([`SLOTS`]) for DMA buffers, BARs, interrupts and lent buffers.
pub const MAX_SERVED_ENDPOINTS: usize = 64;

/// The table: slots `0 .. requested` hold the manifest's capabilities in
/// order (the handles `cap_handle` gives), later slots what the instance
/// gets while it runs (DMA buffers, BARs, interrupt vectors, lent buffers).
/// The endpoints the module serves (with [`Rights::RECEIVE`]) take the top
/// slots, counting down: the first in slot `SLOTS - 1`, the next in
/// `SLOTS - 2`. So no handle's number depends on what the module serves.
#[derive(Clone, Debug)]
pub struct CapabilityTable {
    generation: u32,
    /// Earlier generations of this module (restarts, swaps), newest last.
    predecessors: Box<[u32]>,
    requested: usize,
    /// The requests, then what the instance got while running.
    slots: Vec<Option<Capability>>,
    /// The served endpoints: `served[k]` is in slot `SLOTS - 1 - k`. They
    /// never change while the instance lives.
    served: Box<[Capability]>,
}

/// How many earlier generations a table remembers to tell "stale" from "bad".
const REMEMBERED_GENERATIONS: usize = 16;

impl CapabilityTable {
    /// A table for `generation` holding the `requested` capabilities from
    /// slot 0 up and the `served` endpoints from the top slot down (at most
    /// [`MAX_SERVED_ENDPOINTS`] are kept; the loader refuses more).
    pub fn new(
        generation: u32,
        predecessors: Vec<u32>,
        requested: Vec<Capability>,
        mut served: Vec<Capability>,
    ) -> Self {
        served.truncate(MAX_SERVED_ENDPOINTS);
        CapabilityTable {
            generation,
            predecessors: predecessors.into_boxed_slice(),
            requested: requested.len(),
            slots: requested.into_iter().map(Some).collect(),
            served: served.into_boxed_slice(),
        }
    }

    /// The index in `served` of the endpoint in `slot`, if it holds one.
    #[cold]
    fn served_index(&self, slot: usize) -> Option<usize> {
        let index = SLOTS.checked_sub(slot.checked_add(1)?)?;
        (index < self.served.len()).then_some(index)
    }

    /// Slots below the served endpoints: the most `slots` may grow to.
    fn lower_slots(&self) -> usize {
        SLOTS - self.served.len()
    }

    /// This instance's generation.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Generations to hand to the next instance of the same module.
    pub fn lineage(&self) -> Vec<u32> {
        let mut lineage = self.predecessors.to_vec();
        lineage.push(self.generation);
        let excess = lineage.len().saturating_sub(REMEMBERED_GENERATIONS);
        lineage.drain(..excess);
        lineage
    }

    /// The handle of manifest capability `index`.
    ///
    /// # Errors
    /// [`ErrorCode::BadArgument`] if the manifest has no such capability.
    pub fn handle_for_index(&self, index: i32) -> Result<i32, ErrorCode> {
        let index = usize::try_from(index).map_err(|_| ErrorCode::BadArgument)?;
        if index >= self.requested {
            return Err(ErrorCode::BadArgument);
        }
        Ok(Handle::encode(self.generation, index))
    }

    /// The handle of the slot holding an IRQ capability (a line or an
    /// MSI-X vector) for `line`.
    pub fn handle_for_irq(&self, line: u8) -> Option<i32> {
        self.slots
            .iter()
            .position(|slot| {
                matches!(slot, Some(Capability::IrqLine { line: held, .. } | Capability::MsixVector { line: held, .. }) if *held == line)
            })
            .map(|slot| Handle::encode(self.generation, slot))
    }

    /// The handle of the MSI-X vector this instance holds for `entry`.
    pub fn handle_for_msix_entry(&self, entry: u16) -> Option<i32> {
        self.slots
            .iter()
            .position(|slot| {
                matches!(slot, Some(Capability::MsixVector { entry: held, .. }) if *held == entry)
            })
            .map(|slot| Handle::encode(self.generation, slot))
    }

    /// The handle of a slot holding a capability equal to `capability`.
    pub fn handle_of(&self, capability: &Capability) -> Option<i32> {
        self.slots
            .iter()
            .position(|slot| slot.as_ref() == Some(capability))
            .or_else(|| {
                self.served
                    .iter()
                    .position(|served| served == capability)
                    .map(|index| SLOTS - 1 - index)
            })
            .map(|slot| Handle::encode(self.generation, slot))
    }

    /// Resolves a guest handle to its slot, checking generation and kind.
    ///
    /// # Errors
    /// [`ErrorCode::BadHandle`] (no such handle), [`ErrorCode::StaleHandle`]
    /// (an earlier instance's handle), [`ErrorCode::Denied`] (wrong kind).
    #[inline]
    pub fn resolve(&self, handle: i32, kind: CapabilityKind) -> Result<usize, ErrorCode> {
        self.find(handle, kind).map(|(slot, _)| slot)
    }

    /// Like [`CapabilityTable::resolve`], with the capability itself.
    ///
    /// # Errors
    /// As [`CapabilityTable::resolve`].
    #[inline]
    pub fn find(
        &self,
        handle: i32,
        kind: CapabilityKind,
    ) -> Result<(usize, &Capability), ErrorCode> {
        let decoded = Handle::decode(handle).ok_or(ErrorCode::BadHandle)?;
        if decoded.generation != self.generation {
            return Err(if self.predecessors.contains(&decoded.generation) {
                ErrorCode::StaleHandle
            } else {
                ErrorCode::BadHandle
            });
        }
        match self.get(decoded.slot) {
            Some(capability) if capability.kind() == kind => Ok((decoded.slot, capability)),
            Some(_) => Err(ErrorCode::Denied),
            None => Err(ErrorCode::BadHandle),
        }
    }

    /// The capability in `slot` (as returned by [`CapabilityTable::resolve`]).
    #[inline]
    pub fn get(&self, slot: usize) -> Option<&Capability> {
        // The lower slots first: every host call but a send or call names
        // one, and they never reach the served endpoints' slots.
        match self.slots.get(slot) {
            Some(capability) => capability.as_ref(),
            None => self.served.get(self.served_index(slot)?),
        }
    }

    /// The capability in `slot`, mutably.
    pub fn get_mut(&mut self, slot: usize) -> Option<&mut Capability> {
        if slot < self.slots.len() {
            return self.slots[slot].as_mut();
        }
        let index = self.served_index(slot)?;
        self.served.get_mut(index)
    }

    /// Stores a new capability (a DMA buffer, a PCI BAR or interrupt line);
    /// returns its handle.
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] when all slots are taken.
    pub fn insert(&mut self, capability: Capability) -> Result<i32, ErrorCode> {
        let free = self
            .slots
            .iter()
            .skip(self.requested)
            .position(Option::is_none);
        let slot = match free {
            Some(offset) => self.requested + offset,
            None if self.slots.len() < self.lower_slots() => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => return Err(ErrorCode::Exhausted),
        };
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = Some(capability);
        }
        Ok(Handle::encode(self.generation, slot))
    }

    /// The handle of the buffer lent with request `request`.
    pub fn handle_of_loan(&self, request: u32) -> Option<i32> {
        self.slots
            .iter()
            .position(|slot| {
                matches!(slot, Some(Capability::LentBuffer { request: lent, .. }) if *lent == request)
            })
            .map(|slot| Handle::encode(self.generation, slot))
    }

    /// Takes out the buffer lent with request `request`, if this table
    /// holds it.
    pub fn take_loan(&mut self, request: u32) -> Option<Capability> {
        let slot = self.slots.iter().position(|slot| {
            matches!(slot, Some(Capability::LentBuffer { request: lent, .. }) if *lent == request)
        })?;
        self.remove(slot)
    }

    /// Marks every buffer lent with call `call` as back (its answer came).
    pub fn end_lending(&mut self, call: u32) {
        for capability in self.iter_mut() {
            if let Capability::DmaBuffer { lent_for, .. } = capability
                && *lent_for == Some(call)
            {
                *lent_for = None;
            }
        }
    }

    /// Removes the (DMA buffer) capability in `slot`; a request or a
    /// served endpoint stays.
    pub fn remove(&mut self, slot: usize) -> Option<Capability> {
        if slot < self.requested || self.served_index(slot).is_some() {
            return None;
        }
        self.slots.get_mut(slot).and_then(Option::take)
    }

    /// Every held capability: the requests, what the instance got while
    /// running, then the served endpoints.
    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.slots.iter().flatten().chain(&self.served)
    }

    /// Every held capability, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Capability> {
        self.slots
            .iter_mut()
            .flatten()
            .chain(self.served.iter_mut())
    }

    /// The address of the PCI function this instance was granted (the first,
    /// if several): the device its DMA buffers are mapped for.
    pub fn pci_function(&self) -> Option<PciAddress> {
        self.iter().find_map(|capability| match capability {
            Capability::PciDevice { function } => Some(function.address),
            _ => None,
        })
    }

    /// DMA bytes allocated from all pools together.
    pub fn dma_used(&self) -> u64 {
        self.iter()
            .map(|capability| match capability {
                Capability::DmaPool { used, .. } => *used,
                _ => 0,
            })
            .fold(0, u64::saturating_add)
    }

    /// Takes every capability out (the instance is dying).
    pub fn clear(&mut self) -> Vec<Capability> {
        let mut taken: Vec<Capability> = self.slots.drain(..).flatten().collect();
        taken.extend(core::mem::take(&mut self.served).into_vec());
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// The requests keep the handles `cap_handle` gives in manifest order,
    /// and what the instance gets later follows them; the served endpoints
    /// take the top slots and are never replaced.
    #[test]
    fn served_endpoints_take_the_top_slots_and_stay_there() {
        let requested = alloc::vec![
            Capability::Endpoint {
                id: 7,
                rights: Rights::SEND,
            },
            Capability::Timer { deadline: None },
        ];
        let served = alloc::vec![
            Capability::Endpoint {
                id: 9,
                rights: Rights::RECEIVE,
            },
            Capability::Endpoint {
                id: 11,
                rights: Rights::RECEIVE,
            },
        ];
        let mut table = CapabilityTable::new(5, Vec::new(), requested, served);
        assert_eq!(table.handle_for_index(0), Ok(Handle::encode(5, 0)));
        assert_eq!(table.handle_for_index(1), Ok(Handle::encode(5, 1)));
        // `cap_handle` names the requests only.
        assert_eq!(table.handle_for_index(2), Err(ErrorCode::BadArgument));
        for (slot, id) in [(SLOTS - 1, 9), (SLOTS - 2, 11)] {
            let handle = Handle::encode(5, slot);
            assert_eq!(table.resolve(handle, CapabilityKind::Endpoint), Ok(slot));
            assert_eq!(
                table.get(slot),
                Some(&Capability::Endpoint {
                    id,
                    rights: Rights::RECEIVE
                })
            );
            assert_eq!(
                table.resolve(handle, CapabilityKind::Timer),
                Err(ErrorCode::Denied)
            );
            assert_eq!(table.remove(slot), None, "a served endpoint stays");
        }
        // The slot after the requests and the one below the served
        // endpoints hold nothing.
        for slot in [2, SLOTS - 3] {
            assert_eq!(
                table.resolve(Handle::encode(5, slot), CapabilityKind::Endpoint),
                Err(ErrorCode::BadHandle)
            );
        }
        // What the instance gets follows the requests, up to the served
        // endpoints and no further.
        let pool = Capability::DmaPool { budget: 1, used: 0 };
        assert_eq!(table.insert(pool.clone()), Ok(Handle::encode(5, 2)));
        for _ in 3..SLOTS - 2 {
            table
                .insert(pool.clone())
                .expect("room below the served endpoints");
        }
        assert_eq!(table.insert(pool), Err(ErrorCode::Exhausted));
        assert_eq!(table.iter().count(), SLOTS);
        assert_eq!(
            table.handle_of(&Capability::Endpoint {
                id: 9,
                rights: Rights::RECEIVE
            }),
            Some(Handle::encode(5, SLOTS - 1))
        );
    }

    /// `caps` prints what a person reads: hex addresses, decimal counts and
    /// sizes in exact units, never a Debug dump.
    #[test]
    fn held_capabilities_read_as_plain_text() {
        let cases = [
            (
                Capability::PortRange {
                    base: 0x510,
                    count: 2,
                },
                "port 0x510 2",
            ),
            (
                Capability::MmioRegion {
                    base: 0xfebf_1000,
                    length: 4096,
                },
                "mmio 0xfebf1000 4096",
            ),
            (
                Capability::IrqLine {
                    line: 4,
                    enabled: false,
                },
                "irq 4 (masked)",
            ),
            (
                Capability::MsixVector {
                    line: 16,
                    entry: 0,
                    enabled: true,
                },
                "irq 16 msi-x entry 0 (unmasked)",
            ),
            (
                Capability::DmaPool {
                    budget: 64 * 1024,
                    used: 12 * 1024,
                },
                "dma 64 KiB (12 KiB used)",
            ),
            (
                Capability::LentBuffer {
                    request: 9,
                    device_address: 0x20_0000,
                    size: 64 * 1024,
                    writable: false,
                    device: None,
                },
                "lent buffer 0x200000 64 KiB (read-only, for request 9)",
            ),
            (
                Capability::Endpoint {
                    id: 3,
                    rights: Rights::SEND,
                },
                "endpoint 3 (send)",
            ),
            (
                Capability::Endpoint {
                    id: 4,
                    rights: Rights::RECEIVE,
                },
                "endpoint 4 (receive)",
            ),
            (Capability::Timer { deadline: None }, "timer (not armed)"),
        ];
        for (capability, text) in cases {
            assert_eq!(capability.to_string(), text);
        }
    }
}
