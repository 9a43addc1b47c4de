//! The remapping unit's registers, driven: bring-up in legacy translation
//! mode, register-based invalidation of the context cache and the IOTLB, and
//! the primary fault recording registers.
//!
//! Every wait on the unit is bounded by [`POLLS`] register reads; a unit that
//! does not answer gives [`IommuError::Timeout`], never a hang.

use super::error::IommuError;
use super::faults::DmaFault;
use super::registers::{self, Capabilities};
use crate::mm::device_memory::DeviceRange;
use crate::mm::layout::PAGE_SIZE;
use crate::mm::paging::{self, MapError, MmioRegion};
use alloc::vec::Vec;
use core::fmt;

/// Register reads before a command counts as timed out (well over a second
/// under emulation; real units answer in microseconds).
const POLLS: u32 = 5_000_000;
/// Most register space mapped (the capability fields can place the IOTLB and
/// fault registers at most about 20 KiB from the base).
const MAX_REGISTER_SPACE: u64 = 32 * 1024;

/// Why the unit could not be brought up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartError {
    /// Its registers could not be mapped.
    Map(MapError),
    /// It supports neither 39- nor 48-bit second-level tables.
    NoAddressWidth(u64),
    /// Its capability registers place registers implausibly far from the base.
    RegisterSpace(u64),
    /// A table or command failed.
    Command(IommuError),
}

impl fmt::Display for StartError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Map(error) => write!(formatter, "cannot map its registers: {error}"),
            Self::NoAddressWidth(widths) => write!(
                formatter,
                "it supports no 39- or 48-bit page tables (SAGAW {widths:#x})"
            ),
            Self::RegisterSpace(extent) => {
                write!(formatter, "its registers would span {extent:#x} bytes")
            }
            Self::Command(error) => write!(formatter, "{error}"),
        }
    }
}

/// One remapping unit's registers.
pub(super) struct Unit {
    registers: MmioRegion,
    pub capabilities: Capabilities,
    /// (major, minor).
    pub version: (u32, u32),
}

impl Unit {
    /// Maps the registers at `base` and reads the capabilities.
    ///
    /// # Errors
    /// [`StartError::Map`] or [`StartError::RegisterSpace`].
    pub fn open(base: u64) -> Result<Self, StartError> {
        let first_page = DeviceRange::new(base, PAGE_SIZE).map_err(StartError::Map)?;
        let mut registers = paging::map_mmio(&first_page).map_err(StartError::Map)?;
        let read = |registers: &MmioRegion, offset| registers.read::<u64>(offset).unwrap_or(0);
        let capabilities = Capabilities {
            capability: read(&registers, registers::CAPABILITY),
            extended: read(&registers, registers::EXTENDED_CAPABILITY),
        };
        let version = registers::version(registers.read::<u32>(registers::VERSION).unwrap_or(0));
        let extent = capabilities.register_extent();
        if extent > MAX_REGISTER_SPACE {
            return Err(StartError::RegisterSpace(extent));
        }
        if extent > PAGE_SIZE {
            let all = DeviceRange::new(base, extent).map_err(StartError::Map)?;
            registers = paging::map_mmio(&all).map_err(StartError::Map)?;
        }
        Ok(Self {
            registers,
            capabilities,
            version,
        })
    }

    fn read32(&self, offset: u64) -> u32 {
        self.registers.read::<u32>(offset).unwrap_or(0)
    }

    fn read64(&self, offset: u64) -> u64 {
        self.registers.read::<u64>(offset).unwrap_or(0)
    }

    fn write32(&self, offset: u64, value: u32) {
        self.registers.write::<u32>(offset, value);
    }

    fn write64(&self, offset: u64, value: u64) {
        self.registers.write::<u64>(offset, value);
    }

