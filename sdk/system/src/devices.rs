//! PCI device grants and their resolution: the functions the kernel found on
//! the bus, and how a plan's `device` lines become the windows and the
//! interrupt line of one function.
//!
//! A module is granted a PCI function by identity (`grant device 0x1af4
//! 0x1042`, optionally `at 00:03.0`), never by address: the addresses are
//! the firmware's choice and differ from machine to machine. At boot the
//! kernel enumerates the bus into [`PciFunction`]s and [`resolve`]s every
//! plan against them, in manifest order: each `device` line takes the first
//! function that matches and that no earlier line took, its `slot` becomes
//! that function's address, and the function's memory BARs, I/O BARs and
//! interrupt line are added to the plan as `mmio`, `port` and `irq` lines.
//! The usual checks ([`crate::validate::validate`]) then run on the result,
//! so a BAR that overlaps another grant is refused like any other overlap,
//! and `caps` shows the resolved lines.

use crate::system_manifest::{GrantLine, ModulePlan};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_abi::PciAddress;

/// One base address register, as the firmware programmed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bar {
    /// A memory window: physical `base .. base + length`.
    Memory { base: u64, length: u64 },
    /// An I/O window: ports `base .. base + count`.
    Io { base: u16, count: u32 },
}

/// A PCI function found on the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciFunction {
    pub address: PciAddress,
    pub vendor: u16,
    pub device: u16,
    /// Class, subclass and programming interface (`0x010000`: SCSI storage).
    pub class: u32,
    /// BAR 0-5; a 64-bit memory BAR occupies two slots, the second `None`.
    pub bars: [Option<Bar>; 6],
    /// The legacy interrupt line the firmware routed INTx to (0-15), if any.
    pub irq: Option<u8>,
    /// Where its MSI-X capability lies in configuration space, if it has
    /// one: the kernel's alone (it programs the table and turns MSI-X on and
    /// off), so a holder's configuration writes there are refused.
    pub msix_capability: Option<u8>,
}

impl PciFunction {
    /// A function with these ids and no windows or interrupt, at `slot`
    /// (else 00:00.0): what a check that cannot see the machine (the tool's
    /// build-time check of a module's requests, a fuzzer's grant) puts where
    /// the kernel would put the function it found.
    pub fn unresolved(vendor: u16, device: u16, slot: Option<PciAddress>) -> PciFunction {
        PciFunction {
            address: slot.unwrap_or(PciAddress {
                bus: 0,
                device: 0,
                function: 0,
            }),
            vendor,
            device,
            class: 0,
            bars: [None; 6],
            irq: None,
            msix_capability: None,
        }
    }

    /// Whether the grant line `vendor device [at slot]` names this function.
    pub fn matches(&self, vendor: u16, device: u16, slot: Option<PciAddress>) -> bool {
        self.vendor == vendor && self.device == device && slot.is_none_or(|at| at == self.address)
    }

    /// The plan lines this function's windows and interrupt give its holder.
    /// The interrupt line is shared: PCI INTx lines are level-triggered and
    /// shared by design.
    pub fn grant_lines(&self) -> Vec<GrantLine> {
        let mut lines = Vec::new();
        for bar in self.bars.iter().flatten() {
            lines.push(match *bar {
                Bar::Memory { base, length } => GrantLine::Mmio {
                    base,
                    length,
                    shared: false,
                },
                Bar::Io { base, count } => GrantLine::Port {
                    base,
                    count,
                    shared: false,
                },
            });
        }
        if let Some(line) = self.irq {
            lines.push(GrantLine::Irq { line, shared: true });
        }
        lines
    }
}

