//! One entry of a sandbox's trace: a device access, a message or a refused
//! call, and the device access a refused call attempted.
//!
//! Each entry reads as one line of plain text (its `Display`):
//! `read port 0x511 1 -> 0x51`, `write mmio 0xfebf1000+0x14 4 <- 0x1`,
//! `refused write port 0x80 1 (port_out8): denied`. Numbers a device sees
//! are hex; widths (in bytes) and counts are decimal.

use crate::platform::Width;
use cella_abi::{ErrorCode, HostFunction, PciAddress};

/// One device access or refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A port read and the value seen.
    PortRead {
        /// Port.
        port: u16,
        /// Width.
        width: Width,
        /// Value read.
        value: u32,
    },
    /// A port write.
    PortWrite {
        /// Port.
        port: u16,
        /// Width.
        width: Width,
        /// Value written.
        value: u32,
    },
    /// Bytes read from one 8-bit port into linear memory (`port_in8_n`).
    PortReadBytes {
        /// Port.
        port: u16,
        /// Bytes read.
        count: u32,
    },
    /// Bytes written from linear memory to one 8-bit port (`port_out8_n`).
    PortWriteBytes {
        /// Port.
        port: u16,
        /// Bytes written.
        count: u32,
    },
    /// An MMIO read and the value seen.
    MmioRead {
        /// Base address of the granted window.
        region: u64,
        /// Offset in the window.
        offset: u64,
        /// Width.
        width: Width,
        /// Value read.
        value: u64,
    },
    /// An MMIO write.
    MmioWrite {
        /// Base address of the granted window.
        region: u64,
        /// Offset in the window.
        offset: u64,
        /// Width.
        width: Width,
        /// Value written.
        value: u64,
    },
    /// An IRQ line masked or unmasked.
    IrqSetEnabled {
        /// Line.
        line: u8,
        /// Unmasked?
        enabled: bool,
    },
    /// An IRQ acknowledged.
    IrqAcknowledge {
        /// Line.
        line: u8,
    },
    /// A DMA buffer allocated.
    DmaAllocate {
        /// Device address.
        device_address: u64,
        /// Size.
        size: u64,
    },
    /// A DMA buffer freed.
    DmaFree {
        /// Device address.
        device_address: u64,
    },
    /// Bytes copied between linear memory and a DMA buffer.
    DmaCopy {
        /// Device address of the first byte.
        device_address: u64,
        /// Bytes copied.
        length: u32,
        /// True for linear memory to buffer.
        to_device: bool,
    },
    /// A read of a PCI function's configuration space.
    PciConfigRead {
        /// The function.
        address: PciAddress,
        /// Offset in its configuration space.
        offset: u8,
        /// Width.
        width: Width,
        /// Value read.
        value: u32,
    },
    /// A write of a PCI function's configuration space.
    PciConfigWrite {
        /// The function.
        address: PciAddress,
        /// Offset in its configuration space.
        offset: u8,
        /// Width.
        width: Width,
        /// Value written.
        value: u32,
    },
    /// A message handed to the outbox.
    Send {
        /// Endpoint id.
        endpoint: u64,
        /// Length.
        length: u32,
    },
    /// A request or message taken by the handler (`on_message`).
    Received {
        /// Request id (0: a message that expects no reply).
        request: u32,
        /// Length.
        length: u32,
        /// The operation it names, if it is a typed interface's request.
        operation: OperationName,
    },
    /// A call handed to the outbox (`ipc_call`, `ipc_call_lending`).
    Call {
        /// Endpoint id.
        endpoint: u64,
        /// The call's id.
        call: u32,
        /// Length of the request.
        length: u32,
        /// The operation it names, if it is a typed interface's request.
        operation: OperationName,
    },
    /// The handler waits for the answer to a call (`ipc_wait`).
    Wait {
        /// The call's id.
        call: u32,
    },
    /// A reply handed to the outbox.
    Reply {
        /// Request.
        request: u32,
        /// Length.
        length: u32,
    },
    /// A host call the host refused.
    Refused {
        /// Which call.
        function: HostFunction,
        /// The code returned.
        error: ErrorCode,
        /// The device access it attempted (port and MMIO calls), if any.
        attempt: Option<Attempt>,
    },
}

