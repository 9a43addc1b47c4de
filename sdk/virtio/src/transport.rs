//! The modern virtio-over-PCI transport (virtio 1.x, 4.1): the device's
//! status handshake, feature negotiation, queue set-up, notifications and
//! the interrupt status, through the structures the capability list names.

use crate::capabilities::{Layout, Region, Structure, find_layout};
use crate::error::Error;
use crate::features;
use crate::platform::{ConfigSpace, DmaRegion, RegisterWindow};
use crate::queue::{MAX_QUEUE_SIZE, SplitQueue};

/// The device status bits (virtio 1.x, 2.1).
pub mod status {
    /// The driver has noticed the device.
    pub const ACKNOWLEDGE: u8 = 1;
    /// The driver knows how to drive it.
    pub const DRIVER: u8 = 2;
    /// The driver is ready.
    pub const DRIVER_OK: u8 = 4;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u8 = 8;
    /// The device met an error it cannot recover from without a reset.
    pub const DEVICE_NEEDS_RESET: u8 = 64;
    /// The driver gave up on the device.
    pub const FAILED: u8 = 128;
}

/// Offsets in the common configuration (`struct virtio_pci_common_cfg`).
mod common {
    pub const DEVICE_FEATURE_SELECT: u32 = 0x00;
    pub const DEVICE_FEATURE: u32 = 0x04;
    pub const DRIVER_FEATURE_SELECT: u32 = 0x08;
    pub const DRIVER_FEATURE: u32 = 0x0c;
    pub const MSIX_CONFIG: u32 = 0x10;
    pub const NUM_QUEUES: u32 = 0x12;
    pub const DEVICE_STATUS: u32 = 0x14;
    pub const CONFIG_GENERATION: u32 = 0x15;
    pub const QUEUE_SELECT: u32 = 0x16;
    pub const QUEUE_SIZE: u32 = 0x18;
    pub const QUEUE_MSIX_VECTOR: u32 = 0x1a;
    pub const QUEUE_ENABLE: u32 = 0x1c;
    pub const QUEUE_NOTIFY_OFF: u32 = 0x1e;
    pub const QUEUE_DESC: u32 = 0x20;
    pub const QUEUE_DRIVER: u32 = 0x28;
    pub const QUEUE_DEVICE: u32 = 0x30;
}

/// The MSI-X vector that means none (virtio 1.x, 4.1.4.3): the source
/// raises no interrupt while MSI-X is on.
pub const NO_VECTOR: u16 = 0xffff;

/// Reads of the status after a reset before the driver gives up.
const RESET_POLLS: usize = 1000;
/// Tries at reading device configuration that does not change meanwhile.
const GENERATION_TRIES: usize = 8;

/// The command register and its memory-space and bus-master bits.
const COMMAND: u8 = 0x04;
const COMMAND_MEMORY_SPACE: u16 = 1 << 1;
const COMMAND_BUS_MASTER: u16 = 1 << 2;

/// One structure, through the window onto its BAR.
struct Mapped<W> {
    window: W,
    structure: Structure,
    region: Region,
}

impl<W: RegisterWindow> Mapped<W> {
    fn new<C: ConfigSpace<Window = W>>(
        config: &C,
        structure: Structure,
        region: Region,
    ) -> Result<Self, Error> {
        Ok(Mapped {
            window: config.memory_bar(region.bar)?,
            structure,
            region,
        })
    }

    /// The BAR offset of `offset` inside the structure, if `width` bytes
    /// there lie inside it.
    fn at(&self, offset: u32, width: u32) -> Result<u32, Error> {
        let outside = Error::OutsideStructure {
            structure: self.structure,
            offset,
        };
        let end = offset.checked_add(width).ok_or(outside)?;
        if end > self.region.length {
            return Err(outside);
        }
        // find_layout checked that offset + length does not overflow.
        Ok(self.region.offset + offset)
    }

