//! pci: Cella's PCI bus driver — enumerates configuration space through ports 0xCF8/0xCFC (configuration mechanism #1) and publishes the device list on the `pci` endpoint.
//!
//! At `init` it walks bus 0 and every bus behind a PCI-to-PCI or CardBus
//! bridge, every device and (for multi-function devices) every function,
//! sizes each BAR with the write-all-ones probe (restoring the original
//! value, with decoding switched off meanwhile), and logs one line per
//! function:
//!
//! ```text
//! 00:03.0 8086:100e class 02.00.00 header 0 irq 11 bar0=mem32 0xfebc0000 size 0x20000 bar1=io 0xc000 size 0x40
//! ```
//!
//! Any request to `pci` is answered with the same lines, `\n`-terminated.
#![no_std]
#![forbid(unsafe_code)]

mod config;

use cella_sdk::{MAX_MESSAGE_BYTES, Message, Module, Result, TextBuffer};
use config::{Bar, ConfigSpace, Function};
use core::fmt::{self, Write};

cella_sdk::module! {
    name: "pci",
    version: "1.0.0",
    module: Pci,
    capabilities: {
        config: port(0xcf8, 8),
    },
}

const LISTING_BYTES: usize = MAX_MESSAGE_BYTES as usize;

/// The driver's state: what enumeration found, formatted once (formatting
/// costs fuel) as the reply every request gets.
pub struct Pci {
    /// One line per function, whole lines only.
    listing: TextBuffer<LISTING_BYTES>,
}

impl Module for Pci {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Pci> {
        let space = ConfigSpace::new(capabilities.config);
        let mut listing = TextBuffer::new();
        let mut count = 0usize;
        let mut left_out = 0usize;
        space.enumerate(|function| {
            count += 1;
            let mut line = TextBuffer::<256>::new();
            let _ = write!(line, "{function}");
            cella_sdk::info!("{line}");
            if line.len() < LISTING_BYTES - listing.len() {
                listing.push_str(line.as_str());
                listing.push_str("\n");
            } else {
                left_out += 1;
            }
        })?;
        if left_out > 0 {
            cella_sdk::warn!(
                "{left_out} functions left out of the listing (reply limit {LISTING_BYTES} bytes)"
            );
        }
        cella_sdk::info!("{count} functions");
        Ok(Pci { listing })
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        if !message.is_request() {
            return Ok(());
        }
        message.reply(self.listing.as_bytes())
    }
}

impl fmt::Display for Function {
    /// `BB:DD.F VVVV:DDDD class CC.SS.PP header H irq N` and the BARs.
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
            match bar {
                Bar::None => {}
                Bar::Io { port, size } => write!(out, " bar{index}=io {port:#x} size {size:#x}")?,
                Bar::Memory32 {
                    address,
                    size,
                    prefetchable,
                } => {
                    write!(out, " bar{index}=mem32 {address:#x} size {size:#x}")?;
                    if *prefetchable {
                        out.write_str(" prefetchable")?;
                    }
                }
                Bar::Memory64 {
                    address,
                    size,
                    prefetchable,
                } => {
                    write!(out, " bar{index}=mem64 {address:#x} size {size:#x}")?;
                    if *prefetchable {
                        out.write_str(" prefetchable")?;
                    }
                }
            }
        }
        Ok(())
    }
}
