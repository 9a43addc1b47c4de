//! The PCI bus as the kernel knows it: walked once at boot, before any
//! module starts, and kept. The kernel walks it (not a module) because it
//! must know every function to grant one by identity: the system
//! manifest's `device` grants are resolved against this list
//! ([`resolve_grants`]), a driver's configuration accesses go to its own
//! function only, and the `pci` module publishes the list read-only.
#![forbid(unsafe_code)]

pub mod msix;
pub mod vectors;
mod walk;

pub use msix::Msix;
pub use walk::{ConfigAccess, walk};

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_interfaces::pci::{BarKind, Function};
use cella_system::devices::{Bar, PciFunction};
use cella_system::system_manifest::SystemManifest;
use cella_wasm_host::abi::PciAddress;
use spin::Once;

/// What the walk at boot found.
static FOUND: Once<Arc<[Function]>> = Once::new();
/// The MSI-X capability of each function that has one, found at boot.
static MSIX: Once<Vec<(PciAddress, Msix)>> = Once::new();

/// Walks the bus through configuration mechanism #1 and keeps the result
/// (the first call only), with each function's MSI-X capability; returns
/// how many functions it found.
#[cfg(target_os = "none")]
pub fn init() -> usize {
    let found = FOUND.call_once(|| Arc::from(walk(&mut Mechanism1)));
    MSIX.call_once(|| find_msix(&mut Mechanism1, found));
    found.len()
}

/// The MSI-X capability of every function of `functions` (an ordinary
/// function, header type 0) that has one.
pub fn find_msix(
    config: &mut impl ConfigAccess,
    functions: &[Function],
) -> Vec<(PciAddress, Msix)> {
    functions
        .iter()
        .filter(|function| function.header_type == 0)
        .filter_map(|function| {
            let at = address_of(function);
            msix::find(config, at).map(|found| (at, found))
        })
        .collect()
}

/// The function at `address` and its MSI-X capability, if it has one.
pub fn msix_of(address: PciAddress) -> Option<(Function, Msix)> {
    let (_, found) = *MSIX.get()?.iter().find(|(at, _)| *at == address)?;
    let function = *FOUND
        .get()?
        .iter()
        .find(|function| address_of(function) == address)?;
    Some((function, found))
}

/// The address `bus:device.function`, if the numbers make one.
pub fn address(bus: u8, device: u8, function: u8) -> Option<PciAddress> {
    PciAddress::new(bus, device, function)
}

fn address_of(function: &Function) -> PciAddress {
    PciAddress {
        bus: function.bus,
        device: function.device,
        function: function.function,
    }
}

/// The functions found at boot, in walk order (empty before [`init`]).
pub fn found() -> Arc<[Function]> {
    FOUND.get().cloned().unwrap_or_else(|| Arc::from([]))
}

/// Configuration space through the kernel's mechanism #1.
#[cfg(target_os = "none")]
pub struct Mechanism1;

#[cfg(target_os = "none")]
impl ConfigAccess for Mechanism1 {
    fn read(&mut self, address: PciAddress, offset: u8, width: u32) -> u32 {
        crate::arch::pci_config::read(address, offset, width)
    }

    fn write(&mut self, address: PciAddress, offset: u8, width: u32, value: u32) {
        crate::arch::pci_config::write(address, offset, width, value);
    }
}

/// The function at `address` as a grant sees it: its memory and I/O
/// windows and its legacy interrupt line (none when the firmware routed
/// none: line 0, 0xff or past the 16 lines of the interrupt controllers).
/// With MSI-X (`msix`, as found at boot), the pages of its table and
/// pending-bit array are the kernel's: see [`granted_function`].
pub fn grant_function(
    functions: &[Function],
    msix: &[(PciAddress, Msix)],
    address: PciAddress,
) -> Option<PciFunction> {
    let found = functions
        .iter()
        .find(|function| address_of(function) == address)?;
    Some(as_grant(found, msix))
}

