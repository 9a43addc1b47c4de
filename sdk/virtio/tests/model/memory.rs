//! DMA memory the driver and the device model share by device address.

use cella_abi::ErrorCode;
use cella_virtio::platform::PlatformResult;
use cella_virtio::{DmaMemory, DmaRegion};
use std::cell::RefCell;
use std::rc::Rc;

/// Shared DMA memory: device address -> bytes.
pub struct Memory {
    pub base: u64,
    pub bytes: Vec<u8>,
    pub next: u64,
    pub budget_left: u32,
}

pub type SharedMemory = Rc<RefCell<Memory>>;

impl Memory {
    pub fn read(&self, address: u64, length: usize) -> Option<Vec<u8>> {
        let start = usize::try_from(address.checked_sub(self.base)?).ok()?;
        self.bytes
            .get(start..start.checked_add(length)?)
            .map(<[u8]>::to_vec)
    }

    pub fn write(&mut self, address: u64, bytes: &[u8]) -> bool {
        let Some(start) = address
            .checked_sub(self.base)
            .and_then(|at| usize::try_from(at).ok())
        else {
            return false;
        };
        match self.bytes.get_mut(start..start + bytes.len()) {
            Some(target) => {
                target.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    pub fn u16_at(&self, address: u64) -> Option<u16> {
        let bytes = self.read(address, 2)?;
        Some(u16::from_le_bytes([bytes[0], bytes[1]]))
    }
}

pub struct FakeDma {
    pub memory: SharedMemory,
}

pub struct FakeBuffer {
    memory: SharedMemory,
    address: u64,
    size: u32,
}

impl DmaMemory for FakeDma {
    type Buffer = FakeBuffer;

    fn allocate(&self, size: u32) -> PlatformResult<FakeBuffer> {
        let mut memory = self.memory.borrow_mut();
        if size == 0 {
            return Err(ErrorCode::BadArgument);
        }
        if size > memory.budget_left {
            return Err(ErrorCode::Exhausted);
        }
        memory.budget_left -= size;
        let address = memory.next;
        memory.next = (address + u64::from(size)).next_multiple_of(4096);
        Ok(FakeBuffer {
            memory: self.memory.clone(),
            address,
            size,
        })
    }
}

impl DmaRegion for FakeBuffer {
    fn size(&self) -> u32 {
        self.size
    }
    fn device_address(&self) -> PlatformResult<u64> {
        Ok(self.address)
    }
    fn write(&self, offset: u32, bytes: &[u8]) -> PlatformResult<()> {
        if offset as usize + bytes.len() > self.size as usize {
            return Err(ErrorCode::Denied);
        }
        self.memory
            .borrow_mut()
            .write(self.address + u64::from(offset), bytes);
        Ok(())
    }
    fn read(&self, offset: u32, destination: &mut [u8]) -> PlatformResult<()> {
        if offset as usize + destination.len() > self.size as usize {
            return Err(ErrorCode::Denied);
        }
        let bytes = self
            .memory
            .borrow()
            .read(self.address + u64::from(offset), destination.len())
            .ok_or(ErrorCode::Denied)?;
        destination.copy_from_slice(&bytes);
        Ok(())
    }
}
