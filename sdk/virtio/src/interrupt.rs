//! The interrupt a started device raises, for a driver built on the SDK:
//! the kernel's MSI-X vector for the entry its queues were pointed at, or,
//! when the kernel gives none, the function's INTx line (the queues' vectors
//! taken away first, so the device raises INTx).

use crate::Error;
use cella_sdk::{ErrorCode, Irq, PciDevice};

/// A started device whose queues may signal through one MSI-X entry.
pub trait MsixQueues {
    /// The MSI-X entry its queues signal through, if any.
    fn msix_entry(&self) -> Option<u16>;

    /// Takes the queues' vectors away: the device raises INTx from then on.
    ///
    /// # Errors
    /// A refused register access.
    fn drop_msix(&mut self) -> Result<(), Error>;
}

/// Enables the interrupt `device` (started on `function`) raises: its MSI-X
/// vector if the kernel gives one, else its INTx line. `None` (with a
/// warning) when neither can be enabled: the driver then polls, which
/// `polled` names (`completions`, `frames`).
///
/// # Errors
/// [`ErrorCode::DeviceError`] when the device would not give its MSI-X
/// vector up.
pub fn enable(
    function: &PciDevice,
    device: &mut impl MsixQueues,
    polled: &str,
) -> Result<Option<Irq>, ErrorCode> {
    let vector = match device.msix_entry().map(|entry| function.msix(entry)) {
        Some(Ok(vector)) => Some(vector),
        Some(Err(error)) => {
            cella_sdk::warn!("no MSI-X vector ({error}): the device uses its INTx line");
            device.drop_msix().map_err(|error| {
                cella_sdk::error!("the MSI-X vector was not taken away: {error}");
                ErrorCode::DeviceError
            })?;
            None
        }
        None => None,
    };
    let interrupt = match vector {
        Some(vector) => Ok(vector),
        None => function.irq(),
    };
    Ok(match interrupt.and_then(|irq| irq.enable().map(|()| irq)) {
        Ok(irq) => Some(irq),
        Err(error) => {
            cella_sdk::warn!("no interrupt ({error}): {polled} are polled every 10 ms");
            None
        }
    })
}
