//! Fuel for host work: every host call pays [`HOST_CALL_FUEL`] on top of the
//! fuel of the call instruction, and a host call that copies, logs or scans
//! bytes pays for them too, so one event's budget bounds everything it makes
//! the host do.
//!
//! The linker reads the store's fuel into [`Meter`] before such a call and
//! writes what is left back after it; the call body charges with
//! [`Meter::charge_bytes`] after validating its arguments and before moving a
//! byte. When the fuel does not cover the bytes, nothing is moved and the call
//! traps with `OutOfFuel`, exactly as if a Wasm instruction had used the fuel
//! up.

use cella_abi::ErrorCode;

/// Fuel every host call pays, whatever it does: a host call costs the host
/// about as much as this many cheap Wasm instructions (measured by
/// `cargo bench -p cella-wasm-host --bench event_worst_case`).
pub const HOST_CALL_FUEL: u64 = 16;

/// Bytes a host call moves per unit of fuel: one fuel per byte copied
/// (DMA, messages), logged or scanned. With the default budget of 1,000,000
/// fuel an event moves at most 1,000,000 bytes through host calls.
pub const BYTES_PER_FUEL: u64 = 1;

/// Fuel per byte of the bulk port calls (`port_in8_n`, `port_out8_n`), on
/// top of [`HOST_CALL_FUEL`] for the call. A byte read one `port_in8` at a
/// time costs the call's [`HOST_CALL_FUEL`] plus the Wasm around it (34
/// fuel in a plain loop storing each byte, measured in `tests/port_bulk.rs`),
/// so the bulk call is 8.5 times cheaper a byte. It is not cheaper still
/// because each byte is still one port access for the host: at 4 fuel a byte
/// an event of bulk reads stays within the 2 ns of host time per unit of
/// fuel that docs/abi.md states (`cargo bench -p cella-wasm-host --bench
/// event_worst_case`; at 2 fuel a byte it measured 2.13 ns).
pub const PORT_BYTE_FUEL: u64 = 4;

/// The fuel a host call may spend.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meter {
    left: u64,
    exhausted: bool,
}

impl Meter {
    /// A meter holding `fuel` (read from the store before the call).
    pub(crate) fn new(fuel: u64) -> Meter {
        Meter {
            left: fuel,
            exhausted: false,
        }
    }

    /// Pays for the call itself out of `fuel`; `None` when it does not
    /// cover [`HOST_CALL_FUEL`].
    pub(crate) fn pay_for_call(fuel: u64) -> Option<u64> {
        fuel.checked_sub(HOST_CALL_FUEL)
    }

    /// The fuel for moving `bytes` bytes.
    pub(crate) fn cost_of(bytes: u64) -> u64 {
        bytes.div_ceil(BYTES_PER_FUEL)
    }

    /// Pays for moving `bytes` bytes.
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] when the fuel left does not cover them: the
    /// meter is then empty and [`Meter::is_exhausted`], and the linker turns
    /// the call into an `OutOfFuel` trap (the guest never sees the code).
    pub(crate) fn charge_bytes(&mut self, bytes: u64) -> Result<(), ErrorCode> {
        self.charge(Meter::cost_of(bytes))
    }

    /// Pays `fuel`.
    ///
    /// # Errors
    /// As [`Meter::charge_bytes`].
    pub(crate) fn charge(&mut self, fuel: u64) -> Result<(), ErrorCode> {
        match self.left.checked_sub(fuel) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => {
                self.left = 0;
                self.exhausted = true;
                Err(ErrorCode::Exhausted)
            }
        }
    }

    /// Fuel left after the call.
    pub(crate) fn left(&self) -> u64 {
        self.left
    }

    /// True when a charge did not fit.
    pub(crate) fn is_exhausted(&self) -> bool {
        self.exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_until_the_fuel_runs_out() {
        let mut meter = Meter::new(10);
        assert_eq!(meter.charge_bytes(4), Ok(()));
        assert_eq!(meter.left(), 10 - Meter::cost_of(4));
        assert!(!meter.is_exhausted());
        assert_eq!(meter.charge_bytes(u64::MAX), Err(ErrorCode::Exhausted));
        assert!(meter.is_exhausted());
        assert_eq!(meter.left(), 0);
        assert_eq!(Meter::cost_of(0), 0);
    }
}
