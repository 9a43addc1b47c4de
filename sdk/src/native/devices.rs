//! ABI v1 device calls: ports with `in`/`out` (the kernel opened the
//! granted ports in the TSS I/O bitmap), MMIO through the mapped grant, and
//! IRQ lines routed to the process. Checks and error codes as in
//! `wasm-host/src/calls/{ports,mmio,irq}.rs`; DMA and PCI are in `dma` and
//! `pci`.

use super::process::{conclude, conclude64, with};
use super::syscall::{address, port_in, port_out, syscall};
use super::table::Table;
use cella_abi::syscalls::{IRQ_ACK, IRQ_SET_ENABLED};
use cella_abi::{ErrorCode, HostFunction, MAX_PORT_BYTES};

fn table<R>(body: impl FnOnce(&Table) -> Result<R, ErrorCode>) -> Result<R, ErrorCode> {
    with(|state| body(&state.table)).unwrap_or(Err(ErrorCode::Busy))
}

fn read_port(function: HostFunction, handle: i32, offset: i32, width: u32) -> i64 {
    let result = table(|table| table.port(handle, offset, width))
        .map(|port| i64::from(port_in(port, width)));
    conclude64(function, result)
}

fn write_port(function: HostFunction, handle: i32, offset: i32, value: i32, width: u32) -> i32 {
    let result = table(|table| table.port(handle, offset, width)).map(|port| {
        port_out(port, width, value as u32);
        0
    });
    conclude(function, result)
}

pub(crate) fn port_in8(handle: i32, offset: i32) -> i64 {
    read_port(HostFunction::PortIn8, handle, offset, 1)
}
pub(crate) fn port_in16(handle: i32, offset: i32) -> i64 {
    read_port(HostFunction::PortIn16, handle, offset, 2)
}
pub(crate) fn port_in32(handle: i32, offset: i32) -> i64 {
    read_port(HostFunction::PortIn32, handle, offset, 4)
}
pub(crate) fn port_out8(handle: i32, offset: i32, value: i32) -> i32 {
    write_port(HostFunction::PortOut8, handle, offset, value, 1)
}
pub(crate) fn port_out16(handle: i32, offset: i32, value: i32) -> i32 {
    write_port(HostFunction::PortOut16, handle, offset, value, 2)
}
pub(crate) fn port_out32(handle: i32, offset: i32, value: i32) -> i32 {
    write_port(HostFunction::PortOut32, handle, offset, value, 4)
}

/// The port and byte count of a bulk call, checked once.
fn bulk_port(handle: i32, offset: i32, count: i32) -> Result<(u16, usize), ErrorCode> {
    let count = u32::try_from(count)
        .ok()
        .filter(|count| *count <= MAX_PORT_BYTES)
        .ok_or(ErrorCode::BadArgument)?;
    let port = table(|table| table.port(handle, offset, 1))?;
    Ok((port, count as usize))
}

/// # Safety
/// `pointer` must name `count` writable bytes (the SDK passes a live `&mut [u8]`).
pub(crate) unsafe fn port_in8_n(handle: i32, offset: i32, pointer: i32, count: i32) -> i32 {
    let result = bulk_port(handle, offset, count).map(|(port, count)| {
        for index in 0..count {
            let byte = port_in(port, 1) as u8;
            // SAFETY: the caller guarantees `count` writable bytes at
            // `pointer` (exact below 2 GiB) and `index < count`.
            unsafe { (address(pointer) as *mut u8).add(index).write(byte) };
        }
        0
    });
    conclude(HostFunction::PortIn8Bytes, result)
}

pub(crate) fn port_out8_n(handle: i32, offset: i32, pointer: i32, count: i32) -> i32 {
    let result = bulk_port(handle, offset, count).map(|(port, count)| {
        if count > 0 {
            // SAFETY: `sys` is crate-private and every caller passes the
            // pointer and length of a live byte slice (`sys::pointer`,
            // `sys::length`), exact below 2 GiB; `count > 0`, so the
            // pointer is not dangling.
            let bytes =
                unsafe { core::slice::from_raw_parts(address(pointer) as *const u8, count) };
            for byte in bytes {
                port_out(port, 1, u32::from(*byte));
            }
        }
        0
    });
    conclude(HostFunction::PortOut8Bytes, result)
}

