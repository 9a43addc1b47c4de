//! `irq_enable` / `irq_disable` / `irq_ack` on a granted line or an MSI-X
//! vector the kernel handed out.

use crate::access::Access;
use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::state::State;
use cella_abi::{CapabilityKind, ErrorCode};

/// `irq_enable(handle)` / `irq_disable(handle)`.
pub(crate) fn set_enabled<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    handle: i32,
    enabled: bool,
) -> Result<i32, ErrorCode> {
    let slot = state
        .capabilities
        .resolve(handle, CapabilityKind::IrqLine)?;
    let line = match state.capabilities.get_mut(slot) {
        Some(Capability::IrqLine { line, .. }) => *line,
        Some(Capability::MsixVector {
            line,
            enabled: state_of_vector,
            ..
        }) => {
            // A vector has one holder: only this capability names it.
            *state_of_vector = enabled;
            let line = *line;
            state.platform.irq_set_enabled(line, enabled);
            state.record(Access::IrqSetEnabled { line, enabled });
            return Ok(0);
        }
        _ => return Err(ErrorCode::BadHandle),
    };
    // A line has one mask: every capability naming it (a manifest may name
    // a line twice) records the line's state, so a swap or a release
    // restores each line exactly as it is.
    for capability in state.capabilities.iter_mut() {
        if let Capability::IrqLine {
            line: held,
            enabled: state_of_line,
        } = capability
            && *held == line
        {
            *state_of_line = enabled;
        }
    }
    state.platform.irq_set_enabled(line, enabled);
    state.record(Access::IrqSetEnabled { line, enabled });
    Ok(0)
}

/// `irq_ack(handle)`.
pub(crate) fn acknowledge<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    handle: i32,
) -> Result<i32, ErrorCode> {
    let slot = state
        .capabilities
        .resolve(handle, CapabilityKind::IrqLine)?;
    let line = match state.capabilities.get(slot) {
        Some(Capability::IrqLine { line, .. } | Capability::MsixVector { line, .. }) => *line,
        _ => return Err(ErrorCode::BadHandle),
    };
    state.platform.irq_acknowledge(line);
    state.record(Access::IrqAcknowledge { line });
    Ok(0)
}
