//! The data a sandbox's wasmi store carries: everything a host call may
//! touch, and the bookkeeping that decides between "return an error code"
//! and "fault the module".

use crate::access::{Access, Attempt};
use crate::capabilities::CapabilityTable;
use crate::faults::FaultKind;
use crate::fuel::Meter;
use crate::held::HeldMessages;
use crate::limits::Limits;
use crate::log_budget::LogBudget;
use crate::outbox::Outbox;
use crate::outstanding::OutstandingCalls;
use crate::platform::Platform;
use crate::trace::{Counters, Trace};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_abi::{ErrorClass, ErrorCode, HostFunction, LogLevel};
use core::ops::Range;

/// Per-instance host state, owned by the instance's wasmi store.
pub struct State<P, O> {
    /// Module name from the manifest.
    pub(crate) module: String,
    pub(crate) platform: P,
    pub(crate) outbox: O,
    pub(crate) capabilities: CapabilityTable,
    /// The exported linear memory, if any.
    pub(crate) memory: Option<wasmi::Memory>,
    pub(crate) limiter: crate::memory_limiter::MemoryLimiter<P>,
    pub(crate) limits: Limits,
    pub(crate) counters: Counters,
    pub(crate) trace: Trace,
    /// Set by a host call that decided to fault the module.
    pub(crate) pending_fault: Option<FaultKind>,
    /// The message being handled (valid while `message_present`).
    pub(crate) message: Vec<u8>,
    pub(crate) message_present: bool,
    /// Requests received and not yet answered.
    pub(crate) pending_requests: Vec<u32>,
    /// Calls made and not yet answered.
    pub(crate) calls: OutstandingCalls,
    /// While this instance is a swap's successor that has not taken over:
    /// its outgoing messages, held until the swap commits.
    pub(crate) held: Option<HeldMessages>,
    /// DMA bytes the instance this one replaces still holds (non-zero only
    /// between a swap's hand-over start and its commit): allocations here
    /// count them against the module's grant.
    pub(crate) dma_held_by_predecessor: u64,
    /// DMA bytes the grant allows the module in all.
    pub(crate) dma_grant: u64,
    /// The fuel of the host call in progress (see [`crate::fuel`]).
    pub(crate) meter: Meter,
    /// What the current event has logged.
    pub(crate) log_budget: LogBudget,
    /// The device access the host call in progress attempted, set only when
    /// the call is about to be refused (taken by the refusal).
    pub(crate) attempt: Option<Attempt>,
    /// The running entry is an event handler, which may wait in `ipc_wait`.
    pub(crate) may_wait: bool,
    /// Set by `ipc_wait` as it suspends the handler: what it waits for.
    pub(crate) wait_request: Option<crate::waiting::WaitRequest>,
}

impl<P, O> State<P, O> {
    /// Remembers the device access about to be refused with `error`, for the
    /// refusal's trace entry and warning; returns `error`.
    #[cold]
    pub(crate) fn refuse_attempt(&mut self, attempt: Attempt, error: ErrorCode) -> ErrorCode {
        self.attempt = Some(attempt);
        error
    }
}

impl<P: Platform, O: Outbox> State<P, O> {
    /// Records a device access.
    #[inline]
    pub(crate) fn record(&mut self, access: Access) {
        self.counters.device_accesses = self.counters.device_accesses.wrapping_add(1);
        self.note(access);
    }

    /// Records a trace entry that is not a device access (a message, a
    /// refusal).
    #[inline]
    pub(crate) fn note(&mut self, access: Access) {
        self.counters.trace_entries = self.counters.trace_entries.wrapping_add(1);
        self.trace.record(access);
    }

