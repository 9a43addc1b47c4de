//! The kernel's implementation of the Wasm host's `Platform`: real ports, MMIO,
//! IRQ lines, DMA memory and time.

use super::device_access;
use crate::line_limit::{LineLimit, Verdict};
use crate::{irq, time};
use alloc::collections::BTreeMap;
use alloc::string::String;
use cella_wasm_host::abi::{ErrorCode, LogLevel, PciAddress};
use cella_wasm_host::{Platform, Width};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// One module's console limits: its warnings, and all its lines.
#[derive(Clone, Copy)]
struct ConsoleLimits {
    warnings: LineLimit,
    lines: LineLimit,
}

impl Default for ConsoleLimits {
    fn default() -> Self {
        Self {
            warnings: LineLimit::warnings(),
            lines: LineLimit::console(),
        }
    }
}

/// Each module's console limits, by module name: they outlive restarts and
/// swaps, so a module that faults and restarts in a loop is limited too.
static CONSOLE: Mutex<BTreeMap<String, ConsoleLimits>> = Mutex::new(BTreeMap::new());

/// What the console limits of `module` held back so far: (warnings, other lines).
pub fn lines_dropped(module: &str) -> (u64, u64) {
    without_interrupts(|| {
        CONSOLE.lock().get(module).map_or((0, 0), |limits| {
            (limits.warnings.dropped(), limits.lines.dropped())
        })
    })
}

/// Decides whether a line of `module` of `bytes` bytes is printed.
fn admit(module: &str, level: LogLevel, bytes: usize) -> Verdict {
    let now = time::now_nanoseconds();
    without_interrupts(|| {
        let mut console = CONSOLE.lock();
        if !console.contains_key(module) {
            console.insert(String::from(module), ConsoleLimits::default());
        }
        let Some(limits) = console.get_mut(module) else {
            return Verdict::Drop;
        };
        let warnings_held_back = match level {
            LogLevel::Warn => match limits.warnings.admit(now, bytes) {
                Verdict::Drop => return Verdict::Drop,
                Verdict::Print { held_back } => held_back,
            },
            _ => 0,
        };
        match limits.lines.admit(now, bytes) {
            Verdict::Drop => Verdict::Drop,
            Verdict::Print { held_back } => Verdict::Print {
                held_back: held_back + warnings_held_back,
            },
        }
    })
}

/// Hardware as every sandbox reaches it (the capability checks happened in the Wasm host).
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelPlatform;

impl Platform for KernelPlatform {
    fn port_read(&mut self, port: u16, width: Width) -> u32 {
        device_access::port_read(port, width.bytes())
    }

    fn port_write(&mut self, port: u16, width: Width, value: u32) {
        device_access::port_write(port, width.bytes(), value);
    }

    fn mmio_read(&mut self, address: u64, width: Width) -> u64 {
        device_access::mmio_read(address, width.bytes()).unwrap_or_else(|error| {
            log::error!("MMIO read at {address:#x} failed: {error}");
            u64::MAX
        })
    }

    fn mmio_write(&mut self, address: u64, width: Width, value: u64) {
        if let Err(error) = device_access::mmio_write(address, width.bytes(), value) {
            log::error!("MMIO write at {address:#x} failed: {error}");
        }
    }

    fn irq_set_enabled(&mut self, line: u8, enabled: bool) {
        irq::set_enabled(line, enabled);
    }

    fn irq_acknowledge(&mut self, line: u8) {
        irq::acknowledge(line);
    }

    fn msix_attach(&mut self, function: PciAddress, entry: u16) -> Result<u8, ErrorCode> {
        crate::pci_bus::vectors::attach(function, entry)
    }

    fn msix_release(&mut self, line: u8) {
        irq::revoke(line);
    }

    fn pci_config_read(&mut self, address: PciAddress, offset: u8, width: Width) -> u32 {
        crate::arch::pci_config::read(address, offset, width.bytes())
    }

    fn pci_config_write(&mut self, address: PciAddress, offset: u8, width: Width, value: u32) {
        crate::arch::pci_config::write(address, offset, width.bytes(), value);
    }

    fn dma_allocate(&mut self, device: Option<PciAddress>, size: u64) -> Option<u64> {
        device_access::dma_allocate(device, size)
    }

    fn dma_free(&mut self, device: Option<PciAddress>, device_address: u64, _size: u64) {
        device_access::dma_free(device, device_address);
    }

    fn dma_hold(&mut self, owner: Option<PciAddress>, device_address: u64, size: u64) -> bool {
        super::dma_loans::hold(owner, device_address, size)
    }

    fn dma_lend(
        &mut self,
        device: Option<PciAddress>,
        device_address: u64,
        size: u64,
        writable: bool,
    ) -> bool {
        super::dma_loans::lend(device, device_address, size, writable)
    }

    fn dma_return(&mut self, device: Option<PciAddress>, device_address: u64, _size: u64) {
        super::dma_loans::give_back(device, device_address);
    }

    fn dma_read(&mut self, device_address: u64, destination: &mut [u8]) {
        device_access::dma_read(device_address, destination);
    }

    fn dma_write(&mut self, device_address: u64, source: &[u8]) {
        device_access::dma_write(device_address, source);
    }

    fn memory_may_grow(&mut self, additional_bytes: usize) -> bool {
        crate::mm::budget::may_grow(additional_bytes)
    }

    fn now_nanoseconds(&mut self) -> u64 {
        time::now_nanoseconds()
    }

    fn log(&mut self, module: &str, level: LogLevel, message: &str) {
        // The module's text is escaped: it stays on this line, after the
        // module's manifest name, and cannot start a line of its own.
        let mut message = crate::guest_text::escape(message);
        match admit(module, level, message.len()) {
            Verdict::Drop => return,
            Verdict::Print { held_back: 0 } => {}
            Verdict::Print { held_back } => {
                message.push_str(&alloc::format!(" ({held_back} earlier lines not shown)"));
            }
        }
        crate::console::print(format_args!("{:<5} {module}: {message}\n", level.name()));
    }
}
