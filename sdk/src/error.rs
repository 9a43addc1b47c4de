//! Results of host calls: every refusal is a [`cella_abi::ErrorCode`].

pub use cella_abi::ErrorCode;

/// The result of an SDK call: the value, or the [`ErrorCode`] the host refused it with.
pub type Result<T> = core::result::Result<T, ErrorCode>;

/// The code with the given number; an unknown negative number (a newer host?)
/// is reported as [`ErrorCode::DeviceError`].
fn code(code: i32) -> ErrorCode {
    ErrorCode::from_code(code).unwrap_or(ErrorCode::DeviceError)
}

/// A call that returns 0 or a negative code.
pub(crate) fn status(result: i32) -> Result<()> {
    if result >= 0 {
        Ok(())
    } else {
        Err(code(result))
    }
}

/// A call that returns a non-negative `i32` value or a negative code.
pub(crate) fn value32(result: i32) -> Result<u32> {
    u32::try_from(result).map_err(|_| code(result))
}

/// A call that returns a non-negative `i64` value or a negative code.
pub(crate) fn value64(result: i64) -> Result<u64> {
    match u64::try_from(result) {
        Ok(value) => Ok(value),
        Err(_) => Err(i32::try_from(result).map_or(ErrorCode::DeviceError, code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_results() {
        assert_eq!(status(0), Ok(()));
        assert_eq!(status(-1), Err(ErrorCode::Denied));
        assert_eq!(status(-99), Err(ErrorCode::DeviceError));
        assert_eq!(value32(7), Ok(7));
        assert_eq!(value32(-9), Err(ErrorCode::Busy));
        assert_eq!(value64(0xffff_ffff), Ok(0xffff_ffff));
        assert_eq!(value64(-2), Err(ErrorCode::BadHandle));
        assert_eq!(value64(i64::MIN), Err(ErrorCode::DeviceError));
    }
}
