//! PCI functions as the ABI names them: an address on the bus, and what a
//! driver's grant may read and write of the function's configuration space.

use core::fmt;

/// Configuration space a driver reaches (the part config mechanism #1 and
/// its emulation cover): offsets below this.
pub const CONFIG_SPACE_BYTES: u32 = 256;

/// Where a function sits: bus, device (slot) and function number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddress {
    /// Bus, 0-255.
    pub bus: u8,
    /// Device (slot) on the bus, 0-31.
    pub device: u8,
    /// Function of the device, 0-7.
    pub function: u8,
}

impl PciAddress {
    /// The address with these numbers, if `device` < 32 and `function` < 8.
    pub const fn new(bus: u8, device: u8, function: u8) -> Option<PciAddress> {
        if device < 32 && function < 8 {
            Some(PciAddress {
                bus,
                device,
                function,
            })
        } else {
            None
        }
    }

    /// The 16-bit form `bus << 8 | device << 3 | function` (the argument of
    /// `pci_bus_read`, and the requester id the IOMMU reports).
    pub const fn packed(self) -> u16 {
        (self.bus as u16) << 8 | (self.device as u16) << 3 | self.function as u16
    }

    /// The address of the 16-bit form [`PciAddress::packed`].
    pub const fn from_packed(packed: u16) -> PciAddress {
        PciAddress {
            bus: (packed >> 8) as u8,
            device: ((packed >> 3) & 0x1f) as u8,
            function: (packed & 0x7) as u8,
        }
    }

    /// Reads `BB:DD.F` in hexadecimal (`00:03.0`), as `lspci` writes it.
    pub fn parse(text: &str) -> Option<PciAddress> {
        let (bus, rest) = text.split_once(':')?;
        let (device, function) = rest.split_once('.')?;
        let number = |digits: &str, most: usize| {
            (!digits.is_empty() && digits.len() <= most)
                .then(|| u8::from_str_radix(digits, 16).ok())
                .flatten()
        };
        PciAddress::new(number(bus, 2)?, number(device, 2)?, number(function, 1)?)
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{:02x}:{:02x}.{:x}",
            self.bus, self.device, self.function
        )
    }
}

/// Bytes of an MSI-X capability in configuration space: its header,
/// message control, table and pending-bit array locations.
pub const MSIX_CAPABILITY_BYTES: u32 = 12;

/// Whether a write of `width` bytes at `offset` touches the MSI-X
/// capability at `capability`: the kernel's alone (it programs the table
/// and turns MSI-X on and off), so a driver's write there is refused.
pub const fn write_touches_msix(capability: u8, offset: u32, width: u32) -> bool {
    let start = capability as u32;
    offset < start + MSIX_CAPABILITY_BYTES && start < offset + width
}

/// Whether a driver may write `width` bytes at `offset` of its own
/// function's configuration space: inside the space, aligned to the width,
/// and touching no BAR (0x10..0x28) and not the ROM address (0x30..0x34),
/// the registers that would move the function's windows in the physical
/// address space.
pub const fn config_write_allowed(offset: u32, width: u32) -> bool {
    if !config_access_valid(offset, width) {
        return false;
    }
    let end = offset + width;
    let touches_bars = offset < 0x28 && end > 0x10;
    let touches_rom = offset < 0x34 && end > 0x30;
    !touches_bars && !touches_rom
}

/// Whether a read or write of `width` bytes at `offset` is one a function's
/// configuration space answers: width 1, 2 or 4, aligned to it, inside
/// [`CONFIG_SPACE_BYTES`].
pub const fn config_access_valid(offset: u32, width: u32) -> bool {
    matches!(width, 1 | 2 | 4) && offset.is_multiple_of(width) && offset < CONFIG_SPACE_BYTES
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn addresses_read_and_write_as_lspci_does_and_pack_as_requester_ids() {
        let address = PciAddress::new(0, 3, 0).unwrap();
        assert_eq!(address.to_string(), "00:03.0");
        assert_eq!(PciAddress::parse("00:03.0"), Some(address));
        assert_eq!(PciAddress::parse("1f:1f.7").unwrap().packed(), 0x1fff);
        assert_eq!(PciAddress::from_packed(0x1fff).to_string(), "1f:1f.7");
        assert_eq!(PciAddress::from_packed(address.packed()), address);
        for bad in [
            "", "00:20.0", "00:03.8", "100:00.0", "00-03.0", "00:03", "0g:00.0",
        ] {
            assert_eq!(PciAddress::parse(bad), None, "{bad}");
        }
        assert_eq!(PciAddress::new(0, 32, 0), None);
    }

    #[test]
    fn writes_touching_the_msix_capability_are_recognised() {
        assert!(write_touches_msix(0x98, 0x9a, 2), "message control");
        assert!(write_touches_msix(0x98, 0x98, 4));
        assert!(
            write_touches_msix(0x98, 0xa0, 4),
            "the pending-bit array's place"
        );
        assert!(!write_touches_msix(0x98, 0x94, 4), "the capability before");
        assert!(!write_touches_msix(0x98, 0xa4, 4), "the capability after");
        assert!(!write_touches_msix(0x98, 0x04, 2), "the command register");
    }

    #[test]
    fn writes_to_bars_and_the_rom_address_are_refused() {
        assert!(config_write_allowed(0x04, 2), "the command register");
        assert!(config_write_allowed(0x3c, 1), "the interrupt line");
        assert!(config_write_allowed(0x40, 4), "capabilities");
        assert!(config_write_allowed(0x0c, 4), "up to the first BAR");
        for offset in (0x10..0x28).step_by(4) {
            assert!(!config_write_allowed(offset, 4), "{offset:#x}");
        }
        assert!(!config_write_allowed(0x27, 1));
        assert!(config_write_allowed(0x28, 4), "cardbus CIS, past the BARs");
        assert!(!config_write_allowed(0x30, 4));
        assert!(!config_write_allowed(0x32, 2));
        assert!(config_write_allowed(0x34, 1));
        assert!(!config_write_allowed(0x05, 2), "misaligned");
        assert!(!config_write_allowed(0x100, 4), "past the space");
        assert!(!config_write_allowed(0x40, 3), "no 3-byte access");
        assert!(config_access_valid(0x10, 4) && !config_access_valid(0xfe, 4));
    }
}
