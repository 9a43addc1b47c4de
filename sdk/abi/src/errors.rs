//! The closed set of error codes a host call returns to the guest.

/// A host call's result code: 0 is success, every refusal is negative.
///
/// The numbers are fixed for ABI v1. Calls that return a value (port reads,
/// MMIO reads, handles, lengths) return it as a non-negative number, or one of
/// these negative codes.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The call succeeded.
    Ok = 0,
    /// The access is outside the grant: port or MMIO offset past the granted
    /// range, DMA offset past the buffer, or a handle of the wrong capability
    /// kind for this call.
    Denied = -1,
    /// The handle names no capability of this module.
    BadHandle = -2,
    /// The handle belonged to an earlier instance of the module (its
    /// generation is old): capabilities die with the instance that held them.
    StaleHandle = -3,
    /// An MMIO offset that is not a multiple of the access width.
    Misaligned = -4,
    /// A pointer/length pair that is not inside the module's linear memory
    /// (or the module exports no memory).
    BadPointer = -5,
    /// An argument out of its domain: negative length, unknown log level,
    /// message too long, zero-sized DMA allocation, unknown request id.
    BadArgument = -6,
    /// A log message that is not valid UTF-8.
    BadUtf8 = -7,
    /// A resource is used up: DMA pool budget, handle table, pending timers.
    Exhausted = -8,
    /// The receiver cannot take the message now; try again later.
    Busy = -9,
    /// `ipc_receive` was called outside a message event.
    NoMessage = -10,
    /// The platform refused the operation (for example no physical memory for
    /// a DMA buffer).
    DeviceError = -11,
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
    pub const ALL: [ErrorCode; 12] = [
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
    ];

    /// The code's number as the guest sees it.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The code with the given number, if there is one.
    pub const fn from_code(code: i32) -> Option<ErrorCode> {
        if code > 0 || code < -11 {
            return None;
        }
        // `code` is in 0..=11 here, so the index is in bounds.
        let index = code.unsigned_abs() as usize;
        if index < Self::ALL.len() {
            Some(Self::ALL[index])
        } else {
            None
        }
    }

    /// How the host counts this code when it refuses a call.
    pub const fn class(self) -> ErrorClass {
        match self {
            ErrorCode::Ok => ErrorClass::Success,
            ErrorCode::Denied
            | ErrorCode::BadHandle
            | ErrorCode::StaleHandle
            | ErrorCode::Misaligned => ErrorClass::Violation,
            ErrorCode::BadPointer | ErrorCode::BadArgument | ErrorCode::BadUtf8 => {
                ErrorClass::BadCall
            }
            ErrorCode::Exhausted
            | ErrorCode::Busy
            | ErrorCode::NoMessage
            | ErrorCode::DeviceError => ErrorClass::Condition,
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
    fn codes_round_trip() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
        }
        assert_eq!(ErrorCode::from_code(1), None);
        assert_eq!(ErrorCode::from_code(-12), None);
        assert_eq!(ErrorCode::from_code(i32::MIN), None);
    }

    #[test]
    fn classes() {
        assert_eq!(ErrorCode::Denied.class(), ErrorClass::Violation);
        assert_eq!(ErrorCode::BadPointer.class(), ErrorClass::BadCall);
        assert_eq!(ErrorCode::Busy.class(), ErrorClass::Condition);
    }
}