/// The operation a typed interface's request names: its bytes up to the
/// first zero byte (`read` of `read\0...`), when they are 3 to 16 bytes of
/// lower-case letters, digits and `_` (as every interface's operations
/// are); else nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OperationName {
    bytes: [u8; 16],
    length: u8,
}

impl OperationName {
    /// The operation `message` names, if any.
    pub fn of(message: &[u8]) -> OperationName {
        let name = message.split(|&byte| byte == 0).next().unwrap_or_default();
        let word = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'_';
        let mut operation = OperationName::default();
        if (3..=operation.bytes.len()).contains(&name.len()) && name.iter().all(word) {
            operation.bytes[..name.len()].copy_from_slice(name);
            operation.length = name.len() as u8;
        }
        operation
    }

    /// The name (empty if the bytes named none).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..usize::from(self.length)]).unwrap_or_default()
    }
}

/// A device access a module attempted, named as far as the host could
/// resolve it before refusing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// A write (else a read).
    pub write: bool,
    /// Where.
    pub place: Place,
    /// Width of each access.
    pub width: Width,
    /// Accesses asked for (more than 1 for the bulk port calls).
    pub count: u32,
}

/// Where an attempted device access went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A port (the range's base plus the offset asked for: it may lie
    /// outside the range, or beyond the port space).
    Port(u64),
    /// An MMIO window's base and the offset asked for.
    Mmio {
        /// Base address of the granted window.
        region: u64,
        /// Offset asked for.
        offset: u64,
    },
    /// A handle that named no capability of the right kind, and the offset
    /// asked for.
    Unresolved {
        /// MMIO (else port I/O).
        mmio: bool,
        /// The handle passed.
        handle: i32,
        /// The offset passed.
        offset: u32,
    },
}

impl Access {
    /// The physical address of an MMIO access (`None` for other kinds).
    pub fn mmio_address(&self) -> Option<u64> {
        match self {
            Access::MmioRead { region, offset, .. } | Access::MmioWrite { region, offset, .. } => {
                Some(region.wrapping_add(*offset))
            }
            _ => None,
        }
    }
}

impl core::fmt::Display for Access {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.write_named(formatter, &|endpoint, out| write!(out, "{endpoint}"))
    }
}

/// Writes an endpoint id as a person reads it (its number, or its name).
pub type EndpointWriter<'a> = &'a dyn Fn(u64, &mut core::fmt::Formatter<'_>) -> core::fmt::Result;

/// An [`Access`] written with endpoint names (see [`Access::with_endpoint_names`]).
pub struct NamedAccess<'a> {
    access: &'a Access,
    name: &'a dyn Fn(u64) -> &'a str,
}

impl core::fmt::Display for NamedAccess<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.access.write_named(formatter, &|endpoint, out| {
            out.write_str((self.name)(endpoint))
        })
    }
}

