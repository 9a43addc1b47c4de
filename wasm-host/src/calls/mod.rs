//! Host-function bodies, one file per capability kind. Each validates every
//! argument first and touches hardware only after all checks pass; each
//! returns `Result<value, ErrorCode>` and the linker turns that into the
//! guest's result (see [`crate::state::State::conclude_i32`]).

pub(crate) mod call;
pub(crate) mod dma;
pub(crate) mod ipc;
pub(crate) mod irq;
pub(crate) mod log;
pub(crate) mod mmio;
pub(crate) mod pci;
pub(crate) mod ports;
pub(crate) mod time;

use crate::capabilities::Capability;
use crate::state::State;
use cella_abi::{CapabilityKind, ErrorCode};

/// Resolves a handle and returns a copy of its capability.
#[inline]
pub(crate) fn lookup<P, O>(
    state: &State<P, O>,
    handle: i32,
    kind: CapabilityKind,
) -> Result<(usize, Capability), ErrorCode> {
    let slot = state.capabilities.resolve(handle, kind)?;
    let capability = state
        .capabilities
        .get(slot)
        .cloned()
        .ok_or(ErrorCode::BadHandle)?;
    Ok((slot, capability))
}

/// `cap_handle(index)`.
pub(crate) fn capability_handle<P, O>(state: &State<P, O>, index: i32) -> Result<i32, ErrorCode> {
    state.capabilities.handle_for_index(index)
}
