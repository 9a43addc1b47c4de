//! The module manifest: what a module is and which capabilities it requests.
//!
//! The manifest is UTF-8 text in the custom section
//! [`crate::MANIFEST_SECTION`], one item per line, fields separated by
//! spaces. Blank lines and lines starting with `#` are ignored. Numbers are
//! decimal or `0x` hexadecimal.
//!
//! ```text
//! cella 1                    # ABI version: must be the first item
//! name uart16550             # module name (required)
//! version 1.2.0              # module version (required, free text token)
//! state 1                    # state-format version (optional, default 0)
//! port 0x3f8 8               # port-I/O range: first port, count
//! mmio 0xfebf0000 0x1000     # MMIO region: physical base, length in bytes
//! irq 4                      # IRQ line
//! dma 65536                  # DMA buffer pool: total bytes
//! endpoint log               # IPC endpoint, by name
//! timer                      # one one-shot timer
//! pci 0x1af4 0x1042          # the PCI function with this vendor and device id
//! pci-bus                    # the list of PCI functions the kernel found, read-only
//! ```
//!
//! Capability lines are numbered from 0 in order; `cap_handle(index)` returns
//! the handle of capability `index`.

use crate::{ABI_VERSION, MAX_CAPABILITY_REQUESTS};

/// Longest module name, version or endpoint name.
pub const MAX_NAME_BYTES: usize = 64;

/// The kinds of capability a module can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapabilityKind {
    /// A range of x86 I/O ports.
    PortRange,
    /// A physical MMIO window.
    MmioRegion,
    /// An interrupt line.
    IrqLine,
    /// A budget of DMA-able memory.
    DmaPool,
    /// A buffer allocated from a DMA pool (never requested in a manifest).
    DmaBuffer,
    /// An IPC endpoint, with [`crate::Rights`]: one to send to (requested),
    /// or one the module serves.
    Endpoint,
    /// A one-shot timer.
    Timer,
    /// One PCI function, requested by vendor and device id, granted by the
    /// system manifest's `devices` list: its configuration space (BARs and
    /// the ROM address read-only), its memory BARs and its interrupt.
    PciDevice,
    /// The list of PCI functions the kernel found at boot, read-only (what
    /// a server publishing the bus needs; it reaches no configuration space).
    PciBus,
}

impl CapabilityKind {
    /// The manifest keyword (and the name used in errors).
    pub const fn name(self) -> &'static str {
        match self {
            CapabilityKind::PortRange => "port",
            CapabilityKind::MmioRegion => "mmio",
            CapabilityKind::IrqLine => "irq",
            CapabilityKind::DmaPool => "dma",
            CapabilityKind::DmaBuffer => "dma-buffer",
            CapabilityKind::Endpoint => "endpoint",
            CapabilityKind::Timer => "timer",
            CapabilityKind::PciDevice => "pci",
            CapabilityKind::PciBus => "pci-bus",
        }
    }
}

/// One capability line of a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapabilityRequest<'a> {
    /// Ports `base .. base + count`.
    PortRange {
        /// First port.
        base: u16,
        /// Number of ports (at least 1; the range ends at or before 0x10000).
        count: u32,
    },
    /// Physical bytes `base .. base + length`.
    MmioRegion {
        /// Physical base address.
        base: u64,
        /// Length in bytes (at least 1, at most 4 GiB: offsets are 32-bit).
        length: u64,
    },
    /// One IRQ line.
    IrqLine {
        /// Line number.
        line: u8,
    },
    /// A DMA pool of `bytes` bytes in total.
    DmaPool {
        /// Budget in bytes.
        bytes: u64,
    },
    /// An IPC endpoint, named as in the system manifest.
    Endpoint {
        /// Endpoint name.
        name: &'a str,
    },
    /// One one-shot timer.
    Timer,
    /// The PCI function with this vendor and device id.
    PciDevice {
        /// Vendor id.
        vendor: u16,
        /// Device id.
        device: u16,
    },
    /// The list of PCI functions the kernel found at boot.
    PciBus,
}

