//! `log(level, pointer, length)`: within the event's log budget (see
//! [`crate::log_budget`]), paid for per byte (see [`crate::fuel`]).

use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::state::{State, guest_length, guest_range};
use cella_abi::{ErrorCode, LogLevel, MAX_LOG_BYTES};

/// `log(level, pointer, length)`.
pub(crate) fn log<P: Platform, O: Outbox>(
    memory: &[u8],
    state: &mut State<P, O>,
    level: i32,
    pointer: i32,
    length: i32,
) -> Result<i32, ErrorCode> {
    let level = LogLevel::from_code(level).ok_or(ErrorCode::BadArgument)?;
    let length = guest_length(length, MAX_LOG_BYTES)?;
    let range = guest_range(memory.len(), pointer, length)?;
    let bytes = memory.get(range).ok_or(ErrorCode::BadPointer)?;
    let limits = state.limits;
    if !state.log_budget.admit(
        length,
        limits.log_lines_per_event,
        limits.log_bytes_per_event,
    ) {
        // Dropped unread: it costs only the call.
        state.counters.log_lines_dropped = state.counters.log_lines_dropped.saturating_add(1);
        return Ok(0);
    }
    state.pay_for_bytes(bytes.len())?;
    let message = core::str::from_utf8(bytes).map_err(|_| ErrorCode::BadUtf8)?;
    state.platform.log(&state.module, level, message);
    Ok(0)
}
