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
use cella_abi::{CapabilityKind, ErrorCode, Rights};

/// Resolves a handle and returns a copy of its capability.
#[inline]
pub(crate) fn lookup<P, O>(
    state: &State<P, O>,
    handle: i32,
    kind: CapabilityKind,
) -> Result<(usize, Capability), ErrorCode> {
    let (slot, capability) = state.capabilities.find(handle, kind)?;
    Ok((slot, capability.clone()))
}

/// Resolves an endpoint handle that carries `wanted`; returns the endpoint's
/// id.
///
/// # Errors
/// As [`lookup`]; [`ErrorCode::Denied`] when the capability lacks `wanted`
/// (a served endpoint's handle, which has only [`Rights::RECEIVE`], for a
/// send), as for a handle of the wrong kind.
pub(crate) fn endpoint_id<P, O>(
    state: &State<P, O>,
    handle: i32,
    wanted: Rights,
) -> Result<u64, ErrorCode> {
    match state.capabilities.find(handle, CapabilityKind::Endpoint)? {
        (_, Capability::Endpoint { id, rights }) if rights.contains(wanted) => Ok(*id),
        (_, Capability::Endpoint { .. }) => Err(ErrorCode::Denied),
        _ => Err(ErrorCode::BadHandle),
    }
}

/// `cap_handle(index)`.
pub(crate) fn capability_handle<P, O>(state: &State<P, O>, index: i32) -> Result<i32, ErrorCode> {
    state.capabilities.handle_for_index(index)
}