impl CapabilityRequest<'_> {
    /// The kind of capability requested.
    pub const fn kind(&self) -> CapabilityKind {
        match self {
            CapabilityRequest::PortRange { .. } => CapabilityKind::PortRange,
            CapabilityRequest::MmioRegion { .. } => CapabilityKind::MmioRegion,
            CapabilityRequest::IrqLine { .. } => CapabilityKind::IrqLine,
            CapabilityRequest::DmaPool { .. } => CapabilityKind::DmaPool,
            CapabilityRequest::Endpoint { .. } => CapabilityKind::Endpoint,
            CapabilityRequest::Timer => CapabilityKind::Timer,
            CapabilityRequest::PciDevice { .. } => CapabilityKind::PciDevice,
            CapabilityRequest::PciBus => CapabilityKind::PciBus,
        }
    }
}

impl core::fmt::Display for CapabilityRequest<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CapabilityRequest::PortRange { base, count } => {
                write!(formatter, "port {base:#x} {count}")
            }
            CapabilityRequest::MmioRegion { base, length } => {
                write!(formatter, "mmio {base:#x} {length}")
            }
            CapabilityRequest::IrqLine { line } => write!(formatter, "irq {line}"),
            CapabilityRequest::DmaPool { bytes } => {
                write!(formatter, "dma {}", crate::text::Size(*bytes))
            }
            CapabilityRequest::Endpoint { name } => write!(formatter, "endpoint {name}"),
            CapabilityRequest::Timer => formatter.write_str("timer"),
            CapabilityRequest::PciDevice { vendor, device } => {
                write!(formatter, "pci {vendor:#06x} {device:#06x}")
            }
            CapabilityRequest::PciBus => formatter.write_str("pci-bus"),
        }
    }
}

/// Why a manifest was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestErrorKind {
    /// The section is not UTF-8.
    NotUtf8,
    /// The first item is not `cella <version>`.
    MissingHeader,
    /// The header names another ABI version.
    UnsupportedAbiVersion,
    /// A line starts with an unknown keyword.
    UnknownKeyword,
    /// A line has too few or too many fields.
    WrongFieldCount,
    /// A field that should be a number is not one, or is out of range.
    BadNumber,
    /// A range that is empty or wraps around.
    BadRange,
    /// A name with characters outside `[A-Za-z0-9_.-]`, empty, or too long.
    BadName,
    /// `name`, `version` or `state` appears twice.
    Duplicate,
    /// `name` or `version` is missing.
    MissingField,
    /// More than [`MAX_CAPABILITY_REQUESTS`] capability lines.
    TooManyCapabilities,
}

/// A rejected manifest: the 1-based line and the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based line number (0 when the error concerns the whole manifest).
    pub line: usize,
    /// Why.
    pub kind: ManifestErrorKind,
}

/// The reason in plain words.
impl core::fmt::Display for ManifestErrorKind {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            Self::NotUtf8 => "the section is not UTF-8",
            Self::MissingHeader => "it does not begin with `cella <version>`",
            Self::UnsupportedAbiVersion => "it names another ABI version",
            Self::UnknownKeyword => "the line starts with an unknown keyword",
            Self::WrongFieldCount => "the line has too few or too many fields",
            Self::BadNumber => "a number is not one, or out of range",
            Self::BadRange => "a range is empty or wraps around",
            Self::BadName => {
                "a name is empty, too long or has characters outside A-Z a-z 0-9 _ . -"
            }
            Self::Duplicate => "`name`, `version` or `state` appears twice",
            Self::MissingField => "`name` or `version` is missing",
            Self::TooManyCapabilities => "it has too many capability lines",
        })
    }
}

/// `line N: REASON` (`line 0` for the manifest as a whole).
impl core::fmt::Display for ManifestError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.kind)
    }
}

/// A parsed, validated manifest that borrows its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Manifest<'a> {
    text: &'a str,
    /// Module name.
    pub name: &'a str,
    /// Module version.
    pub version: &'a str,
    /// State-format version (0 if not given).
    pub state_version: u32,
    /// Number of capability lines.
    pub capability_count: usize,
}

