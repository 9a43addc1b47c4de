//! Capability handles: how a module names what it was granted.

use crate::error::{Result, value32};
use crate::sys;

/// A handle to one of this instance's capabilities, as the host issued it.
///
/// Handles carry the instance's generation: a handle kept from before a
/// restart is refused as stale. Modules rarely touch handles directly; the
/// capability types ([`crate::Ports`], [`crate::Irq`], ...) wrap them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle(i32);

impl Handle {
    /// The handle of the capability the manifest requested at `index`
    /// (0-based, counting capability lines only). The [`crate::module!`]
    /// macro calls this for you.
    ///
    /// # Errors
    /// [`crate::ErrorCode::BadArgument`] when the manifest has no such line.
    pub fn for_capability(index: u32) -> Result<Handle> {
        let index = i32::try_from(index).map_err(|_| crate::ErrorCode::BadArgument)?;
        let raw = value32(sys::cap_handle(index))?;
        // `raw` came from a non-negative i32.
        Ok(Handle(raw as i32))
    }

    /// A handle from its raw value, as the host passes it to `on_irq` and
    /// `on_timer`.
    pub const fn from_raw(raw: i32) -> Handle {
        Handle(raw)
    }

    /// The raw value the host functions take.
    pub const fn raw(self) -> i32 {
        self.0
    }
}

/// A capability type built from a handle (what [`crate::module!`] uses to
/// fill in the capabilities struct).
pub trait FromHandle {
    /// Wraps `handle`.
    fn from_handle(handle: Handle) -> Self;
}