/// Reads `width` bytes of device memory at `at` (a checked address).
fn mmio_load(at: u64, width: u32) -> u64 {
    // SAFETY: (every arm) `Table::mmio` checked that `at .. at + width` lies
    // inside a region the kernel mapped into this process (uncached, user
    // RW) for the module's granted MMIO request, aligned to `width`.
    unsafe {
        match width {
            1 => u64::from(core::ptr::read_volatile(at as *const u8)),
            2 => u64::from(core::ptr::read_volatile(at as *const u16)),
            4 => u64::from(core::ptr::read_volatile(at as *const u32)),
            _ => core::ptr::read_volatile(at as *const u64),
        }
    }
}

/// Writes the low `width` bytes of `value` to device memory at `at` (a checked address).
fn mmio_store(at: u64, width: u32, value: u64) {
    // SAFETY: as in `mmio_load`.
    unsafe {
        match width {
            1 => core::ptr::write_volatile(at as *mut u8, value as u8),
            2 => core::ptr::write_volatile(at as *mut u16, value as u16),
            4 => core::ptr::write_volatile(at as *mut u32, value as u32),
            _ => core::ptr::write_volatile(at as *mut u64, value),
        }
    }
}

fn read_mmio(function: HostFunction, handle: i32, offset: i32, width: u32) -> i64 {
    let result = table(|table| table.mmio(handle, offset, width))
        // At most 32 bits: non-negative as i64.
        .map(|at| mmio_load(at, width) as i64);
    conclude64(function, result)
}

fn write_mmio(function: HostFunction, handle: i32, offset: i32, value: u64, width: u32) -> i32 {
    let result = table(|table| table.mmio(handle, offset, width)).map(|at| {
        mmio_store(at, width, value);
        0
    });
    conclude(function, result)
}

pub(crate) fn mmio_read8(handle: i32, offset: i32) -> i64 {
    read_mmio(HostFunction::MmioRead8, handle, offset, 1)
}
pub(crate) fn mmio_read16(handle: i32, offset: i32) -> i64 {
    read_mmio(HostFunction::MmioRead16, handle, offset, 2)
}
pub(crate) fn mmio_read32(handle: i32, offset: i32) -> i64 {
    read_mmio(HostFunction::MmioRead32, handle, offset, 4)
}
/// # Safety
/// `out_pointer` must name 8 writable bytes (the SDK passes a live `[u8; 8]`).
pub(crate) unsafe fn mmio_read64(handle: i32, offset: i32, out_pointer: i32) -> i32 {
    let result = table(|table| table.mmio(handle, offset, 8)).map(|at| {
        let value = mmio_load(at, 8);
        // SAFETY: the caller guarantees 8 writable bytes at `out_pointer`
        // (exact below 2 GiB); unaligned is allowed.
        unsafe {
            core::ptr::write_unaligned(address(out_pointer) as *mut [u8; 8], value.to_le_bytes());
        }
        0
    });
    conclude(HostFunction::MmioRead64, result)
}
pub(crate) fn mmio_write8(handle: i32, offset: i32, value: i32) -> i32 {
    write_mmio(
        HostFunction::MmioWrite8,
        handle,
        offset,
        u64::from(value as u32),
        1,
    )
}
pub(crate) fn mmio_write16(handle: i32, offset: i32, value: i32) -> i32 {
    write_mmio(
        HostFunction::MmioWrite16,
        handle,
        offset,
        u64::from(value as u32),
        2,
    )
}
pub(crate) fn mmio_write32(handle: i32, offset: i32, value: i32) -> i32 {
    write_mmio(
        HostFunction::MmioWrite32,
        handle,
        offset,
        u64::from(value as u32),
        4,
    )
}
pub(crate) fn mmio_write64(handle: i32, offset: i32, value: i64) -> i32 {
    write_mmio(HostFunction::MmioWrite64, handle, offset, value as u64, 8)
}

/// One IRQ syscall on the line `handle` names (routed to this process when it started).
fn irq_call(function: HostFunction, handle: i32, number: u64, argument: u64) -> i32 {
    let result = table(|table| table.irq(handle)).and_then(|line| {
        match syscall(number, [u64::from(line), argument, 0, 0, 0]) {
            0 => Ok(0),
            _ => Err(ErrorCode::DeviceError),
        }
    });
    conclude(function, result)
}

pub(crate) fn irq_enable(handle: i32) -> i32 {
    irq_call(HostFunction::IrqEnable, handle, IRQ_SET_ENABLED, 1)
}
pub(crate) fn irq_disable(handle: i32) -> i32 {
    irq_call(HostFunction::IrqDisable, handle, IRQ_SET_ENABLED, 0)
}
pub(crate) fn irq_ack(handle: i32) -> i32 {
    irq_call(HostFunction::IrqAck, handle, IRQ_ACK, 0)
}
