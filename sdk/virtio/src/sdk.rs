//! The platform traits for the SDK's types: a granted PCI function, its
//! memory BARs as MMIO windows, and a DMA pool and its buffers.

use crate::platform::{ConfigSpace, DmaMemory, DmaRegion, PlatformResult, RegisterWindow};
use cella_sdk::{DmaBuffer, DmaPool, Mmio, PciDevice};

impl ConfigSpace for PciDevice {
    type Window = Mmio;

    fn read8(&self, offset: u8) -> PlatformResult<u8> {
        self.config_read8(offset)
    }
    fn read16(&self, offset: u8) -> PlatformResult<u16> {
        self.config_read16(offset)
    }
    fn read32(&self, offset: u8) -> PlatformResult<u32> {
        self.config_read32(offset)
    }
    fn write16(&self, offset: u8, value: u16) -> PlatformResult<()> {
        self.config_write16(offset, value)
    }
    fn memory_bar(&self, index: u8) -> PlatformResult<Mmio> {
        PciDevice::memory_bar(self, index)
    }
}

impl RegisterWindow for Mmio {
    fn read8(&self, offset: u32) -> PlatformResult<u8> {
        Mmio::read8(self, offset)
    }
    fn read16(&self, offset: u32) -> PlatformResult<u16> {
        Mmio::read16(self, offset)
    }
    fn read32(&self, offset: u32) -> PlatformResult<u32> {
        Mmio::read32(self, offset)
    }
    fn read64(&self, offset: u32) -> PlatformResult<u64> {
        Mmio::read64(self, offset)
    }
    fn write8(&self, offset: u32, value: u8) -> PlatformResult<()> {
        Mmio::write8(self, offset, value)
    }
    fn write16(&self, offset: u32, value: u16) -> PlatformResult<()> {
        Mmio::write16(self, offset, value)
    }
    fn write32(&self, offset: u32, value: u32) -> PlatformResult<()> {
        Mmio::write32(self, offset, value)
    }
    fn write64(&self, offset: u32, value: u64) -> PlatformResult<()> {
        Mmio::write64(self, offset, value)
    }
}

impl DmaMemory for DmaPool {
    type Buffer = DmaBuffer;

    fn allocate(&self, size: u32) -> PlatformResult<DmaBuffer> {
        DmaPool::allocate(self, size)
    }
}

impl DmaRegion for DmaBuffer {
    fn size(&self) -> u32 {
        DmaBuffer::size(self)
    }
    fn device_address(&self) -> PlatformResult<u64> {
        DmaBuffer::device_address(self)
    }
    fn write(&self, offset: u32, bytes: &[u8]) -> PlatformResult<()> {
        DmaBuffer::write(self, offset, bytes)
    }
    fn read(&self, offset: u32, destination: &mut [u8]) -> PlatformResult<()> {
        DmaBuffer::read(self, offset, destination)
    }
}