impl Access {
    /// The entry as its `Display` writes it, with each endpoint id turned into its name by
    /// `name`.
    pub fn with_endpoint_names<'a>(&'a self, name: &'a dyn Fn(u64) -> &'a str) -> NamedAccess<'a> {
        NamedAccess { access: self, name }
    }

    fn write_named(
        &self,
        formatter: &mut core::fmt::Formatter<'_>,
        endpoint_text: EndpointWriter<'_>,
    ) -> core::fmt::Result {
        match self {
            Access::PortRead { port, width, value } => {
                write!(
                    formatter,
                    "read port {port:#x} {} -> {value:#x}",
                    width.bytes()
                )
            }
            Access::PortWrite { port, width, value } => {
                write!(
                    formatter,
                    "write port {port:#x} {} <- {value:#x}",
                    width.bytes()
                )
            }
            Access::PortReadBytes { port, count } => {
                write!(formatter, "read port {port:#x} 1 x {count}")
            }
            Access::PortWriteBytes { port, count } => {
                write!(formatter, "write port {port:#x} 1 x {count}")
            }
            Access::MmioRead {
                region,
                offset,
                width,
                value,
            } => write!(
                formatter,
                "read mmio {region:#x}+{offset:#x} {} -> {value:#x}",
                width.bytes()
            ),
            Access::MmioWrite {
                region,
                offset,
                width,
                value,
            } => write!(
                formatter,
                "write mmio {region:#x}+{offset:#x} {} <- {value:#x}",
                width.bytes()
            ),
            Access::IrqSetEnabled { line, enabled } => write!(
                formatter,
                "{} irq {line}",
                if *enabled { "unmask" } else { "mask" }
            ),
            Access::IrqAcknowledge { line } => write!(formatter, "acknowledge irq {line}"),
            Access::DmaAllocate {
                device_address,
                size,
            } => write!(formatter, "allocate dma {device_address:#x} {size}"),
            Access::DmaFree { device_address } => write!(formatter, "free dma {device_address:#x}"),
            Access::DmaCopy {
                device_address,
                length,
                to_device,
            } => write!(
                formatter,
                "{} dma {device_address:#x} {length}",
                if *to_device { "write" } else { "read" }
            ),
            Access::PciConfigRead {
                address,
                offset,
                width,
                value,
            } => write!(
                formatter,
                "read pci {address}+{offset:#x} {} -> {value:#x}",
                width.bytes()
            ),
            Access::PciConfigWrite {
                address,
                offset,
                width,
                value,
            } => write!(
                formatter,
                "write pci {address}+{offset:#x} {} <- {value:#x}",
                width.bytes()
            ),
            Access::Send { endpoint, length } => {
                write!(formatter, "send {length} bytes to endpoint ")?;
                endpoint_text(*endpoint, formatter)
            }
            Access::Reply { request, length } => {
                write!(formatter, "reply {length} bytes to request {request}")
            }
            Access::Received {
                request,
                length,
                operation,
            } => {
                match request {
                    0 => write!(formatter, "took a message of {length} bytes")?,
                    request => write!(formatter, "took request {request} of {length} bytes")?,
                }
                match operation.as_str() {
                    "" => Ok(()),
                    name => write!(formatter, ": `{name}`"),
                }
            }
            Access::Call {
                endpoint,
                call,
                length,
                operation,
            } => {
                write!(formatter, "call {call:#x}: {length} bytes to endpoint ")?;
                endpoint_text(*endpoint, formatter)?;
                match operation.as_str() {
                    "" => Ok(()),
                    name => write!(formatter, ": `{name}`"),
                }
            }
            Access::Wait { call } => write!(formatter, "wait for the answer to call {call:#x}"),
            Access::Refused {
                function,
                error,
                attempt: Some(attempt),
            } => write!(
                formatter,
                "refused {attempt} ({function}): {}",
                error.name()
            ),
            Access::Refused {
                function,
                error,
                attempt: None,
            } => write!(formatter, "refused {function}: {}", error.name()),
        }
    }
}

impl core::fmt::Display for Attempt {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let direction = if self.write { "write" } else { "read" };
        write!(
            formatter,
            "{direction} {} {}",
            self.place,
            self.width.bytes()
        )?;
        if self.count != 1 {
            write!(formatter, " x {}", self.count)?;
        }
        Ok(())
    }
}