    /// Pays fuel for `bytes` bytes a host call is about to move, and counts
    /// them.
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] when the fuel does not cover them (the call
    /// then traps with `OutOfFuel`; see [`crate::fuel`]).
    #[inline]
    pub(crate) fn pay_for_bytes(&mut self, bytes: usize) -> Result<(), ErrorCode> {
        let bytes = bytes as u64;
        self.meter.charge_bytes(bytes)?;
        self.counters.host_call_bytes = self.counters.host_call_bytes.saturating_add(bytes);
        Ok(())
    }

    /// Pays [`crate::fuel::PORT_BYTE_FUEL`] for each of `bytes` bytes a bulk
    /// port call is about to move, and counts them.
    ///
    /// # Errors
    /// As [`State::pay_for_bytes`].
    #[inline]
    pub(crate) fn pay_for_port_bytes(&mut self, bytes: usize) -> Result<(), ErrorCode> {
        let bytes = bytes as u64;
        self.meter
            .charge(bytes.saturating_mul(crate::fuel::PORT_BYTE_FUEL))?;
        self.counters.host_call_bytes = self.counters.host_call_bytes.saturating_add(bytes);
        Ok(())
    }

    /// Turns a call's outcome into the guest's `i64` result: the value, a
    /// negative error code, or a trap when the module has misbehaved too often.
    #[inline]
    pub(crate) fn conclude_i64(
        &mut self,
        function: HostFunction,
        outcome: Result<i64, ErrorCode>,
    ) -> Result<i64, wasmi::Error> {
        self.counters.host_calls = self.counters.host_calls.wrapping_add(1);
        match outcome {
            Ok(value) => Ok(value),
            Err(error) => self
                .refuse(function, error)
                .map(|()| i64::from(error.code())),
        }
    }

    /// As [`State::conclude_i64`] for calls returning `i32`.
    #[inline]
    pub(crate) fn conclude_i32(
        &mut self,
        function: HostFunction,
        outcome: Result<i32, ErrorCode>,
    ) -> Result<i32, wasmi::Error> {
        self.counters.host_calls = self.counters.host_calls.wrapping_add(1);
        match outcome {
            Ok(value) => Ok(value),
            Err(error) => self.refuse(function, error).map(|()| error.code()),
        }
    }

    /// Counts and logs a refused call; faults the module past its limits.
    #[cold]
    fn refuse(&mut self, function: HostFunction, error: ErrorCode) -> Result<(), wasmi::Error> {
        let attempt = self.attempt.take();
        self.note(Access::Refused {
            function,
            error,
            attempt,
        });
        let (count, limit, fault) = match error.class() {
            ErrorClass::Violation => {
                self.counters.violations = self.counters.violations.saturating_add(1);
                let count = self.counters.violations;
                (
                    count,
                    self.limits.max_violations,
                    FaultKind::Violations {
                        count,
                        function,
                        error,
                    },
                )
            }
            ErrorClass::BadCall => {
                self.counters.bad_calls = self.counters.bad_calls.saturating_add(1);
                let count = self.counters.bad_calls;
                (
                    count,
                    self.limits.max_bad_calls,
                    FaultKind::BadHostCalls {
                        count,
                        function,
                        error,
                    },
                )
            }
            ErrorClass::Success | ErrorClass::Condition => return Ok(()),
        };
        let message = match attempt {
            Some(attempt) => {
                format!("refused {function} {attempt}: {error} (#{count}, limit {limit})")
            }
            None => format!("refused {function}: {error} (#{count}, limit {limit})"),
        };
        self.platform.log(&self.module, LogLevel::Warn, &message);
        if count > limit {
            self.pending_fault = Some(fault);
            return Err(wasmi::Error::new("cella: module faulted by the host"));
        }
        Ok(())
    }
}

/// The byte range `pointer .. pointer + length` of a linear memory of
/// `memory_length` bytes. Pointers and lengths are unsigned 32-bit values.
///
/// # Errors
/// [`ErrorCode::BadPointer`] if the range is not inside the memory.
#[inline]
pub(crate) fn guest_range(
    memory_length: usize,
    pointer: i32,
    length: u32,
) -> Result<Range<usize>, ErrorCode> {
    let start = pointer as u32 as usize;
    let end = start
        .checked_add(length as usize)
        .ok_or(ErrorCode::BadPointer)?;
    if end > memory_length {
        return Err(ErrorCode::BadPointer);
    }
    Ok(start..end)
}

/// A guest length: negative values are refused.
///
/// # Errors
/// [`ErrorCode::BadArgument`] for a negative length or one above `maximum`.
#[inline]
pub(crate) fn guest_length(length: i32, maximum: u32) -> Result<u32, ErrorCode> {
    let length = u32::try_from(length).map_err(|_| ErrorCode::BadArgument)?;
    if length > maximum {
        return Err(ErrorCode::BadArgument);
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(guest_range(100, 10, 20), Ok(10..30));
        assert_eq!(guest_range(100, 90, 10), Ok(90..100));
        assert_eq!(guest_range(100, 91, 10), Err(ErrorCode::BadPointer));
        assert_eq!(guest_range(100, -1, 1), Err(ErrorCode::BadPointer));
        assert_eq!(guest_length(-1, 10), Err(ErrorCode::BadArgument));
        assert_eq!(guest_length(11, 10), Err(ErrorCode::BadArgument));
        assert_eq!(guest_length(10, 10), Ok(10));
    }
}
