//! The caller's side of `ipc_call`: replies and failures delivered to
//! `on_reply`, and calls whose deadline passed.

use crate::events::Delivery;
use crate::faults::{Entry, Fault};
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::sandbox::Sandbox;
use crate::waiting::Ran;
use alloc::vec::Vec;
use cella_abi::{ErrorCode, MAX_MESSAGE_BYTES};

impl<P: Platform, O: Outbox> Sandbox<P, O> {
    /// The earliest deadline of an outstanding call (nanoseconds): at that
    /// time the embedder delivers [`crate::Event::Timer`], which fails the
    /// due calls with [`ErrorCode::TimedOut`].
    pub fn next_call_deadline(&self) -> Option<u64> {
        self.store.data().calls.next_deadline()
    }

    /// The calls this instance waits on, oldest first.
    pub fn outstanding_calls(&self) -> Vec<u32> {
        self.store.data().calls.ids()
    }

    /// Runs `on_reply` for call `call`, if this instance waits on it.
    pub(crate) fn deliver_reply(
        &mut self,
        call: u32,
        outcome: Result<&[u8], ErrorCode>,
    ) -> Result<Delivery, Fault> {
        let state = self.store.data_mut();
        // The request ended, answered in time or not: a buffer lent with
        // the call is this module's again.
        state.capabilities.end_lending(call);
        if !state.calls.close(call) {
            return Ok(Delivery::UnknownCall);
        }
        let (status, bytes) = match outcome {
            // A reply longer than any message is refused like one.
            Ok(bytes) if bytes.len() > MAX_MESSAGE_BYTES as usize => (ErrorCode::TooLong, &[][..]),
            Ok(bytes) => (ErrorCode::Ok, bytes),
            Err(ErrorCode::Ok) => (ErrorCode::Closed, &[][..]),
            Err(error) => (error, &[][..]),
        };
        let ran = self.run_on_reply(call, status, bytes)?;
        Ok(Delivery::after(ran, 1))
    }

    /// Fails every call whose deadline is due with
    /// [`ErrorCode::TimedOut`], one at a time; returns how many `on_reply`
    /// handlers ran, and whether the last one waits (`ipc_wait`), which
    /// leaves the calls not yet failed for after its wait.
    pub(crate) fn expire_calls(&mut self) -> Result<(u32, Ran), Fault> {
        let mut count = 0u32;
        loop {
            let state = self.store.data_mut();
            let now = state.platform.now_nanoseconds();
            let Some(call) = state.calls.take_first_due(now) else {
                return Ok((count, Ran::Finished));
            };
            count = count.saturating_add(1);
            let ran = self.run_on_reply(call, ErrorCode::TimedOut, &[])?;
            if let Ran::Waiting { .. } = ran {
                return Ok((count, ran));
            }
        }
    }

    /// `on_reply(call, status, length)` with `bytes` readable through
    /// `ipc_receive` while it runs.
    fn run_on_reply(&mut self, call: u32, status: ErrorCode, bytes: &[u8]) -> Result<Ran, Fault> {
        // Loading refuses a module that imports `ipc_call` without
        // exporting `on_reply`, so a module with calls has the handler.
        let Some(handler) = self.entries.on_reply else {
            return Ok(Ran::Finished);
        };
        let state = self.store.data_mut();
        state.message.clear();
        state.message.extend_from_slice(bytes);
        state.message_present = true;
        // Ids are below 2^31, lengths at most MAX_MESSAGE_BYTES.
        let params = (call as i32, status.code(), bytes.len() as i32);
        self.run_event(Entry::Reply, handler, params)
    }
}
