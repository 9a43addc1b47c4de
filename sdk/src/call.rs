//! Calls to another module: [`Endpoint::call`] sends a request and returns at
//! once with a [`CallId`]; the answer arrives later as a [`Reply`] in
//! [`crate::Module::on_reply`].

use crate::dma::DmaBuffer;
use crate::error::{ErrorCode, Result, value32};
use crate::ipc::Endpoint;
use crate::sys;

/// The id of a call made with [`Endpoint::call`]; the [`Reply`] carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallId(u32);

impl CallId {
    /// The id as the host numbers it.
    pub fn raw(self) -> u32 {
        self.0
    }
}

impl Endpoint {
    /// Sends `request` (at most [`cella_abi::MAX_MESSAGE_BYTES`] bytes) to
    /// the module serving this endpoint and returns at once. The answer, or
    /// the failure, arrives as [`crate::Module::on_reply`] with the returned
    /// id: within `deadline_milliseconds` (capped at
    /// [`cella_abi::MAX_CALL_DEADLINE_MILLISECONDS`]), else it fails with
    /// [`ErrorCode::TimedOut`].
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] when too many calls are outstanding,
    /// [`ErrorCode::TooLong`] for a request that is too long,
    /// [`ErrorCode::BadArgument`] for a deadline of 0, [`ErrorCode::Busy`]
    /// when the router cannot take it now, or another refusal.
    pub fn call(&self, request: &[u8], deadline_milliseconds: u32) -> Result<CallId> {
        let deadline = i32::try_from(deadline_milliseconds).unwrap_or(i32::MAX);
        let id = value32(sys::ipc_call(
            self.handle().raw(),
            sys::pointer(request),
            sys::length(request),
            deadline,
        ))?;
        Ok(CallId(id))
    }
}

/// What the server of a [`Endpoint::call_lending`] may do with the lent
/// buffer (and so its device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lend {
    /// Read it (a buffer to write to a disk).
    ReadOnly,
    /// Read and write it (a buffer to read a disk into).
    ReadWrite,
}

impl Endpoint {
    /// [`Endpoint::call`] lending `buffer` to the server for the call: the
    /// server's device moves the payload to or from it directly, so the
    /// bytes cross no message. Until the call's answer arrives (after a
    /// [`ErrorCode::TimedOut`] too: the late answer), the buffer can be
    /// neither lent again nor freed.
    ///
    /// # Errors
    /// As [`Endpoint::call`]; [`ErrorCode::Busy`] while the buffer is lent
    /// with another call.
    pub fn call_lending(
        &self,
        request: &[u8],
        deadline_milliseconds: u32,
        buffer: &DmaBuffer,
        access: Lend,
    ) -> Result<CallId> {
        let deadline = i32::try_from(deadline_milliseconds).unwrap_or(i32::MAX);
        let access = match access {
            Lend::ReadOnly => cella_abi::LEND_READ_ONLY,
            Lend::ReadWrite => cella_abi::LEND_READ_WRITE,
        };
        let id = value32(sys::ipc_call_lending(
            self.handle().raw(),
            sys::pointer(request),
            sys::length(request),
            deadline,
            buffer.handle().raw(),
            access,
        ))?;
        Ok(CallId(id))
    }
}

impl Endpoint {
    /// Sends `request` to the module serving this endpoint and waits for
    /// the answer inside the running handler: the handler is suspended
    /// (the instance takes no other event meanwhile) and goes on when the
    /// answer arrives, within `deadline_milliseconds` (capped at
    /// [`cella_abi::MAX_CALL_DEADLINE_MILLISECONDS`]). Returns the part of
    /// `reply` the answer filled. This is how a module uses a synchronous
    /// library over another module's interface (the file system server's
    /// disk is the `block` endpoint). The answer does not also arrive as
    /// [`crate::Module::on_reply`]. In a native process this is the
    /// kernel's blocking `call`.
    ///
    /// # Errors
    /// As [`Endpoint::call`]; then [`ErrorCode::TimedOut`],
    /// [`ErrorCode::Closed`] or the server's refusal, [`ErrorCode::TooLong`]
    /// for an answer longer than `reply`, and [`ErrorCode::Denied`] in
    /// `init` and the state transfer of a hot swap, which may not wait.
    pub fn call_and_wait<'r>(
        &self,
        request: &[u8],
        deadline_milliseconds: u32,
        reply: &'r mut [u8],
    ) -> Result<&'r [u8]> {
        let length = self.wait_for_answer(request, deadline_milliseconds, reply)?;
        Ok(&reply[..length.min(reply.len())])
    }

    #[cfg(not(all(feature = "native", target_arch = "x86_64", target_os = "none")))]
    fn wait_for_answer(
        &self,
        request: &[u8],
        deadline_milliseconds: u32,
        reply: &mut [u8],
    ) -> Result<usize> {
        let call = self.call(request, deadline_milliseconds)?;
        let length = value32(sys::ipc_wait_into(call.raw() as i32, reply))?;
        Ok(length as usize)
    }

    #[cfg(all(feature = "native", target_arch = "x86_64", target_os = "none"))]
    fn wait_for_answer(
        &self,
        request: &[u8],
        deadline_milliseconds: u32,
        reply: &mut [u8],
    ) -> Result<usize> {
        crate::native::call_and_wait(self.handle().raw(), request, deadline_milliseconds, reply)
    }
}

/// The answer to a call, as an `on_reply` event delivers it. Read the reply
/// with [`Reply::read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    call: CallId,
    status: i32,
    length: u32,
}

impl Reply {
    /// The answer the host announced with `on_reply(call, status, length)`.
    pub fn new(call: i32, status: i32, length: i32) -> Reply {
        Reply {
            // The host passes call ids and lengths as unsigned 32 bits.
            call: CallId(call as u32),
            status,
            length: length.max(0) as u32,
        }
    }

    /// The call this answers.
    pub fn call(&self) -> CallId {
        self.call
    }

    /// The reply's length in bytes, or why the call failed
    /// ([`ErrorCode::Closed`]: the server faulted, stopped or is not there;
    /// [`ErrorCode::Busy`]: it could not take the request;
    /// [`ErrorCode::TimedOut`]: no answer within the deadline).
    ///
    /// # Errors
    /// The call's failure.
    pub fn outcome(&self) -> Result<usize> {
        match self.status {
            0 => Ok(self.length as usize),
            code => Err(ErrorCode::from_code(code).unwrap_or(ErrorCode::DeviceError)),
        }
    }

    /// Copies the reply into `buffer` and returns the part that fits.
    ///
    /// # Errors
    /// The call's failure, or the host's refusal.
    pub fn read<'b>(&self, buffer: &'b mut [u8]) -> Result<&'b [u8]> {
        self.outcome()?;
        crate::ipc::Message::new(0, self.length as i32).read(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_its_length_or_the_calls_failure() {
        let answered = Reply::new(0x0102, 0, 12);
        assert_eq!(answered.call().raw(), 0x0102);
        assert_eq!(answered.outcome(), Ok(12));
        let timed_out = Reply::new(7, ErrorCode::TimedOut.code(), 0);
        assert_eq!(timed_out.outcome(), Err(ErrorCode::TimedOut));
        let mut buffer = [0u8; 4];
        assert_eq!(timed_out.read(&mut buffer), Err(ErrorCode::TimedOut));
        assert_eq!(
            Reply::new(7, -999, 0).outcome(),
            Err(ErrorCode::DeviceError)
        );
    }
}