enum Line<'a> {
    Empty,
    Header(u32),
    Name(&'a str),
    Version(&'a str),
    State(u32),
    Capability(CapabilityRequest<'a>),
}

impl<'a> Manifest<'a> {
    /// Parses manifest bytes (the custom section's payload).
    ///
    /// # Errors
    /// A [`ManifestError`] naming the first bad line and why it is bad.
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Manifest<'a>, ManifestError> {
        match core::str::from_utf8(bytes) {
            Ok(text) => Self::parse(text),
            Err(_) => Err(ManifestError {
                line: 0,
                kind: ManifestErrorKind::NotUtf8,
            }),
        }
    }

    /// Parses manifest text.
    ///
    /// # Errors
    /// A [`ManifestError`] naming the first bad line and why it is bad.
    pub fn parse(text: &'a str) -> Result<Manifest<'a>, ManifestError> {
        let mut header = false;
        let mut name = None;
        let mut version = None;
        let mut state_version = None;
        let mut capability_count = 0usize;
        for (index, raw) in text.lines().enumerate() {
            let line_number = index.saturating_add(1);
            let error = |kind| ManifestError {
                line: line_number,
                kind,
            };
            let line = parse_line(raw).map_err(error)?;
            if !header {
                match line {
                    Line::Empty => continue,
                    Line::Header(version) if version == ABI_VERSION => {
                        header = true;
                        continue;
                    }
                    Line::Header(_) => return Err(error(ManifestErrorKind::UnsupportedAbiVersion)),
                    _ => return Err(error(ManifestErrorKind::MissingHeader)),
                }
            }
            match line {
                Line::Empty => {}
                Line::Header(_) => return Err(error(ManifestErrorKind::Duplicate)),
                Line::Name(value) => set_once(&mut name, value).map_err(error)?,
                Line::Version(value) => set_once(&mut version, value).map_err(error)?,
                Line::State(value) => set_once(&mut state_version, value).map_err(error)?,
                Line::Capability(_) => {
                    capability_count = capability_count.saturating_add(1);
                    if capability_count > MAX_CAPABILITY_REQUESTS {
                        return Err(error(ManifestErrorKind::TooManyCapabilities));
                    }
                }
            }
        }
        if !header {
            return Err(ManifestError {
                line: 0,
                kind: ManifestErrorKind::MissingHeader,
            });
        }
        let missing = ManifestError {
            line: 0,
            kind: ManifestErrorKind::MissingField,
        };
        Ok(Manifest {
            text,
            name: name.ok_or(missing)?,
            version: version.ok_or(missing)?,
            state_version: state_version.unwrap_or(0),
            capability_count,
        })
    }

    /// The capability requests in order (index `i` is `cap_handle(i)`).
    pub fn capabilities(&self) -> impl Iterator<Item = CapabilityRequest<'a>> + 'a {
        self.text.lines().filter_map(|raw| match parse_line(raw) {
            Ok(Line::Capability(request)) => Some(request),
            _ => None,
        })
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), ManifestErrorKind> {
    if slot.is_some() {
        return Err(ManifestErrorKind::Duplicate);
    }
    *slot = Some(value);
    Ok(())
}

fn parse_line(raw: &str) -> Result<Line<'_>, ManifestErrorKind> {
    let content = match raw.find('#') {
        Some(position) => raw.get(..position).unwrap_or(""),
        None => raw,
    };
    let mut fields = content.split_ascii_whitespace();
    let Some(keyword) = fields.next() else {
        return Ok(Line::Empty);
    };
    let first = fields.next();
    let second = fields.next();
    if fields.next().is_some() {
        return Err(ManifestErrorKind::WrongFieldCount);
    }
    let line = match (keyword, first, second) {
        ("cella", Some(version), None) => Line::Header(parse_u32(version)?),
        ("name", Some(name), None) => Line::Name(check_name(name)?),
        ("version", Some(version), None) => Line::Version(check_name(version)?),
        ("state", Some(version), None) => Line::State(parse_u32(version)?),
        ("port", Some(base), Some(count)) => {
            let base = parse_u64(base)?;
            let count = parse_u64(count)?;
            let end = base.checked_add(count).ok_or(ManifestErrorKind::BadRange)?;
            if count == 0 || end > 0x1_0000 {
                return Err(ManifestErrorKind::BadRange);
            }
            let base = u16::try_from(base).map_err(|_| ManifestErrorKind::BadRange)?;
            let count = u32::try_from(count).map_err(|_| ManifestErrorKind::BadRange)?;
            Line::Capability(CapabilityRequest::PortRange { base, count })
        }
        ("mmio", Some(base), Some(length)) => {
            let base = parse_u64(base)?;
            let length = parse_u64(length)?;
            if length == 0 || length > 1 << 32 || base.checked_add(length).is_none() {
                return Err(ManifestErrorKind::BadRange);
            }
            Line::Capability(CapabilityRequest::MmioRegion { base, length })
        }
        ("irq", Some(line), None) => {
            let line = u8::try_from(parse_u64(line)?).map_err(|_| ManifestErrorKind::BadNumber)?;
            Line::Capability(CapabilityRequest::IrqLine { line })
        }
        ("dma", Some(bytes), None) => {
            let bytes = parse_u64(bytes)?;
            if bytes == 0 {
                return Err(ManifestErrorKind::BadRange);
            }
            Line::Capability(CapabilityRequest::DmaPool { bytes })
        }
        ("endpoint", Some(name), None) => Line::Capability(CapabilityRequest::Endpoint {
            name: check_name(name)?,
        }),
        ("timer", None, None) => Line::Capability(CapabilityRequest::Timer),
        ("pci", Some(vendor), Some(device)) => Line::Capability(CapabilityRequest::PciDevice {
            vendor: parse_u16(vendor)?,
            device: parse_u16(device)?,
        }),
        ("pci-bus", None, None) => Line::Capability(CapabilityRequest::PciBus),
        (
            "cella" | "name" | "version" | "state" | "port" | "mmio" | "irq" | "dma" | "endpoint"
            | "timer" | "pci" | "pci-bus",
            _,
            _,
        ) => {
            return Err(ManifestErrorKind::WrongFieldCount);
        }
        _ => return Err(ManifestErrorKind::UnknownKeyword),
    };
    Ok(line)
}

fn check_name(name: &str) -> Result<&str, ManifestErrorKind> {
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.');
    if name.is_empty() || name.len() > MAX_NAME_BYTES || !name.bytes().all(allowed) {
        return Err(ManifestErrorKind::BadName);
    }
    Ok(name)
}

fn parse_u64(text: &str) -> Result<u64, ManifestErrorKind> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse::<u64>(),
    };
    parsed.map_err(|_| ManifestErrorKind::BadNumber)
}

