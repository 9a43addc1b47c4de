//! The PCI bus as the kernel knows it: walked once at boot, before any
//! module starts, and kept. The kernel walks it (not a module) because it
//! must know every function to grant one by identity: the system
//! manifest's `device` grants are resolved against this list
//! ([`resolve_grants`]), a driver's configuration accesses go to its own
//! function only, and the `pci` module publishes the list read-only.
#![forbid(unsafe_code)]

mod walk;

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

/// Walks the bus through configuration mechanism #1 and keeps the result
/// (the first call only); returns how many functions it found.
#[cfg(target_os = "none")]
pub fn init() -> usize {
    FOUND.call_once(|| Arc::from(walk(&mut Mechanism1))).len()
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
pub fn grant_function(functions: &[Function], address: PciAddress) -> Option<PciFunction> {
    let found = functions.iter().find(|function| {
        (function.bus, function.device, function.function)
            == (address.bus, address.device, address.function)
    })?;
    Some(as_grant(found))
}

/// Every function of `functions` as a grant sees it (see [`grant_function`]).
pub fn grant_functions(functions: &[Function]) -> Vec<PciFunction> {
    functions.iter().map(as_grant).collect()
}

fn as_grant(function: &Function) -> PciFunction {
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
    }
}

/// Resolves the `device` grants of every module and process of `manifest` against
/// `functions` (see `cella_system::devices::resolve`). A grant that no
/// function matches keeps no address: the module it belongs to is refused
/// at load with that grant named. Returns one line per problem.
pub fn resolve_grants(manifest: &mut SystemManifest, functions: &[Function]) -> Vec<String> {
    let granted = grant_functions(functions);
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
        let granted = grant_function(&[disk(11)], at).unwrap();
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
            assert_eq!(grant_function(&[disk(none)], at).unwrap().irq, None);
        }
        assert_eq!(
            grant_function(&[disk(11)], PciAddress::new(0, 4, 0).unwrap()),
            None
        );
    }

    #[test]
    fn grants_resolve_against_what_the_walk_found() {
        let text = "cella-system 1\nmodule blk blk.wasm\ngrant device 0x1af4 0x1042\nmodule net net.wasm\ngrant device 0x1af4 0x1041\n";
        let mut manifest = SystemManifest::read(text).unwrap();
        let problems = resolve_grants(&mut manifest, &[disk(11)]);
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
