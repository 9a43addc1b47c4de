//! `irq_enable` / `irq_disable` / `irq_ack` on a granted line.

use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::state::State;
use crate::trace::Access;
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
    let Some(Capability::IrqLine {
        line,
        enabled: held,
    }) = state.capabilities.get_mut(slot)
    else {
        return Err(ErrorCode::BadHandle);
    };
    *held = enabled;
    let line = *line;
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
