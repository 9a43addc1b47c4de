//! Everything that can go wrong between the driver and the device, each a
//! variant a driver can act on and a person can read.

use crate::capabilities::Structure;
use cella_abi::ErrorCode;
use core::fmt;

/// Why a virtio operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A host call was refused.
    Platform(ErrorCode),
    /// The function's status register says it has no capability list.
    NoCapabilityList,
    /// A capability pointer outside the configuration space, or a list
    /// longer than the space can hold (a loop).
    BadCapabilityList {
        /// The pointer that was followed last.
        at: u8,
    },
    /// No capability describes this structure.
    MissingStructure(Structure),
    /// The structure's capability gives a region too small for it, or one
    /// whose end overflows.
    StructureTooSmall(Structure),
    /// An access at `offset` past the end of a structure's region.
    OutsideStructure {
        /// The structure.
        structure: Structure,
        /// The offset inside the structure.
        offset: u32,
    },
    /// After a reset the device status did not read back as zero.
    ResetTimedOut,
    /// The device does not offer a feature the driver needs.
    FeatureMissing {
        /// The feature's bit number.
        bit: u8,
    },
    /// The device did not keep `FEATURES_OK`: it refuses the features the
    /// driver accepted.
    FeaturesRefused,
    /// The device has no queue with this index (its size reads as zero, or
    /// the index is past `num_queues`).
    NoSuchQueue {
        /// The queue's index.
        index: u16,
    },
    /// The notify structure does not reach the queue's notify address.
    NotifyOutside {
        /// The queue's index.
        index: u16,
    },
    /// A DMA buffer is too small for what it is asked to hold.
    BufferTooSmall,
    /// Not enough free descriptors for the chain.
    QueueFull,
    /// A chain without buffers, or with one of zero length.
    EmptyChain,
    /// The used ring's index ran ahead of the driver's by more than the
    /// queue holds.
    UsedIndexAhead {
        /// How far ahead.
        ahead: u16,
    },
    /// A used entry names a descriptor the queue does not have.
    UsedIdOutOfRange {
        /// The id the device wrote.
        id: u32,
    },
    /// A used entry names a descriptor that heads no chain in flight.
    UsedIdNotOutstanding {
        /// The id the device wrote.
        id: u32,
    },
    /// A used entry says the device wrote more than the chain offered it.
    UsedLengthTooLong {
        /// The chain's head.
        id: u32,
        /// What the device says it wrote.
        written: u32,
        /// What the chain offered for writing.
        offered: u32,
    },
    /// A used entry says the device wrote less than a buffer's header.
    UsedLengthTooShort {
        /// The chain's head.
        id: u32,
        /// What the device says it wrote.
        written: u32,
        /// The least it must write.
        least: u32,
    },
    /// The queue met device garbage earlier and takes no more work.
    QueueBroken,
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Error {
        Error::Platform(code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Platform(code) => write!(out, "a host call was refused: {code}"),
            Error::NoCapabilityList => out.write_str("the function has no capability list"),
            Error::BadCapabilityList { at } => {
                write!(out, "the capability list is broken at {at:#04x}")
            }
            Error::MissingStructure(structure) => {
                write!(out, "no capability describes the {structure}")
            }
            Error::StructureTooSmall(structure) => {
                write!(out, "the {structure}'s region is too small")
            }
            Error::OutsideStructure { structure, offset } => {
                write!(out, "offset {offset:#x} lies outside the {structure}")
            }
            Error::ResetTimedOut => out.write_str("the device did not finish its reset"),
            Error::FeatureMissing { bit } => {
                write!(out, "the device does not offer feature bit {bit}")
            }
            Error::FeaturesRefused => {
                out.write_str("the device refused the features the driver accepted")
            }
            Error::NoSuchQueue { index } => write!(out, "the device has no queue {index}"),
            Error::NotifyOutside { index } => {
                write!(
                    out,
                    "queue {index}'s notify address lies outside the notify structure"
                )
            }
            Error::BufferTooSmall => out.write_str("a DMA buffer is too small"),
            Error::QueueFull => out.write_str("the queue has no free descriptors"),
            Error::EmptyChain => out.write_str("a descriptor chain without bytes"),
            Error::UsedIndexAhead { ahead } => write!(
                out,
                "the device moved the used index {ahead} entries ahead, more than the queue holds"
            ),
            Error::UsedIdOutOfRange { id } => {
                write!(
                    out,
                    "the device returned descriptor {id}, which the queue does not have"
                )
            }
            Error::UsedIdNotOutstanding { id } => {
                write!(
                    out,
                    "the device returned descriptor {id}, which is not in flight"
                )
            }
            Error::UsedLengthTooLong {
                id,
                written,
                offered,
            } => write!(
                out,
                "the device says it wrote {written} bytes into chain {id}, which offered {offered}"
            ),
            Error::UsedLengthTooShort { id, written, least } => write!(
                out,
                "the device says it wrote {written} bytes into chain {id}, less than the {least}-byte header"
            ),
            Error::QueueBroken => {
                out.write_str("the queue met device garbage and takes no more work")
            }
        }
    }
}
