//! Interrupt lines.

use crate::error::{Result, status};
use crate::handle::{FromHandle, Handle};
use crate::sys;

/// A granted IRQ line (manifest line `irq LINE`). It starts masked: call
/// [`Irq::enable`] once the device is ready, and [`Irq::acknowledge`] at the
/// end of every `on_irq` for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Irq {
    handle: Handle,
}

impl FromHandle for Irq {
    fn from_handle(handle: Handle) -> Irq {
        Irq { handle }
    }
}

impl Irq {
    /// The capability handle (what `on_irq` receives).
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Whether an `on_irq` handle names this line.
    pub fn is(&self, handle: Handle) -> bool {
        self.handle == handle
    }

    /// Unmasks the line.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn enable(&self) -> Result<()> {
        status(sys::irq_enable(self.handle.raw()))
    }

    /// Masks the line.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn disable(&self) -> Result<()> {
        status(sys::irq_disable(self.handle.raw()))
    }

    /// Signals end of interrupt.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn acknowledge(&self) -> Result<()> {
        status(sys::irq_ack(self.handle.raw()))
    }
}