fn parse_u16(text: &str) -> Result<u16, ManifestErrorKind> {
    u16::try_from(parse_u64(text)?).map_err(|_| ManifestErrorKind::BadNumber)
}

fn parse_u32(text: &str) -> Result<u32, ManifestErrorKind> {
    u32::try_from(parse_u64(text)?).map_err(|_| ManifestErrorKind::BadNumber)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "cella 1\nname uart\nversion 1.0.0\nstate 2\n# comment\n\
        port 0x3f8 8\nmmio 0xfebf0000 0x1000 # trailing\nirq 4\ndma 65536\nendpoint log\ntimer\n";

    #[test]
    fn a_rejected_manifest_reads_as_its_line_and_plain_words() {
        extern crate std;
        use std::string::ToString;
        let error = Manifest::parse("cella 1\nname uart\nversion 1\nfrobnicate 3\n")
            .expect_err("an unknown keyword");
        let text = error.to_string();
        assert_eq!(text, "line 4: the line starts with an unknown keyword");
        assert!(!text.contains("UnknownKeyword"), "{text}");
    }

    #[test]
    fn parses_every_kind() {
        let manifest = Manifest::parse(EXAMPLE).unwrap();
        assert_eq!(manifest.name, "uart");
        assert_eq!(manifest.version, "1.0.0");
        assert_eq!(manifest.state_version, 2);
        assert_eq!(manifest.capability_count, 6);
        let mut requests = manifest.capabilities();
        assert_eq!(
            requests.next(),
            Some(CapabilityRequest::PortRange {
                base: 0x3f8,
                count: 8
            })
        );
        assert_eq!(
            requests.next(),
            Some(CapabilityRequest::MmioRegion {
                base: 0xfebf_0000,
                length: 0x1000
            })
        );
        assert_eq!(
            requests.next(),
            Some(CapabilityRequest::IrqLine { line: 4 })
        );
        assert_eq!(
            requests.next(),
            Some(CapabilityRequest::DmaPool { bytes: 65536 })
        );
        assert_eq!(
            requests.next(),
            Some(CapabilityRequest::Endpoint { name: "log" })
        );
        assert_eq!(requests.next(), Some(CapabilityRequest::Timer));
        assert_eq!(requests.next(), None);
    }

    #[test]
    fn macro_built_manifest_parses() {
        const TEXT: &str = concat!(
            "cella 1\n",
            "name ",
            stringify!(serial),
            "\nversion 1\n",
            "port ",
            stringify!(0x3f8),
            " ",
            stringify!(8),
            "\n"
        );
        let manifest = Manifest::parse(TEXT).unwrap();
        assert_eq!(manifest.name, "serial");
        assert_eq!(manifest.capability_count, 1);
    }

    #[test]
    fn parses_pci_requests_and_renders_them_as_their_lines() {
        let manifest =
            Manifest::parse("cella 1\nname blk\nversion 1\npci 0x1af4 0x1042\npci-bus\n").unwrap();
        let requests = {
            let mut all = manifest.capabilities();
            (all.next(), all.next())
        };
        assert_eq!(
            requests,
            (
                Some(CapabilityRequest::PciDevice {
                    vendor: 0x1af4,
                    device: 0x1042
                }),
                Some(CapabilityRequest::PciBus)
            )
        );
        extern crate std;
        use std::string::ToString;
        assert_eq!(requests.0.unwrap().to_string(), "pci 0x1af4 0x1042");
        assert_eq!(CapabilityKind::PciDevice.name(), "pci");
        assert_eq!(CapabilityKind::PciBus.name(), "pci-bus");
    }

    #[test]
    fn rejects_bad_lines() {
        let cases: &[(&str, usize, ManifestErrorKind)] = &[
            ("name x\n", 1, ManifestErrorKind::MissingHeader),
            ("cella 2\n", 1, ManifestErrorKind::UnsupportedAbiVersion),
            (
                "cella 1\nname x\nversion 1\nport 0xffff 2\n",
                4,
                ManifestErrorKind::BadRange,
            ),
            (
                "cella 1\nname x\nversion 1\nport 0 0\n",
                4,
                ManifestErrorKind::BadRange,
            ),
            (
                "cella 1\nname x\nversion 1\nirq 256\n",
                4,
                ManifestErrorKind::BadNumber,
            ),
            (
                "cella 1\nname x\nversion 1\nmmio 0xffffffffffffffff 2\n",
                4,
                ManifestErrorKind::BadRange,
            ),
            (
                "cella 1\nname x\nversion 1\nfrobnicate 1\n",
                4,
                ManifestErrorKind::UnknownKeyword,
            ),
            (
                "cella 1\nname x\nversion 1\npci 0x10000 1\n",
                4,
                ManifestErrorKind::BadNumber,
            ),
            (
                "cella 1\nname x\nversion 1\npci 0x1af4\n",
                4,
                ManifestErrorKind::WrongFieldCount,
            ),
            (
                "cella 1\nname x\nversion 1\npci-bus 1\n",
                4,
                ManifestErrorKind::WrongFieldCount,
            ),
            ("cella 1\nname x\nname y\n", 3, ManifestErrorKind::Duplicate),
            ("cella 1\nname x y\n", 2, ManifestErrorKind::WrongFieldCount),
            ("cella 1\nname b@d\n", 2, ManifestErrorKind::BadName),
            ("cella 1\nname x\n", 0, ManifestErrorKind::MissingField),
            ("", 0, ManifestErrorKind::MissingHeader),
        ];
        for (text, line, kind) in cases {
            assert_eq!(
                Manifest::parse(text),
                Err(ManifestError {
                    line: *line,
                    kind: *kind
                }),
                "{text}"
            );
        }
        assert_eq!(
            Manifest::parse_bytes(&[0xff, 0xfe]),
            Err(ManifestError {
                line: 0,
                kind: ManifestErrorKind::NotUtf8
            })
        );
    }

    #[test]
    fn too_many_capabilities() {
        let mut text = [0u8; 4096];
        let mut length = 0;
        for piece in core::iter::once("cella 1\nname x\nversion 1\n")
            .chain(core::iter::repeat_n("timer\n", MAX_CAPABILITY_REQUESTS + 1))
        {
            text[length..length + piece.len()].copy_from_slice(piece.as_bytes());
            length += piece.len();
        }
        let error = Manifest::parse_bytes(&text[..length]).unwrap_err();
        assert_eq!(error.kind, ManifestErrorKind::TooManyCapabilities);
    }
}
