//! The closed set of error codes of every guest boundary: what a host call
//! returns to a Wasm module and what a syscall returns to a native process.

/// A host call's or a syscall's result code: 0 is success, every refusal is
/// negative. One set for both boundaries: a code means the same whether a
/// module or a process sees it.
///
/// The numbers are fixed for ABI v1. Calls that return a value (port reads,
/// MMIO reads, handles, lengths) return it as a non-negative number, or one of
/// these negative codes. Host calls return them as `i32`, syscalls as `i64`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The call succeeded.
    Ok = 0,
    /// The access is outside the grant: port or MMIO offset past the granted
    /// range, DMA offset past the buffer, a handle of the wrong capability
    /// kind for this call or without the right it needs, an endpoint or
    /// device the caller was not granted.
    Denied = -1,
    /// The handle names no capability of the caller.
    BadHandle = -2,
    /// The handle belonged to an earlier instance of the module, or to a
    /// revoked slot (its generation is old): capabilities die with the
    /// instance that held them.
    StaleHandle = -3,
    /// An MMIO offset that is not a multiple of the access width.
    Misaligned = -4,
    /// A pointer/length pair that is not inside the caller's memory (a Wasm
    /// module's linear memory; a process's mapped user pages, with the
    /// access it needs).
    BadPointer = -5,
    /// An argument out of its domain: negative length, unknown log level,
    /// zero-sized DMA allocation, unknown request id, bad index.
    BadArgument = -6,
    /// A log message that is not valid UTF-8.
    BadUtf8 = -7,
    /// A resource is used up: DMA pool budget, handle table, pending timers,
    /// outstanding calls, a process's kernel-memory allowance.
    Exhausted = -8,
    /// The receiver cannot take the message now (its queue is full, or it
    /// holds too many requests unanswered); try again later.
    Busy = -9,
    /// Nothing to receive: `ipc_receive` outside a message event, or a
    /// receive that may not wait found an empty queue.
    NoMessage = -10,
    /// The platform refused the operation (for example no physical memory for
    /// a DMA buffer).
    DeviceError = -11,
    /// No such call (an unknown syscall number).
    NoSuchCall = -12,
    /// The message is longer than [`crate::MAX_MESSAGE_BYTES`].
    TooLong = -13,
    /// The endpoint is gone, or the module serving it is not running.
    Closed = -14,
    /// A reply token that is unknown, answered already, or not the caller's.
    BadToken = -15,
    /// No endpoint has that name.
    NotFound = -16,
    /// The wait's (or the call's) deadline passed.
    TimedOut = -17,
    /// The name is taken.
    NameTaken = -18,
}

/// How the host treats a refused call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Success.
    Success,
    /// An attempt to reach beyond the module's capabilities: counted as a
    /// capability violation; too many fault the module.
    Violation,
    /// A malformed argument: counted as a bad host call; too many fault the
    /// module.
    BadCall,
    /// An ordinary condition (resource exhausted, busy): not counted.
    Condition,
}

impl ErrorCode {
    /// Every code, in numeric order from 0 downwards.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::Ok,
        ErrorCode::Denied,
        ErrorCode::BadHandle,
        ErrorCode::StaleHandle,
        ErrorCode::Misaligned,
        ErrorCode::BadPointer,
        ErrorCode::BadArgument,
        ErrorCode::BadUtf8,
        ErrorCode::Exhausted,
        ErrorCode::Busy,
        ErrorCode::NoMessage,
        ErrorCode::DeviceError,
        ErrorCode::NoSuchCall,
        ErrorCode::TooLong,
        ErrorCode::Closed,
        ErrorCode::BadToken,
        ErrorCode::NotFound,
        ErrorCode::TimedOut,
        ErrorCode::NameTaken,
    ];

    /// The code's number as the guest sees it.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The code as a syscall returns it.
    pub const fn syscall_code(self) -> i64 {
        self as i32 as i64
    }

    /// The code with the given number, if there is one.
    pub const fn from_code(code: i32) -> Option<ErrorCode> {
        if code > 0 || code < -(Self::ALL.len() as i32 - 1) {
            return None;
        }
        // `code` is in -(ALL.len() - 1)..=0 here, so the index is in bounds.
        let index = code.unsigned_abs() as usize;
        if index < Self::ALL.len() {
            Some(Self::ALL[index])
        } else {
            None
        }
    }

    /// The code of a syscall's result, if it is one.
    pub const fn from_syscall_code(code: i64) -> Option<ErrorCode> {
        if code > 0 || code < i32::MIN as i64 {
            return None;
        }
        Self::from_code(code as i32)
    }

    /// How the host counts this code when it refuses a call.
    pub const fn class(self) -> ErrorClass {
        match self {
            ErrorCode::Ok => ErrorClass::Success,
            ErrorCode::Denied
            | ErrorCode::BadHandle
            | ErrorCode::StaleHandle
            | ErrorCode::Misaligned => ErrorClass::Violation,
            ErrorCode::BadPointer
            | ErrorCode::BadArgument
            | ErrorCode::BadUtf8
            | ErrorCode::NoSuchCall
            | ErrorCode::TooLong
            | ErrorCode::BadToken => ErrorClass::BadCall,
            ErrorCode::Exhausted
            | ErrorCode::Busy
            | ErrorCode::NoMessage
            | ErrorCode::DeviceError
            | ErrorCode::Closed
            | ErrorCode::NotFound
            | ErrorCode::TimedOut
            | ErrorCode::NameTaken => ErrorClass::Condition,
        }
    }

    /// A short lower-case name, as used in logs and docs.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::Denied => "denied",
            ErrorCode::BadHandle => "bad handle",
            ErrorCode::StaleHandle => "stale handle",
            ErrorCode::Misaligned => "misaligned",
            ErrorCode::BadPointer => "bad pointer",
            ErrorCode::BadArgument => "bad argument",
            ErrorCode::BadUtf8 => "bad utf-8",
            ErrorCode::Exhausted => "exhausted",
            ErrorCode::Busy => "busy",
            ErrorCode::NoMessage => "no message",
            ErrorCode::DeviceError => "device error",
            ErrorCode::NoSuchCall => "no such call",
            ErrorCode::TooLong => "too long",
            ErrorCode::Closed => "closed",
            ErrorCode::BadToken => "bad token",
            ErrorCode::NotFound => "not found",
            ErrorCode::TimedOut => "timed out",
            ErrorCode::NameTaken => "name taken",
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(formatter, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_names_one_code_and_none_is_skipped() {
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(code.code(), -(index as i32), "{}", code.name());
        }
    }

    #[test]
    fn codes_round_trip() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
        }
        assert_eq!(ErrorCode::from_code(1), None);
        assert_eq!(ErrorCode::from_code(-19), None);
        for code in ErrorCode::ALL {
            assert_eq!(
                ErrorCode::from_syscall_code(code.syscall_code()),
                Some(code)
            );
        }
        assert_eq!(ErrorCode::from_syscall_code(i64::MIN), None);
        assert_eq!(ErrorCode::from_syscall_code(1), None);
        assert_eq!(ErrorCode::from_code(i32::MIN), None);
    }

    #[test]
    fn classes() {
        assert_eq!(ErrorCode::Denied.class(), ErrorClass::Violation);
        assert_eq!(ErrorCode::BadPointer.class(), ErrorClass::BadCall);
        assert_eq!(ErrorCode::Busy.class(), ErrorClass::Condition);
    }
}
