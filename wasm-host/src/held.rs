//! Messages a swap's successor sends or replies before the swap commits.
//!
//! A successor runs `state_buffer` and `restore_state` while its predecessor
//! is still the installed instance. Whatever it sends or replies then must not
//! leave before the swap commits: if the swap fails, the predecessor keeps
//! serving, and a reply that had escaped would answer a request the
//! predecessor still holds (and answers again). So the successor's messages
//! wait here; [`HeldMessages::release`] hands them to the outbox at the
//! commit, and dropping them discards them when the swap fails.

use crate::outbox::{Outbox, Outgoing};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_abi::ErrorCode;

/// Most messages a successor may hold back (beyond this `ipc_send` and
/// `ipc_reply` answer [`ErrorCode::Busy`]). With messages of at most
/// [`cella_abi::MAX_MESSAGE_BYTES`], at most 256 KiB wait.
pub const MAX_HELD_MESSAGES: usize = 64;

/// The messages held back, oldest first.
#[derive(Debug, Default)]
pub(crate) struct HeldMessages {
    messages: Vec<Outgoing>,
}

/// What [`HeldMessages::release`] could not hand over.
pub(crate) struct Undelivered {
    /// Requests whose reply the outbox refused: still unanswered.
    pub(crate) requests: Vec<u32>,
    /// Messages the outbox refused (sends and replies).
    pub(crate) count: usize,
}

impl HeldMessages {
    /// Holds one message.
    ///
    /// # Errors
    /// [`ErrorCode::Busy`] when [`MAX_HELD_MESSAGES`] are held already.
    pub(crate) fn hold(&mut self, message: Outgoing) -> Result<(), ErrorCode> {
        if self.messages.len() >= MAX_HELD_MESSAGES {
            return Err(ErrorCode::Busy);
        }
        self.messages.push(message);
        Ok(())
    }

    /// Hands every held message to `outbox`, in order. A reply the outbox
    /// refuses leaves its request unanswered (listed in the result, for the
    /// caller to put back among the pending requests); a refused send is
    /// logged by the caller.
    pub(crate) fn release<O: Outbox>(self, outbox: &mut O) -> Undelivered {
        let mut undelivered = Undelivered {
            requests: Vec::new(),
            count: 0,
        };
        for message in self.messages {
            let outcome = match &message {
                Outgoing::Send {
                    module,
                    endpoint,
                    message,
                } => outbox.send(module, *endpoint, message),
                Outgoing::Reply {
                    module,
                    request,
                    message,
                } => outbox.reply(module, *request, message),
                // Successors make no calls (`ipc_call` answers `Busy`).
                Outgoing::Call {
                    module,
                    generation,
                    endpoint,
                    call,
                    message,
                    loan,
                } => outbox.call(module, *generation, *endpoint, *call, message, *loan),
            };
            if outcome.is_err() {
                undelivered.count = undelivered.count.saturating_add(1);
                if let Outgoing::Reply { request, .. } = message {
                    undelivered.requests.push(request);
                }
            }
        }
        undelivered
    }
}

impl Undelivered {
    /// The warning for messages the outbox refused at the commit, if any.
    pub(crate) fn report(&self) -> Option<String> {
        (self.count > 0).then(|| {
            format!(
                "{} message(s) sent during the swap were refused by the router at the commit; {} request(s) stay pending",
                self.count,
                self.requests.len()
            )
        })
    }
}