    fn read8(&self, offset: u32) -> Result<u8, Error> {
        Ok(self.window.read8(self.at(offset, 1)?)?)
    }
    fn read16(&self, offset: u32) -> Result<u16, Error> {
        Ok(self.window.read16(self.at(offset, 2)?)?)
    }
    fn read32(&self, offset: u32) -> Result<u32, Error> {
        Ok(self.window.read32(self.at(offset, 4)?)?)
    }
    fn write8(&self, offset: u32, value: u8) -> Result<(), Error> {
        Ok(self.window.write8(self.at(offset, 1)?, value)?)
    }
    fn write16(&self, offset: u32, value: u16) -> Result<(), Error> {
        Ok(self.window.write16(self.at(offset, 2)?, value)?)
    }
    fn write32(&self, offset: u32, value: u32) -> Result<(), Error> {
        Ok(self.window.write32(self.at(offset, 4)?, value)?)
    }
    /// A 64-bit field as two 32-bit writes, low half first (as the
    /// specification allows and every device takes).
    fn write64(&self, offset: u32, value: u64) -> Result<(), Error> {
        self.write32(offset, value as u32)?;
        self.write32(offset + 4, (value >> 32) as u32)
    }
}

/// A virtio PCI function, reached through the structures its capability
/// list names.
pub struct Transport<W> {
    common: Mapped<W>,
    notify: Mapped<W>,
    notify_multiplier: u32,
    isr: Mapped<W>,
    device: Option<Mapped<W>>,
}

impl<W: RegisterWindow> Transport<W> {
    /// Turns on the function's memory decoding and bus mastering, finds its
    /// structures and opens a window onto each one's BAR.
    ///
    /// # Errors
    /// Those of [`find_layout`], or a refused configuration or BAR call.
    pub fn new<C: ConfigSpace<Window = W>>(config: &C) -> Result<Self, Error> {
        let command = config.read16(COMMAND)?;
        config.write16(COMMAND, command | COMMAND_MEMORY_SPACE | COMMAND_BUS_MASTER)?;
        let layout: Layout = find_layout(config)?;
        Ok(Transport {
            common: Mapped::new(config, Structure::Common, layout.common)?,
            notify: Mapped::new(config, Structure::Notify, layout.notify)?,
            notify_multiplier: layout.notify_multiplier,
            isr: Mapped::new(config, Structure::Isr, layout.isr)?,
            device: match layout.device {
                Some(region) => Some(Mapped::new(config, Structure::Device, region)?),
                None => None,
            },
        })
    }

    /// The device status.
    ///
    /// # Errors
    /// A refused register access.
    pub fn status(&self) -> Result<u8, Error> {
        self.common.read8(common::DEVICE_STATUS)
    }

    fn add_status(&self, bits: u8) -> Result<(), Error> {
        let now = self.status()?;
        self.common.write8(common::DEVICE_STATUS, now | bits)
    }

    /// Resets the device: writes 0 to its status and waits until it reads
    /// back as 0.
    ///
    /// # Errors
    /// [`Error::ResetTimedOut`], or a refused register access.
    pub fn reset(&self) -> Result<(), Error> {
        self.common.write8(common::DEVICE_STATUS, 0)?;
        for _ in 0..RESET_POLLS {
            if self.status()? == 0 {
                return Ok(());
            }
        }
        Err(Error::ResetTimedOut)
    }

    /// Tells the device the driver gave up on it (status `FAILED`); a
    /// refused access is ignored, there is nothing more to do then.
    pub fn fail(&self) {
        let _ = self.add_status(status::FAILED);
    }

    /// The features the device offers, all 64 bits.
    ///
    /// # Errors
    /// A refused register access.
    pub fn device_features(&self) -> Result<u64, Error> {
        self.common.write32(common::DEVICE_FEATURE_SELECT, 0)?;
        let low = self.common.read32(common::DEVICE_FEATURE)?;
        self.common.write32(common::DEVICE_FEATURE_SELECT, 1)?;
        let high = self.common.read32(common::DEVICE_FEATURE)?;
        Ok(u64::from(high) << 32 | u64::from(low))
    }

