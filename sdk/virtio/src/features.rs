//! Feature bits and the one rule by which the driver chooses what to
//! accept of what a device offers.

use crate::error::Error;

/// The device complies with virtio 1.x (the modern interface); required.
pub const VERSION_1: u64 = 1 << 32;
/// The device reaches memory through the platform's IOMMU; accepted
/// whenever offered (DMA buffers are mapped for the device).
pub const ACCESS_PLATFORM: u64 = 1 << 33;

/// What to accept of `offered`: all of `required` (with [`VERSION_1`]),
/// and of `optional` (with [`ACCESS_PLATFORM`]) what is offered. Every other
/// offered bit is refused: the driver implements no more than it names.
///
/// # Errors
/// [`Error::FeatureMissing`] with the lowest required bit not offered.
pub fn choose(offered: u64, required: u64, optional: u64) -> Result<u64, Error> {
    let required = required | VERSION_1;
    let missing = required & !offered;
    if missing != 0 {
        return Err(Error::FeatureMissing {
            bit: missing.trailing_zeros() as u8,
        });
    }
    Ok(offered & (required | optional | ACCESS_PLATFORM))
}
