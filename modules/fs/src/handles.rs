//! The table of open files: a bounded number of slots, each opening with a
//! generation that holds the server instance's epoch (high 16 bits) and
//! how often the slot was used (low 16 bits), so a closed handle, and every
//! handle of an instance that restarted since, is [`FsError::Stale`]. A
//! hot swap carries the table over ([`Handles::save`], [`Handles::restore`]).

use alloc::string::String;
use alloc::vec::Vec;
use cella_sdk::interfaces::fs::{FsError, Handle, MAX_PATH_BYTES, Mode};

/// The most files open at once.
pub const MOST_OPEN: usize = 32;

/// The saved table's format.
pub const STATE_FORMAT: u32 = 1;
const STATE_MAGIC: &[u8; 4] = b"FSHT";

/// One opening of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opening {
    /// Its path, as the client named it.
    pub path: String,
    /// Whether writes and truncation are allowed.
    pub writable: bool,
}

#[derive(Clone, Debug, Default)]
struct Slot {
    uses: u16,
    opening: Option<Opening>,
}

/// The table.
pub struct Handles {
    epoch: u16,
    slots: Vec<Slot>,
}

/// Why a saved table was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadState {
    /// Not a table this version saves.
    Format,
    /// Cut short or longer than its contents.
    Length,
}

impl Handles {
    /// An empty table for an instance whose epoch is `epoch` (0 is taken as 1).
    pub fn new(epoch: u16) -> Handles {
        Handles {
            epoch: epoch.max(1),
            slots: alloc::vec![Slot::default(); MOST_OPEN],
        }
    }

    fn generation(&self, uses: u16) -> u32 {
        (u32::from(self.epoch) << 16) | u32::from(uses)
    }

    /// Whether a slot is free.
    pub fn has_room(&self) -> bool {
        self.slots.iter().any(|slot| slot.opening.is_none())
    }

    /// Takes a free slot for `opening`.
    ///
    /// # Errors
    /// [`FsError::TooManyOpen`] when every slot is in use.
    pub fn open(&mut self, opening: Opening) -> Result<Handle, FsError> {
        let (index, slot) = self
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, slot)| slot.opening.is_none())
            .ok_or(FsError::TooManyOpen)?;
        slot.uses = slot.uses.wrapping_add(1).max(1);
        slot.opening = Some(opening);
        let uses = slot.uses;
        Ok(Handle {
            slot: index as u32,
            generation: self.generation(uses),
        })
    }

    fn slot(&self, handle: Handle) -> Option<usize> {
        let index = usize::try_from(handle.slot).ok()?;
        let slot = self.slots.get(index)?;
        (slot.opening.is_some() && self.generation(slot.uses) == handle.generation).then_some(index)
    }

    /// The opening `handle` names.
    ///
    /// # Errors
    /// [`FsError::Stale`]: no such slot, closed, or from another opening.
    pub fn get(&mut self, handle: Handle) -> Result<&mut Opening, FsError> {
        let index = self.slot(handle).ok_or(FsError::Stale)?;
        self.slots[index].opening.as_mut().ok_or(FsError::Stale)
    }

    /// Ends `handle`; returns what it had open.
    ///
    /// # Errors
    /// [`FsError::Stale`], as [`Handles::get`].
    pub fn close(&mut self, handle: Handle) -> Result<Opening, FsError> {
        let index = self.slot(handle).ok_or(FsError::Stale)?;
        self.slots[index].opening.take().ok_or(FsError::Stale)
    }

    /// Ends every handle whose opening `end` picks.
    pub fn close_where(&mut self, mut end: impl FnMut(&Opening) -> bool) {
        for slot in &mut self.slots {
            if slot.opening.as_ref().is_some_and(&mut end) {
                slot.opening = None;
            }
        }
    }

    /// How many handles are open.
    pub fn count(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.opening.is_some())
            .count()
    }

    /// Writes the table (epoch, and per slot its uses, path and mode) into
    /// `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`BadState::Length`] if it does not fit.
    pub fn save(&self, out: &mut [u8]) -> Result<usize, BadState> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(STATE_MAGIC);
        bytes.extend_from_slice(&self.epoch.to_le_bytes());
        for slot in &self.slots {
            bytes.extend_from_slice(&slot.uses.to_le_bytes());
            match &slot.opening {
                None => bytes.push(0),
                Some(opening) => {
                    bytes.push(if opening.writable { 2 } else { 1 });
                    bytes.extend_from_slice(&(opening.path.len() as u16).to_le_bytes());
                    bytes.extend_from_slice(opening.path.as_bytes());
                }
            }
        }
        let target = out.get_mut(..bytes.len()).ok_or(BadState::Length)?;
        target.copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    /// The table [`Handles::save`] wrote.
    ///
    /// # Errors
    /// [`BadState`] for bytes it did not write.
    pub fn restore(saved: &[u8]) -> Result<Handles, BadState> {
        let mut reader = Reader(saved);
        if reader.take(4)? != STATE_MAGIC {
            return Err(BadState::Format);
        }
        let mut handles = Handles::new(reader.u16()?);
        for slot in &mut handles.slots {
            slot.uses = reader.u16()?;
            let writable = match reader.take(1)?[0] {
                0 => continue,
                1 => false,
                2 => true,
                _ => return Err(BadState::Format),
            };
            let length = usize::from(reader.u16()?);
            if length > MAX_PATH_BYTES {
                return Err(BadState::Format);
            }
            let path = core::str::from_utf8(reader.take(length)?).map_err(|_| BadState::Format)?;
            slot.opening = Some(Opening {
                path: String::from(path),
                writable,
            });
        }
        if !reader.0.is_empty() {
            return Err(BadState::Length);
        }
        Ok(handles)
    }
}

/// Reads a saved table.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], BadState> {
        if self.0.len() < count {
            return Err(BadState::Length);
        }
        let (head, tail) = self.0.split_at(count);
        self.0 = tail;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, BadState> {
        let bytes = self.take(2)?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }
}

/// Whether `mode` lets the handle write.
pub fn writable(mode: Mode) -> bool {
    !matches!(mode, Mode::Read)
}
