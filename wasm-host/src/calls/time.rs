//! `time_now` / `timer_set` / `timer_cancel`. The host only records the
//! deadline; the embedder reads [`crate::Sandbox::next_timer_deadline`] and
//! delivers [`crate::Event::Timer`].

use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::state::State;
use cella_abi::{CapabilityKind, ErrorCode};

/// `time_now()`.
pub(crate) fn now<P: Platform, O: Outbox>(state: &mut State<P, O>) -> i64 {
    i64::try_from(state.platform.now_nanoseconds()).unwrap_or(i64::MAX)
}

/// `timer_set(handle, deadline)` / `timer_cancel(handle)` (deadline `None`).
pub(crate) fn set<P, O>(
    state: &mut State<P, O>,
    handle: i32,
    deadline: Option<i64>,
) -> Result<i32, ErrorCode> {
    let deadline = match deadline {
        Some(value) => Some(u64::try_from(value).map_err(|_| ErrorCode::BadArgument)?),
        None => None,
    };
    let slot = state.capabilities.resolve(handle, CapabilityKind::Timer)?;
    let Some(Capability::Timer { deadline: armed }) = state.capabilities.get_mut(slot) else {
        return Err(ErrorCode::BadHandle);
    };
    *armed = deadline;
    Ok(0)
}
