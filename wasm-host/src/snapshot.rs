//! State export and import: the module serialises itself; the host copies
//! the bytes between instances (used by hot swap).

use crate::faults::{Entry, Fault, FaultKind, StateError};
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::sandbox::Sandbox;
use crate::state::guest_range;
use alloc::vec::Vec;
use cella_abi::MAX_STATE_BYTES;

/// A state exported by `save_state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedState {
    /// The exporting module's state-format version.
    pub format_version: u32,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl<P: Platform, O: Outbox> Sandbox<P, O> {
    /// Asks the module to serialise its state (`save_state`) and copies it out.
    /// A failure here does not kill the instance: the module was quiescent
    /// and stays usable.
    ///
    /// # Errors
    /// [`FaultKind::BadState`] for a missing export or a blob outside linear
    /// memory or too large; a trap or fuel fault while saving.
    pub fn save_state(&mut self) -> Result<SavedState, Fault> {
        self.check_alive()?;
        if self.suspended.is_some() {
            return Err(self.report(Entry::SaveState, FaultKind::BadState(StateError::Waiting)));
        }
        let Some(save) = self.entries.save_state else {
            return Err(self.report(
                Entry::SaveState,
                FaultKind::BadState(StateError::NoSaveExport),
            ));
        };
        let packed = self.run(Entry::SaveState, save, (), false)? as u64;
        let pointer = (packed & 0xffff_ffff) as u32;
        let length = (packed >> 32) as u32;
        if length > MAX_STATE_BYTES {
            return Err(self.report(Entry::SaveState, FaultKind::BadState(StateError::TooLarge)));
        }
        let bytes = self.store.data().memory.and_then(|memory| {
            let data = memory.data(&self.store);
            let range = guest_range(data.len(), pointer as i32, length).ok()?;
            data.get(range).map(<[u8]>::to_vec)
        });
        match bytes {
            Some(bytes) => Ok(SavedState {
                format_version: self.module.state_version,
                bytes,
            }),
            None => Err(self.report(
                Entry::SaveState,
                FaultKind::BadState(StateError::BlobOutOfBounds),
            )),
        }
    }

    /// Hands a saved state to a freshly instantiated module: `state_buffer`,
    /// copy, `restore_state`. Kills the instance on failure.
    pub(crate) fn restore_state(&mut self, saved: &SavedState) -> Result<(), Fault> {
        let entry = Entry::RestoreState;
        let (Some(buffer), Some(restore)) = (self.entries.state_buffer, self.entries.restore_state)
        else {
            return Err(self.kill(entry, FaultKind::BadState(StateError::NoRestoreExport)));
        };
        let Ok(length) = i32::try_from(saved.bytes.len()) else {
            return Err(self.kill(entry, FaultKind::BadState(StateError::TooLarge)));
        };
        let pointer = self.run(entry, buffer, length, true)?;
        let copied = self.store.data().memory.and_then(|memory| {
            let data = memory.data_mut(&mut self.store);
            let range = guest_range(data.len(), pointer, length as u32).ok()?;
            data.get_mut(range)?.copy_from_slice(&saved.bytes);
            Some(())
        });
        if copied.is_none() {
            return Err(self.kill(entry, FaultKind::BadState(StateError::BufferOutOfBounds)));
        }
        let version = saved.format_version as i32;
        let code = self.run(entry, restore, (pointer, length, version), true)?;
        if code != 0 {
            return Err(self.kill(entry, FaultKind::BadState(StateError::Rejected(code))));
        }
        Ok(())
    }
}