/// Resolves the `device` lines of every plan in `plans` against
/// `functions`, in order (see the module docs). Plans whose lines are
/// already resolved (their `slot` set) keep their function.
///
/// # Errors
/// One line per `device` grant that no free function matches, naming the
/// holder and the grant.
pub fn resolve<'a>(
    plans: impl IntoIterator<Item = &'a mut ModulePlan>,
    functions: &[PciFunction],
) -> Result<(), Vec<String>> {
    let mut taken: Vec<PciAddress> = Vec::new();
    let mut problems = Vec::new();
    for plan in plans {
        let mut added = Vec::new();
        for grant in &mut plan.grants {
            let GrantLine::Device {
                vendor,
                device,
                slot,
            } = grant
            else {
                continue;
            };
            let found = functions.iter().find(|function| {
                function.matches(*vendor, *device, *slot) && !taken.contains(&function.address)
            });
            match found {
                Some(function) => {
                    taken.push(function.address);
                    if slot.is_none() {
                        *slot = Some(function.address);
                        added.extend(function.grant_lines());
                    }
                }
                None => problems.push(format!(
                    "{}: no free PCI function matches its grant `{}`",
                    plan.name,
                    GrantLine::Device {
                        vendor: *vendor,
                        device: *device,
                        slot: *slot,
                    }
                    .compiled()
                )),
            }
        }
        plan.grants.extend(added);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(slot: u8, irq: Option<u8>) -> PciFunction {
        let mut bars = [None; 6];
        bars[1] = Some(Bar::Memory {
            base: 0xfebd_0000 + u64::from(slot) * 0x1000,
            length: 0x1000,
        });
        bars[4] = Some(Bar::Memory {
            base: 0xfe00_0000 + u64::from(slot) * 0x4000,
            length: 0x4000,
        });
        PciFunction {
            address: PciAddress::new(0, slot, 0).unwrap(),
            vendor: 0x1af4,
            device: 0x1042,
            class: 0x010000,
            bars,
            irq,
            msix_capability: None,
        }
    }

    fn plan(name: &str, grants: Vec<GrantLine>) -> ModulePlan {
        ModulePlan {
            name: name.into(),
            grants,
            ..ModulePlan::default()
        }
    }

    fn device(slot: Option<PciAddress>) -> GrantLine {
        GrantLine::Device {
            vendor: 0x1af4,
            device: 0x1042,
            slot,
        }
    }

    #[test]
    fn a_device_grant_becomes_the_functions_windows_and_interrupt() {
        let mut plans = [plan(
            "blk",
            alloc::vec![device(None), GrantLine::Dma { bytes: 4096 }],
        )];
        resolve(&mut plans, &[disk(3, Some(11))]).unwrap();
        assert_eq!(
            plans[0].grants,
            [
                device(PciAddress::new(0, 3, 0)),
                GrantLine::Dma { bytes: 4096 },
                GrantLine::Mmio {
                    base: 0xfebd_3000,
                    length: 0x1000,
                    shared: false
                },
                GrantLine::Mmio {
                    base: 0xfe00_c000,
                    length: 0x4000,
                    shared: false
                },
                GrantLine::Irq {
                    line: 11,
                    shared: true
                },
            ]
        );
        let once = plans[0].grants.clone();
        resolve(&mut plans, &[disk(3, Some(11))]).unwrap();
        assert_eq!(plans[0].grants, once, "resolving twice adds nothing");
    }

    #[test]
    fn each_function_goes_to_one_grant_and_a_slot_picks_it() {
        let functions = [disk(3, Some(11)), disk(4, None)];
        let mut plans = [
            plan("second", alloc::vec![device(PciAddress::new(0, 4, 0))]),
            plan("first", alloc::vec![device(None)]),
            plan("third", alloc::vec![device(None)]),
        ];
        let problems = resolve(&mut plans, &functions).unwrap_err();
        assert_eq!(
            plans[0].grants[0],
            device(PciAddress::new(0, 4, 0)),
            "the slot named"
        );
        assert!(
            !plans[0]
                .grants
                .iter()
                .any(|g| matches!(g, GrantLine::Irq { .. })),
            "a function without a line gives none"
        );
        assert_eq!(plans[1].grants[0], device(PciAddress::new(0, 3, 0)));
        assert_eq!(
            problems,
            ["third: no free PCI function matches its grant `device 0x1af4 0x1042`"]
        );
    }

    #[test]
    fn a_grant_for_another_device_or_slot_is_refused_by_name() {
        let mut plans = [
            plan(
                "net",
                alloc::vec![GrantLine::Device {
                    vendor: 0x1af4,
                    device: 0x1041,
                    slot: None
                }],
            ),
            plan("blk", alloc::vec![device(PciAddress::new(0, 5, 0))]),
        ];
        assert_eq!(
            resolve(&mut plans, &[disk(3, Some(11))]),
            Err(alloc::vec![
                String::from("net: no free PCI function matches its grant `device 0x1af4 0x1041`"),
                String::from(
                    "blk: no free PCI function matches its grant `device 0x1af4 0x1042 at 00:05.0`"
                ),
            ])
        );
        assert_eq!(plans[0].grants.len(), 1, "nothing added to a refused plan");
    }
}