impl core::fmt::Display for Place {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Place::Port(port) => write!(formatter, "port {port:#x}"),
            Place::Mmio { region, offset } => write!(formatter, "mmio {region:#x}+{offset:#x}"),
            Place::Unresolved {
                mmio,
                handle,
                offset,
            } => write!(
                formatter,
                "{} offset {offset:#x} of handle {handle}",
                if *mmio { "mmio" } else { "port" }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// Every kind of entry reads as one plain line, never a Debug dump.
    #[test]
    fn every_entry_reads_as_plain_text() {
        let refused_write = Attempt {
            write: true,
            place: Place::Port(0x80),
            width: Width::Byte,
            count: 1,
        };
        let cases = [
            (
                Access::PortRead {
                    port: 0x511,
                    width: Width::Byte,
                    value: 0x51,
                },
                "read port 0x511 1 -> 0x51",
            ),
            (
                Access::PortWrite {
                    port: 0x510,
                    width: Width::Word,
                    value: 0x1,
                },
                "write port 0x510 2 <- 0x1",
            ),
            (
                Access::PortReadBytes {
                    port: 0x511,
                    count: 16,
                },
                "read port 0x511 1 x 16",
            ),
            (
                Access::PortWriteBytes {
                    port: 0x511,
                    count: 3,
                },
                "write port 0x511 1 x 3",
            ),
            (
                Access::MmioRead {
                    region: 0xfebf_1000,
                    offset: 0x14,
                    width: Width::Dword,
                    value: 0x1,
                },
                "read mmio 0xfebf1000+0x14 4 -> 0x1",
            ),
            (
                Access::MmioWrite {
                    region: 0xfebf_1000,
                    offset: 0x14,
                    width: Width::Dword,
                    value: 0x1,
                },
                "write mmio 0xfebf1000+0x14 4 <- 0x1",
            ),
            (
                Access::IrqSetEnabled {
                    line: 4,
                    enabled: true,
                },
                "unmask irq 4",
            ),
            (Access::IrqAcknowledge { line: 4 }, "acknowledge irq 4"),
            (
                Access::DmaAllocate {
                    device_address: 0x20_0000,
                    size: 4096,
                },
                "allocate dma 0x200000 4096",
            ),
            (
                Access::DmaFree {
                    device_address: 0x20_0000,
                },
                "free dma 0x200000",
            ),
            (
                Access::DmaCopy {
                    device_address: 0x20_0010,
                    length: 13,
                    to_device: true,
                },
                "write dma 0x200010 13",
            ),
            (
                Access::Send {
                    endpoint: 3,
                    length: 12,
                },
                "send 12 bytes to endpoint 3",
            ),
            (
                Access::Reply {
                    request: 7,
                    length: 8,
                },
                "reply 8 bytes to request 7",
            ),
            (
                Access::Refused {
                    function: HostFunction::PortOut8,
                    error: ErrorCode::Denied,
                    attempt: Some(refused_write),
                },
                "refused write port 0x80 1 (port_out8): denied",
            ),
            (
                Access::Refused {
                    function: HostFunction::MmioRead32,
                    error: ErrorCode::Misaligned,
                    attempt: Some(Attempt {
                        write: false,
                        place: Place::Mmio {
                            region: 0xfebf_1000,
                            offset: 0x2,
                        },
                        width: Width::Dword,
                        count: 1,
                    }),
                },
                "refused read mmio 0xfebf1000+0x2 4 (mmio_read32): misaligned",
            ),
            (
                Access::Refused {
                    function: HostFunction::PortIn8Bytes,
                    error: ErrorCode::StaleHandle,
                    attempt: Some(Attempt {
                        write: false,
                        place: Place::Unresolved {
                            mmio: false,
                            handle: 0x105,
                            offset: 0,
                        },
                        width: Width::Byte,
                        count: 64,
                    }),
                },
                "refused read port offset 0x0 of handle 261 1 x 64 (port_in8_n): stale handle",
            ),
            (
                Access::Refused {
                    function: HostFunction::Log,
                    error: ErrorCode::BadUtf8,
                    attempt: None,
                },
                "refused log: bad utf-8",
            ),
        ];
        for (access, text) in cases {
            assert_eq!(access.to_string(), text);
        }
    }
}
