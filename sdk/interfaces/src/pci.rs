//! `pci`: the PCI functions found at boot, served by the `pci` driver.

use core::fmt;

crate::wire_enum! {
    /// What a base address register decodes.
    #[derive(Default)]
    pub enum BarKind {
        /// Not implemented, or the upper half of a 64-bit BAR.
        #[default]
        Unused = 0 => "unused",
        /// I/O ports.
        Io = 1 => "io",
        /// Memory below 4 GiB.
        Memory32 = 2 => "mem32",
        /// Memory anywhere (this BAR and the next hold the address).
        Memory64 = 3 => "mem64",
    }
}

crate::wire_record! {
    /// One base address register, as sized at boot.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Bar {
        pub kind: BarKind,
        /// The first port or physical address.
        pub address: u64,
        /// How many ports or bytes it decodes.
        pub size: u64,
        /// Memory that may be read ahead (memory BARs only).
        pub prefetchable: bool,
    }
}

impl fmt::Display for Bar {
    /// `io 0xc000 size 0x40`, `mem32 0xfebc0000 size 0x20000 prefetchable`,
    /// or `unused`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == BarKind::Unused {
            return out.write_str("unused");
        }
        write!(
            out,
            "{} {:#x} size {:#x}",
            self.kind, self.address, self.size
        )?;
        if self.prefetchable {
            out.write_str(" prefetchable")?;
        }
        Ok(())
    }
}

crate::wire_record! {
    /// One PCI function: where it is, what it is, and its resources.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Function {
        pub bus: u8,
        pub device: u8,
        pub function: u8,
        pub vendor_id: u16,
        pub device_id: u16,
        pub class: u8,
        pub subclass: u8,
        pub interface: u8,
        pub header_type: u8,
        /// The legacy interrupt line firmware assigned (0 if none).
        pub irq_line: u8,
        pub bars: [Bar; 6],
    }
}

impl fmt::Display for Function {
    /// `BB:DD.F VVVV:DDDD class CC.SS.PP header H irq N` and each BAR in
    /// use as ` barI=KIND ADDRESS size SIZE`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{:02x}:{:02x}.{} {:04x}:{:04x} class {:02x}.{:02x}.{:02x} header {} irq {}",
            self.bus,
            self.device,
            self.function,
            self.vendor_id,
            self.device_id,
            self.class,
            self.subclass,
            self.interface,
            self.header_type,
            self.irq_line
        )?;
        for (index, bar) in self.bars.iter().enumerate() {
            if bar.kind != BarKind::Unused {
                write!(out, " bar{index}={bar}")?;
            }
        }
        Ok(())
    }
}

crate::wire_enum! {
    /// Why a function was not answered.
    pub enum PciError {
        /// No function has that index, or those ids.
        NoSuchFunction = 1 => "no such function",
    }
}

crate::interface! {
    endpoint "pci";
    /// How many functions enumeration found.
    idempotent fn count() -> u32;
    /// The function at `index` (0 up to `count`), in the order found.
    idempotent fn function(index: u32) -> Result<Function, PciError>;
    /// The first function with these vendor and device ids.
    idempotent fn find(vendor_id: u16, device_id: u16) -> Result<Function, PciError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WireError;

    struct Bus(&'static [Function]);

    impl Server for Bus {
        fn count(&mut self) -> u32 {
            self.0.len() as u32
        }

        fn function(&mut self, index: u32) -> Result<Function, PciError> {
            self.0
                .get(index as usize)
                .copied()
                .ok_or(PciError::NoSuchFunction)
        }

        fn find(&mut self, vendor_id: u16, device_id: u16) -> Result<Function, PciError> {
            self.0
                .iter()
                .find(|function| function.vendor_id == vendor_id && function.device_id == device_id)
                .copied()
                .ok_or(PciError::NoSuchFunction)
        }
    }

    const UNUSED: Bar = Bar {
        kind: BarKind::Unused,
        address: 0,
        size: 0,
        prefetchable: false,
    };

    const NETWORK: Function = Function {
        bus: 0,
        device: 3,
        function: 0,
        vendor_id: 0x8086,
        device_id: 0x100e,
        class: 2,
        subclass: 0,
        interface: 0,
        header_type: 0,
        irq_line: 11,
        bars: [
            Bar {
                kind: BarKind::Memory32,
                address: 0xfebc_0000,
                size: 0x2_0000,
                prefetchable: false,
            },
            Bar {
                kind: BarKind::Io,
                address: 0xc000,
                size: 0x40,
                prefetchable: false,
            },
            UNUSED,
            UNUSED,
            UNUSED,
            UNUSED,
        ],
    };

    fn call(line: &str) -> Result<crate::Text, WireError> {
        let mut request = [0; 64];
        let length = request_from_text(line, &mut request)?;
        let mut reply = [0; 256];
        let answered = serve(&mut Bus(&[NETWORK]), &request[..length], &mut reply)?;
        let mut text = crate::Text::default();
        render_reply(&request[..length], &reply[..answered], &mut text)?;
        Ok(text)
    }

    #[test]
    fn a_function_travels_typed_and_reads_as_the_boot_log_line() {
        let mut request = [0; 16];
        let length = find::request(&mut request, 0x8086, 0x100e).unwrap();
        assert_eq!(&request[..5], b"find\0");
        let mut reply = [0; 256];
        let answered = serve(&mut Bus(&[NETWORK]), &request[..length], &mut reply).unwrap();
        assert_eq!(find::reply(&reply[..answered]), Ok(Ok(NETWORK)));
        assert_eq!(
            call("function 0").unwrap().as_str(),
            "00:03.0 8086:100e class 02.00.00 header 0 irq 11 bar0=mem32 0xfebc0000 size 0x20000 bar1=io 0xc000 size 0x40"
        );
        assert_eq!(call("count").unwrap().as_str(), "1");
        assert_eq!(
            call("find 0x8086 0x100e").unwrap().as_str(),
            call("function 0").unwrap().as_str()
        );
        assert_eq!(
            call("function 1").unwrap().as_str(),
            "error: no such function"
        );
    }

    #[test]
    fn typed_lines_that_are_not_calls_are_refused() {
        assert_eq!(call("list").err(), Some(WireError::UnknownOperation));
        assert_eq!(call("function").err(), Some(WireError::BadArgument));
        assert_eq!(call("function zero").err(), Some(WireError::BadArgument));
        assert_eq!(call("function 0 1").err(), Some(WireError::BadArgument));
        assert_eq!(call("find 0x8086").err(), Some(WireError::BadArgument));
        assert_eq!(
            call("function 4294967296").err(),
            Some(WireError::BadArgument)
        );
    }

    #[test]
    fn a_cut_or_padded_request_is_refused() {
        let mut reply = [0; 256];
        let mut bus = Bus(&[NETWORK]);
        assert_eq!(
            serve(&mut bus, b"function\0\x01\0", &mut reply),
            Err(WireError::Truncated)
        );
        assert_eq!(
            serve(&mut bus, b"function\0\0\0\0\0\0", &mut reply),
            Err(WireError::TrailingBytes)
        );
        assert_eq!(
            serve(&mut bus, b"function", &mut reply),
            Err(WireError::Truncated)
        );
    }
}
