//! The kernel's implementation of the Wasm host's `Platform`: real ports, MMIO,
//! IRQ lines, DMA memory and time.

use super::device_access;
use crate::proc::warnings::{Verdict, WarningLimit};
use crate::{irq, time};
use alloc::collections::BTreeMap;
use alloc::string::String;
use cella_wasm_host::abi::LogLevel;
use cella_wasm_host::{Platform, Width};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Each module's WARN budget (refused host calls and its own warnings), by
/// module name: it outlives restarts, so a module that faults and restarts
/// in a loop is limited too.
static WARNINGS: Mutex<BTreeMap<String, WarningLimit>> = Mutex::new(BTreeMap::new());

/// WARN lines of `module` the rate limit held back so far.
pub fn warnings_dropped(module: &str) -> u64 {
    without_interrupts(|| WARNINGS.lock().get(module).map_or(0, WarningLimit::dropped))
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

    fn dma_allocate(&mut self, size: u64) -> Option<u64> {
        device_access::dma_allocate(size)
    }

    fn dma_free(&mut self, device_address: u64, _size: u64) {
        device_access::dma_free(device_address);
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
        if level == LogLevel::Warn {
            let now = time::now_nanoseconds();
            let verdict = without_interrupts(|| {
                let mut warnings = WARNINGS.lock();
                match warnings.get_mut(module) {
                    Some(limit) => limit.admit(now),
                    None => {
                        let mut limit = WarningLimit::default();
                        let verdict = limit.admit(now);
                        warnings.insert(String::from(module), limit);
                        verdict
                    }
                }
            });
            match verdict {
                Verdict::Drop => return,
                Verdict::Print { held_back: 0 } => {}
                Verdict::Print { held_back } => {
                    message.push_str(&alloc::format!(" ({held_back} more warnings not shown)"));
                }
            }
        }
        crate::console::print(format_args!("{:<5} {module}: {message}\n", level.name()));
    }
}