/// Every function of `functions` as a grant sees it (see [`grant_function`]).
pub fn grant_functions(functions: &[Function], msix: &[(PciAddress, Msix)]) -> Vec<PciFunction> {
    functions
        .iter()
        .map(|function| as_grant(function, msix))
        .collect()
}

/// The MSI-X capabilities found at boot (empty before [`init`]).
pub fn found_msix() -> &'static [(PciAddress, Msix)] {
    MSIX.get().map_or(&[], Vec::as_slice)
}

/// `function` as its holder sees it: a memory BAR that holds the MSI-X
/// table or pending-bit array ends where the first page holding either
/// begins (the kernel programs the table, no driver writes it), and is not
/// there at all when that is its first page. A native process's `pci`
/// record is this view too.
pub fn granted_function(function: &Function, msix: &[(PciAddress, Msix)]) -> Function {
    let mut view = *function;
    let at = address_of(function);
    let Some((_, found)) = msix.iter().find(|(held, _)| *held == at) else {
        return view;
    };
    for (index, bar) in view.bars.iter_mut().enumerate() {
        if !matches!(bar.kind, BarKind::Memory32 | BarKind::Memory64) {
            continue;
        }
        match found.first_kept_offset(index as u8) {
            Some(0) => *bar = cella_interfaces::pci::Bar::default(),
            Some(kept) => bar.size = bar.size.min(kept),
            None => {}
        }
    }
    view
}

fn as_grant(function: &Function, msix: &[(PciAddress, Msix)]) -> PciFunction {
    let view = granted_function(function, msix);
    let function = &view;
    let bars = function.bars.map(|bar| match bar.kind {
        BarKind::Unused => None,
        BarKind::Io => Some(Bar::Io {
            base: bar.address as u16,
            count: bar.size as u32,
        }),
        BarKind::Memory32 | BarKind::Memory64 => Some(Bar::Memory {
            base: bar.address,
            length: bar.size,
        }),
    });
    let at = address_of(function);
    PciFunction {
        address: PciAddress {
            bus: function.bus,
            device: function.device,
            function: function.function,
        },
        vendor: function.vendor_id,
        device: function.device_id,
        class: u32::from(function.class) << 16
            | u32::from(function.subclass) << 8
            | u32::from(function.interface),
        bars,
        irq: (1..16)
            .contains(&function.irq_line)
            .then_some(function.irq_line),
        msix_capability: msix
            .iter()
            .find(|(held, _)| *held == at)
            .map(|(_, found)| found.capability),
    }
}

