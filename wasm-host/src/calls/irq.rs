//! `irq_enable` / `irq_disable` / `irq_ack` on a granted line.

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
    let Some(Capability::IrqLine { line, .. }) = state.capabilities.get(slot) else {
        return Err(ErrorCode::BadHandle);
    };
    let line = *line;
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
    let Some(Capability::IrqLine { line, .. }) = state.capabilities.get(slot) else {
        return Err(ErrorCode::BadHandle);
    };
    let line = *line;
    state.platform.irq_acknowledge(line);
    state.record(Access::IrqAcknowledge { line });
    Ok(0)
}