    /// The start of initialisation (virtio 1.x, 3.1.1) up to `FEATURES_OK`:
    /// reset, `ACKNOWLEDGE`, `DRIVER`, then features. `required` (with
    /// `VERSION_1` always) must be offered; of `optional` (with
    /// `ACCESS_PLATFORM` always) the offered ones are taken; no other bit is
    /// accepted. Returns the features accepted. On a failure after the
    /// reset, the device is told `FAILED`.
    ///
    /// # Errors
    /// [`Error::FeatureMissing`], [`Error::FeaturesRefused`],
    /// [`Error::ResetTimedOut`], or a refused register access.
    pub fn begin(&self, required: u64, optional: u64) -> Result<u64, Error> {
        self.reset()?;
        let negotiated = self.negotiate(required, optional);
        if negotiated.is_err() {
            self.fail();
        }
        negotiated
    }

    fn negotiate(&self, required: u64, optional: u64) -> Result<u64, Error> {
        self.add_status(status::ACKNOWLEDGE)?;
        self.add_status(status::DRIVER)?;
        let offered = self.device_features()?;
        let accepted = features::choose(offered, required, optional)?;
        self.common.write32(common::DRIVER_FEATURE_SELECT, 0)?;
        self.common
            .write32(common::DRIVER_FEATURE, accepted as u32)?;
        self.common.write32(common::DRIVER_FEATURE_SELECT, 1)?;
        self.common
            .write32(common::DRIVER_FEATURE, (accepted >> 32) as u32)?;
        self.add_status(status::FEATURES_OK)?;
        if self.status()? & status::FEATURES_OK == 0 {
            return Err(Error::FeaturesRefused);
        }
        Ok(accepted)
    }

    /// Sets up queue `index` in `buffer` with at most `wanted` entries (the
    /// device's size, this driver's [`MAX_QUEUE_SIZE`] and `wanted`, whichever
    /// is least, down to a power of two) and enables it.
    ///
    /// # Errors
    /// [`Error::NoSuchQueue`], [`Error::NotifyOutside`],
    /// [`Error::BufferTooSmall`], or a refused call.
    pub fn setup_queue<B: DmaRegion>(
        &self,
        index: u16,
        buffer: B,
        wanted: u16,
    ) -> Result<SplitQueue<B>, Error> {
        if index >= self.common.read16(common::NUM_QUEUES)? {
            return Err(Error::NoSuchQueue { index });
        }
        self.common.write16(common::QUEUE_SELECT, index)?;
        let offered = self.common.read16(common::QUEUE_SIZE)?;
        let most = offered.min(wanted).min(MAX_QUEUE_SIZE);
        if most == 0 {
            return Err(Error::NoSuchQueue { index });
        }
        let size = 1 << (15 - most.leading_zeros());
        let notify_off = self.common.read16(common::QUEUE_NOTIFY_OFF)?;
        let notify_offset = u32::from(notify_off)
            .checked_mul(self.notify_multiplier)
            .filter(|offset| self.notify.at(*offset, 2).is_ok())
            .ok_or(Error::NotifyOutside { index })?;
        let queue = SplitQueue::new(buffer, index, size, notify_offset)?;
        let (descriptors, driver, device) = queue.addresses();
        self.common.write16(common::QUEUE_SIZE, size)?;
        self.common.write64(common::QUEUE_DESC, descriptors)?;
        self.common.write64(common::QUEUE_DRIVER, driver)?;
        self.common.write64(common::QUEUE_DEVICE, device)?;
        self.common.write16(common::QUEUE_ENABLE, 1)?;
        Ok(queue)
    }