/// Resolves the `device` grants of every module and process of `manifest` against
/// `functions` (see `cella_system::devices::resolve`). A grant that no
/// function matches keeps no address: the module it belongs to is refused
/// at load with that grant named. Returns one line per problem.
pub fn resolve_grants(
    manifest: &mut SystemManifest,
    functions: &[Function],
    msix: &[(PciAddress, Msix)],
) -> Vec<String> {
    let granted = grant_functions(functions, msix);
    let holders = manifest
        .modules
        .iter_mut()
        .chain(manifest.processes.iter_mut());
    match cella_system::devices::resolve(holders, &granted) {
        Ok(()) => Vec::new(),
        Err(problems) => problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cella_interfaces::pci;
    use cella_system::system_manifest::GrantLine;

    fn disk(irq_line: u8) -> Function {
        let mut function = Function {
            device: 3,
            vendor_id: 0x1af4,
            device_id: 0x1042,
            class: 1,
            irq_line,
            ..Function::default()
        };
        function.bars[1] = pci::Bar {
            kind: BarKind::Memory32,
            address: 0xfebd_1000,
            size: 0x1000,
            prefetchable: false,
        };
        function.bars[4] = pci::Bar {
            kind: BarKind::Memory64,
            address: 0xfe00_0000,
            size: 0x4000,
            prefetchable: true,
        };
        function
    }

    #[test]
    fn a_found_function_grants_its_windows_and_a_real_interrupt_line() {
        let at = PciAddress::new(0, 3, 0).unwrap();
        let granted = grant_function(&[disk(11)], &[], at).unwrap();
        assert_eq!(granted.vendor, 0x1af4);
        assert_eq!(granted.class, 0x01_00_00);
        assert_eq!(
            granted.bars[4],
            Some(Bar::Memory {
                base: 0xfe00_0000,
                length: 0x4000
            })
        );
        assert_eq!(granted.bars[0], None);
        assert_eq!(granted.irq, Some(11));
        for none in [0, 0xff, 16] {
            assert_eq!(grant_function(&[disk(none)], &[], at).unwrap().irq, None);
        }
        assert_eq!(
            grant_function(&[disk(11)], &[], PciAddress::new(0, 4, 0).unwrap()),
            None
        );
    }

    /// QEMU's virtio-blk-pci MSI-X: table at BAR 1 offset 0, PBA at 0x800.
    fn disk_msix() -> Msix {
        Msix {
            capability: 0x98,
            table_size: 2,
            table_bar: 1,
            table_offset: 0,
            pba_bar: 1,
            pba_offset: 0x800,
        }
    }

    #[test]
    fn a_grant_leaves_out_the_pages_of_the_msix_table_and_names_the_capability() {
        let at = PciAddress::new(0, 3, 0).unwrap();
        let msix = [(at, disk_msix())];
        let granted = grant_function(&[disk(11)], &msix, at).unwrap();
        assert_eq!(granted.bars[1], None, "the table's own BAR is not granted");
        assert_eq!(
            granted.bars[4],
            Some(Bar::Memory {
                base: 0xfe00_0000,
                length: 0x4000
            })
        );
        assert_eq!(granted.msix_capability, Some(0x98));
        assert_eq!(granted.irq, Some(11), "INTx stays the fallback");
        // Its grant lines hold no byte of the table's page.
        let lines = granted.grant_lines();
        assert!(!lines.iter().any(|line| matches!(
            line,
            GrantLine::Mmio { base, .. } if *base == 0xfebd_1000
        )));
        // A table sharing a BAR with registers: the BAR ends at its page.
        let shared = [(
            at,
            Msix {
                table_bar: 4,
                table_offset: 0x3010,
                pba_bar: 4,
                pba_offset: 0x3800,
                ..disk_msix()
            },
        )];
        let granted = grant_function(&[disk(11)], &shared, at).unwrap();
        assert_eq!(
            granted.bars[4],
            Some(Bar::Memory {
                base: 0xfe00_0000,
                length: 0x3000
            })
        );
        assert_eq!(
            granted.bars[1],
            Some(Bar::Memory {
                base: 0xfebd_1000,
                length: 0x1000
            })
        );
        // Another function's MSI-X changes nothing here.
        let elsewhere = [(PciAddress::new(0, 4, 0).unwrap(), disk_msix())];
        let granted = grant_function(&[disk(11)], &elsewhere, at).unwrap();
        assert_eq!(granted.msix_capability, None);
        assert!(granted.bars[1].is_some());
    }

    #[test]
    fn grants_resolve_against_what_the_walk_found() {
        let text = "cella-system 1\nmodule blk blk.wasm\ngrant device 0x1af4 0x1042\nmodule net net.wasm\ngrant device 0x1af4 0x1041\n";
        let mut manifest = SystemManifest::read(text).unwrap();
        let problems = resolve_grants(&mut manifest, &[disk(11)], &[]);
        assert_eq!(
            problems,
            ["net: no free PCI function matches its grant `device 0x1af4 0x1041`"]
        );
        assert!(manifest.modules[0].grants.contains(&GrantLine::Irq {
            line: 11,
            shared: true
        }));
        assert_eq!(
            manifest.modules[1].grants,
            [GrantLine::Device {
                vendor: 0x1af4,
                device: 0x1041,
                slot: None
            }]
        );
    }
}
