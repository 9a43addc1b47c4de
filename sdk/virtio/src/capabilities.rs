//! The capability list of a virtio PCI function (virtio 1.x, 4.1.4): the
//! vendor-specific capabilities that say in which BAR, at which offset and
//! how long each of the transport's structures is.

use crate::error::Error;
use crate::platform::ConfigSpace;
use core::fmt;

/// The status register; bit 4 says a capability list exists.
const STATUS: u8 = 0x06;
const STATUS_CAPABILITY_LIST: u16 = 1 << 4;
/// The pointer to the first capability.
const CAPABILITIES_POINTER: u8 = 0x34;
/// A vendor-specific capability, which virtio uses for all of its own.
const VENDOR_SPECIFIC: u8 = 0x09;
/// The first byte after the standard header; no capability starts before.
const FIRST_CAPABILITY: u8 = 0x40;
/// The last offset a `virtio_pci_cap` (16 bytes) may start at.
const LAST_CAPABILITY: u8 = 0xf0;
/// More capabilities than fit in the space means the list loops.
const MOST_CAPABILITIES: usize = 48;
/// `struct virtio_pci_cap`'s size; the notify capability adds 4 bytes.
const CAPABILITY_BYTES: u8 = 16;
const NOTIFY_CAPABILITY_BYTES: u8 = 20;

/// One of the structures the transport reaches through a BAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structure {
    /// The common configuration (`cfg_type` 1).
    Common,
    /// Where queues are notified (`cfg_type` 2).
    Notify,
    /// The interrupt status byte (`cfg_type` 3).
    Isr,
    /// The device-specific configuration (`cfg_type` 4).
    Device,
}

impl Structure {
    fn from_type(config_type: u8) -> Option<Structure> {
        match config_type {
            1 => Some(Structure::Common),
            2 => Some(Structure::Notify),
            3 => Some(Structure::Isr),
            4 => Some(Structure::Device),
            _ => None,
        }
    }

    /// The least length the transport accepts for the structure.
    pub(crate) fn least_length(self) -> u32 {
        match self {
            Structure::Common => 0x38,
            Structure::Notify => 2,
            Structure::Isr => 1,
            Structure::Device => 0,
        }
    }
}

impl fmt::Display for Structure {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(match self {
            Structure::Common => "common configuration",
            Structure::Notify => "notify structure",
            Structure::Isr => "interrupt status",
            Structure::Device => "device configuration",
        })
    }
}

/// Where one structure is: a BAR, and a range inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// The BAR's index (0 to 5).
    pub bar: u8,
    /// The structure's first byte, from the BAR's base.
    pub offset: u32,
    /// Its length in bytes.
    pub length: u32,
}

/// Every structure the transport uses, as the capability list gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The common configuration.
    pub common: Region,
    /// The notify structure.
    pub notify: Region,
    /// A queue's notify address is `queue_notify_off` times this, from the
    /// notify structure's start.
    pub notify_multiplier: u32,
    /// The interrupt status byte.
    pub isr: Region,
    /// The device-specific configuration, if the device has one.
    pub device: Option<Region>,
}

/// Walks the capability list and finds each structure (the first
/// capability of each kind with a BAR in 0 to 5, as the specification
/// asks).
///
/// # Errors
/// [`Error::NoCapabilityList`], [`Error::BadCapabilityList`],
/// [`Error::MissingStructure`], [`Error::StructureTooSmall`], or a refused
/// configuration read.
pub fn find_layout<C: ConfigSpace>(config: &C) -> Result<Layout, Error> {
    if config.read16(STATUS)? & STATUS_CAPABILITY_LIST == 0 {
        return Err(Error::NoCapabilityList);
    }
    let mut found: [Option<Region>; 4] = [None; 4];
    let mut notify_multiplier = None;
    let mut at = config.read8(CAPABILITIES_POINTER)? & !3;
    let mut visited = 0;
    while at != 0 {
        visited += 1;
        if visited > MOST_CAPABILITIES || at < FIRST_CAPABILITY {
            return Err(Error::BadCapabilityList { at });
        }
        let id = config.read8(at)?;
        let next = config.read8(at + 1)? & !3;
        if id == VENDOR_SPECIFIC {
            if at > LAST_CAPABILITY {
                return Err(Error::BadCapabilityList { at });
            }
            let length = config.read8(at + 2)?;
            if length < CAPABILITY_BYTES {
                return Err(Error::BadCapabilityList { at });
            }
            let bar = config.read8(at + 4)?;
            let structure = Structure::from_type(config.read8(at + 3)?);
            if let Some(structure) = structure.filter(|_| bar <= 5) {
                let slot = &mut found[structure as usize];
                if slot.is_none() {
                    let region = Region {
                        bar,
                        offset: config.read32(at + 8)?,
                        length: config.read32(at + 12)?,
                    };
                    if structure == Structure::Notify {
                        if length < NOTIFY_CAPABILITY_BYTES || at > LAST_CAPABILITY - 4 {
                            return Err(Error::BadCapabilityList { at });
                        }
                        notify_multiplier = Some(config.read32(at + 16)?);
                    }
                    *slot = Some(region);
                }
            }
        }
        at = next;
    }
    let [common, notify, isr, device] = found;
    let layout = Layout {
        common: common.ok_or(Error::MissingStructure(Structure::Common))?,
        notify: notify.ok_or(Error::MissingStructure(Structure::Notify))?,
        notify_multiplier: notify_multiplier.unwrap_or(0),
        isr: isr.ok_or(Error::MissingStructure(Structure::Isr))?,
        device,
    };
    let regions = [
        (Structure::Common, Some(layout.common)),
        (Structure::Notify, Some(layout.notify)),
        (Structure::Isr, Some(layout.isr)),
        (Structure::Device, layout.device),
    ];
    for (structure, region) in regions {
        if let Some(region) = region {
            let fits = region.offset.checked_add(region.length).is_some()
                && region.length >= structure.least_length();
            if !fits {
                return Err(Error::StructureTooSmall(structure));
            }
        }
    }
    Ok(layout)
}