    /// Polls until `done` holds for the register read, or times out.
    fn wait(&self, what: &'static str, done: impl Fn(&Self) -> bool) -> Result<(), IommuError> {
        for _ in 0..POLLS {
            if done(self) {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(IommuError::Timeout(what))
    }

    /// Issues a global command and waits until the status bit `status` is
    /// `set` (or clear).
    fn global_command(
        &self,
        command: u32,
        status: u32,
        set: bool,
        what: &'static str,
    ) -> Result<(), IommuError> {
        let current = self.read32(registers::GLOBAL_STATUS);
        self.write32(
            registers::GLOBAL_COMMAND,
            registers::global_command(current, command),
        );
        self.wait(what, |unit| {
            (unit.read32(registers::GLOBAL_STATUS) & status != 0) == set
        })
    }

    /// Whether translation is on.
    pub fn translating(&self) -> bool {
        self.read32(registers::GLOBAL_STATUS) & registers::TRANSLATION_ENABLE != 0
    }

    /// Brings the unit up on `root_table`: fault interrupts masked (faults are
    /// polled), translation off if firmware left it on, the root table set,
    /// every cache invalidated, translation on.
    ///
    /// # Errors
    /// [`IommuError::Timeout`] naming the step that did not finish.
    pub fn start(&self, root_table: u64) -> Result<(), IommuError> {
        self.write32(
            registers::FAULT_EVENT_CONTROL,
            registers::FAULT_INTERRUPT_MASK,
        );
        if self.translating() {
            let status = self.read32(registers::GLOBAL_STATUS);
            self.write32(
                registers::GLOBAL_COMMAND,
                registers::global_command(status, 0) & !registers::TRANSLATION_ENABLE,
            );
            self.wait("turning translation off", |unit| !unit.translating())?;
        }
        // Legacy mode: translation table mode bits 11:10 stay 0.
        self.write64(registers::ROOT_TABLE_ADDRESS, root_table);
        self.global_command(
            registers::SET_ROOT_TABLE_POINTER,
            registers::SET_ROOT_TABLE_POINTER,
            true,
            "setting the root table",
        )?;
        self.invalidate_context_cache()?;
        self.invalidate_iotlb(registers::iotlb_invalidate_global(&self.capabilities))?;
        self.global_command(
            registers::TRANSLATION_ENABLE,
            registers::TRANSLATION_ENABLE,
            true,
            "enabling translation",
        )
    }

    fn flush_write_buffer(&self) -> Result<(), IommuError> {
        if !self.capabilities.needs_write_buffer_flush() {
            return Ok(());
        }
        self.global_command(
            registers::WRITE_BUFFER_FLUSH,
            registers::WRITE_BUFFER_FLUSH,
            false,
            "flushing the write buffer",
        )
    }

    /// Invalidates every cached context entry and waits for completion.
    ///
    /// # Errors
    /// [`IommuError::Timeout`].
    pub fn invalidate_context_cache(&self) -> Result<(), IommuError> {
        self.flush_write_buffer()?;
        self.write64(
            registers::CONTEXT_COMMAND,
            registers::CONTEXT_INVALIDATE_GLOBAL,
        );
        self.wait("invalidating the context cache", |unit| {
            unit.read64(registers::CONTEXT_COMMAND) & registers::CONTEXT_INVALIDATE_BUSY == 0
        })
    }

    /// Invalidates every cached translation of `domain` and waits for completion.
    ///
    /// # Errors
    /// [`IommuError::Timeout`].
    pub fn invalidate_domain(&self, domain: u16) -> Result<(), IommuError> {
        self.invalidate_iotlb(registers::iotlb_invalidate_domain(
            domain,
            &self.capabilities,
        ))
    }

    fn invalidate_iotlb(&self, command: u64) -> Result<(), IommuError> {
        self.flush_write_buffer()?;
        let register = self.capabilities.iotlb_offset() + 8;
        self.write64(register, command);
        self.wait("invalidating the IOTLB", |unit| {
            unit.read64(register) & registers::IOTLB_INVALIDATE_BUSY == 0
        })
    }

    /// Moves the recorded faults into `faults` (as many as it has room for
    /// without growing past the unit's record count) and clears the records
    /// and the overflow flag.
    pub fn take_faults(&self, faults: &mut Vec<DmaFault>) {
        let first = self.capabilities.fault_record_offset();
        for record in 0..self.capabilities.fault_record_count() {
            let at = first + record * 16;
            let high = self.read64(at + 8);
            if let Some(fault) = DmaFault::from_record(self.read64(at), high) {
                if faults.try_reserve(1).is_ok() {
                    faults.push(fault);
                }
                // The fault bit is bit 31 of the record's last 32-bit word (write 1 to clear).
                self.write32(at + 12, 1 << 31);
            }
        }
        self.write32(registers::FAULT_STATUS, registers::FAULT_OVERFLOW);
    }
}