    /// Points queue `index`'s interrupt at MSI-X table entry `entry` and
    /// turns the configuration-change interrupt off (no vector), then reads
    /// both back: a device that cannot map the vector reads back
    /// [`NO_VECTOR`]. Returns whether the device took `entry`; when it did
    /// not, the queue is left with no vector (the driver uses INTx, which
    /// the device raises while MSI-X is off). `NO_VECTOR` as `entry` takes
    /// the vectors away.
    ///
    /// # Errors
    /// [`Error::NoSuchQueue`], or a refused register access.
    pub fn set_queue_vector(&self, index: u16, entry: u16) -> Result<bool, Error> {
        if index >= self.common.read16(common::NUM_QUEUES)? {
            return Err(Error::NoSuchQueue { index });
        }
        self.common.write16(common::MSIX_CONFIG, NO_VECTOR)?;
        self.common.write16(common::QUEUE_SELECT, index)?;
        self.common.write16(common::QUEUE_MSIX_VECTOR, entry)?;
        if self.common.read16(common::QUEUE_MSIX_VECTOR)? == entry {
            return Ok(true);
        }
        self.common.write16(common::QUEUE_MSIX_VECTOR, NO_VECTOR)?;
        Ok(false)
    }

    /// Ends initialisation: `DRIVER_OK`; the device may use its queues.
    ///
    /// # Errors
    /// A refused register access.
    pub fn driver_ok(&self) -> Result<(), Error> {
        self.add_status(status::DRIVER_OK)
    }

    /// Tells the device that `queue` has new available entries.
    ///
    /// # Errors
    /// A refused register access.
    pub fn notify<B: DmaRegion>(&self, queue: &SplitQueue<B>) -> Result<(), Error> {
        self.notify.write16(queue.notify_offset(), queue.index())
    }

    /// Reads the interrupt status (bit 0: a queue was used; bit 1: the
    /// device configuration changed); reading it acknowledges the interrupt.
    ///
    /// # Errors
    /// A refused register access.
    pub fn interrupt_status(&self) -> Result<u8, Error> {
        self.isr.read8(0)
    }

    /// Reads the device configuration with `read` until the configuration
    /// generation is the same before and after (so a multi-field value is
    /// not torn by a change); a configuration that keeps changing is read
    /// once more and taken as that read finds it.
    ///
    /// # Errors
    /// [`Error::MissingStructure`] if the device has no device
    /// configuration, [`Error::OutsideStructure`], or a refused access.
    pub fn read_device_config<T>(
        &self,
        read: impl Fn(&DeviceConfig<'_, W>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let device = self
            .device
            .as_ref()
            .ok_or(Error::MissingStructure(Structure::Device))?;
        let config = DeviceConfig { mapped: device };
        for _ in 0..GENERATION_TRIES {
            let before = self.common.read8(common::CONFIG_GENERATION)?;
            let value = read(&config)?;
            let after = self.common.read8(common::CONFIG_GENERATION)?;
            if before == after {
                return Ok(value);
            }
        }
        read(&config)
    }
}

/// The device configuration, as [`Transport::read_device_config`] lends it.
pub struct DeviceConfig<'t, W> {
    mapped: &'t Mapped<W>,
}

impl<W: RegisterWindow> DeviceConfig<'_, W> {
    /// Reads a byte.
    ///
    /// # Errors
    /// [`Error::OutsideStructure`], or a refused access.
    pub fn read8(&self, offset: u32) -> Result<u8, Error> {
        self.mapped.read8(offset)
    }

    /// Reads 16 bits.
    ///
    /// # Errors
    /// [`Error::OutsideStructure`], or a refused access.
    pub fn read16(&self, offset: u32) -> Result<u16, Error> {
        self.mapped.read16(offset)
    }

    /// Reads 32 bits.
    ///
    /// # Errors
    /// [`Error::OutsideStructure`], or a refused access.
    pub fn read32(&self, offset: u32) -> Result<u32, Error> {
        self.mapped.read32(offset)
    }

    /// Reads 64 bits as two 32-bit reads, low half first.
    ///
    /// # Errors
    /// [`Error::OutsideStructure`], or a refused access.
    pub fn read64(&self, offset: u32) -> Result<u64, Error> {
        let low = self.mapped.read32(offset)?;
        let high = self
            .mapped
            .read32(offset.checked_add(4).ok_or(Error::OutsideStructure {
                structure: Structure::Device,
                offset,
            })?)?;
        Ok(u64::from(high) << 32 | u64::from(low))
    }
}
