//! The PCI keys of a `[[module]]` table: `devices` (functions granted by
//! identity), `pci-bus` (read-only configuration space of every function)
//! and `dma-unconfined` (DMA allowed without an IOMMU).

use super::integer;
use cella_system::system_manifest::GrantLine;
use cella_wasm_host::abi::PciAddress;
use toml::Value;

/// One `devices` entry: a PCI function by vendor and device id, optionally
/// only the one at `slot`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceGrant {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// `slot = "BB:DD.F"`: only the function at this address.
    pub slot: Option<PciAddress>,
}

impl DeviceGrant {
    /// The grant line, as in `system.manifest`.
    pub fn line(&self) -> GrantLine {
        GrantLine::Device {
            vendor: self.vendor,
            device: self.device,
            slot: self.slot,
        }
    }
}

/// Reads `devices = [{ vendor = 0x1af4, device = 0x1042, slot = "00:03.0" }]`;
/// problems go to `say`.
pub fn parse_devices(value: &Value, say: &mut impl FnMut(String)) -> Vec<DeviceGrant> {
    let Some(items) = value.as_array() else {
        say("`devices` must be an array of { vendor, device } tables".into());
        return Vec::new();
    };
    let mut devices = Vec::new();
    for (position, item) in items.iter().enumerate() {
        let Some(table) = item.as_table() else {
            say(format!(
                "devices[{position}]: expected {{ vendor = ID, device = ID }}, found {item}"
            ));
            continue;
        };
        for key in table.keys() {
            if !matches!(key.as_str(), "vendor" | "device" | "slot") {
                say(format!(
                    "devices[{position}]: unknown key `{key}` (expected vendor, device, slot)"
                ));
            }
        }
        let id = |key: &str| {
            let found = table.get(key);
            let id = found
                .and_then(integer)
                .and_then(|id| u16::try_from(id).ok());
            (id, found)
        };
        let (vendor, vendor_written) = id("vendor");
        let (device, device_written) = id("device");
        let slot = match table.get("slot") {
            None => Ok(None),
            Some(Value::String(text)) => PciAddress::parse(text).map(Some).ok_or(text.clone()),
            Some(other) => Err(other.to_string()),
        };
        match (vendor, device, slot) {
            (Some(vendor), Some(device), Ok(slot)) => devices.push(DeviceGrant {
                vendor,
                device,
                slot,
            }),
            (_, _, Err(slot)) => say(format!(
                "devices[{position}]: `slot` must be a PCI address \"BUS:DEVICE.FUNCTION\" such as \"00:03.0\", found {slot}"
            )),
            _ => say(format!(
                "devices[{position}]: `vendor` and `device` must be ids 0-0xffff, found vendor {} and device {}",
                vendor_written.map_or("(none)".into(), Value::to_string),
                device_written.map_or("(none)".into(), Value::to_string),
            )),
        }
    }
    devices
}

/// Reads a `true`/`false` key; problems go to `say`.
pub fn parse_flag(key: &str, value: &Value, say: &mut impl FnMut(String)) -> bool {
    match value.as_bool() {
        Some(flag) => flag,
        None => {
            say(format!("`{key}` must be true or false, found {value}"));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<DeviceGrant>, Vec<String>) {
        let value: toml::Table = toml::from_str(text).unwrap();
        let mut problems = Vec::new();
        let devices = parse_devices(&value["devices"], &mut |problem| problems.push(problem));
        (devices, problems)
    }

    #[test]
    fn devices_are_read_by_ids_and_an_optional_slot() {
        let (devices, problems) = parse(
            "devices = [{ vendor = 0x1af4, device = 0x1042 }, { vendor = 0x1234, device = 0x11e8, slot = \"00:04.0\" }]",
        );
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            devices
                .iter()
                .map(|d| d.line().compiled())
                .collect::<Vec<_>>(),
            ["device 0x1af4 0x1042", "device 0x1234 0x11e8 at 00:04.0"]
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let (devices, problems) = parse(
            "devices = [{ vendor = 0x1af4 }, { vendor = 0x1af4, device = 0x10000 }, { vendor = 1, device = 2, slot = \"3\" }, { vendor = 1, device = 2, sloth = 1 }, 7]",
        );
        assert_eq!(devices.len(), 1, "only the entry with a misspelt extra key");
        assert_eq!(
            problems,
            [
                "devices[0]: `vendor` and `device` must be ids 0-0xffff, found vendor 6900 and device (none)",
                "devices[1]: `vendor` and `device` must be ids 0-0xffff, found vendor 6900 and device 65536",
                "devices[2]: `slot` must be a PCI address \"BUS:DEVICE.FUNCTION\" such as \"00:03.0\", found 3",
                "devices[3]: unknown key `sloth` (expected vendor, device, slot)",
                "devices[4]: expected { vendor = ID, device = ID }, found 7",
            ]
        );
    }
}
