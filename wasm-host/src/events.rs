//! Events: what the embedder delivers to a sandbox, one at a time.

use crate::capabilities::Capability;
use crate::faults::{Entry, Fault};
use crate::handles::Handle;
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::sandbox::Sandbox;
use crate::waiting::Ran;
use alloc::vec::Vec;
use cella_abi::MAX_MESSAGE_BYTES;

/// Something for a module to handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// IRQ `line` fired; delivered to the module holding that line.
    Irq {
        /// Line.
        line: u8,
    },
    /// A message; `request` non-zero means the sender waits for a reply.
    Message {
        /// Request id (0: no reply expected).
        request: u32,
        /// Bytes (at most [`cella_abi::MAX_MESSAGE_BYTES`]).
        bytes: &'a [u8],
    },
    /// Time passed: every timer whose deadline is due fires, and every call
    /// whose deadline is due fails with [`cella_abi::ErrorCode::TimedOut`].
    Timer,
    /// The answer to call `call` (made with `ipc_call`): the reply's bytes,
    /// or why the call failed.
    Reply {
        /// Call id.
        call: u32,
        /// The reply (at most [`cella_abi::MAX_MESSAGE_BYTES`]) or the error.
        outcome: Result<&'a [u8], cella_abi::ErrorCode>,
    },
}

/// What happened to a delivered event (when the module did not fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The handler ran (for timers: `count` handlers ran).
    Handled {
        /// Handlers run.
        count: u32,
    },
    /// The module exports no handler for this kind of event.
    NoHandler,
    /// The module holds no capability for this IRQ line.
    NotHeld,
    /// No timer was due.
    NothingDue,
    /// Refused without running: message too long, or too many requests
    /// pending. The sender should get an error.
    Refused,
    /// A reply to a call this instance does not wait on (it timed out, or
    /// was made by an earlier instance): dropped.
    UnknownCall,
    /// The handler waits for the answer to `call` (`ipc_wait`): the
    /// instance takes nothing but that answer, or the call's deadline
    /// passing ([`Event::Timer`]), until the handler ends.
    Waiting {
        /// The call waited for.
        call: u32,
    },
    /// Not delivered: a handler of the instance waits for another call's
    /// answer. Deliver the event again after the wait.
    NotNow,
}

impl Delivery {
    /// What a handler run that did not fault comes to: `count` handlers
    /// ran, or the last one waits.
    pub(crate) fn after(ran: Ran, count: u32) -> Delivery {
        match ran {
            Ran::Finished => Delivery::Handled { count },
            Ran::Waiting { call } => Delivery::Waiting { call },
        }
    }
}

impl<P: Platform, O: Outbox> Sandbox<P, O> {
    /// Runs the handler for one event to completion.
    ///
    /// # Errors
    /// A [`Fault`] if the module traps, runs out of fuel, misbehaves too often
    /// or is already dead. The instance is dead afterwards.
    pub fn deliver(&mut self, event: Event<'_>) -> Result<Delivery, Fault> {
        self.check_alive()?;
        if let Some(call) = self.waiting_for() {
            return self.deliver_while_waiting(call, event);
        }
        match event {
            Event::Irq { line } => {
                let Some(handle) = self.store.data().capabilities.handle_for_irq(line) else {
                    return Ok(Delivery::NotHeld);
                };
                let Some(handler) = self.entries.on_irq else {
                    return Ok(Delivery::NoHandler);
                };
                let ran = self.run_event(Entry::Irq, handler, handle)?;
                Ok(Delivery::after(ran, 1))
            }
            Event::Message { request, bytes } => self.deliver_message(request, bytes),
            Event::Timer => {
                let expired = match self.expire_calls()? {
                    (_, Ran::Waiting { call }) => return Ok(Delivery::Waiting { call }),
                    (expired, Ran::Finished) => expired,
                };
                let timers = self.deliver_timers()?;
                Ok(match (expired, timers) {
                    (0, timers) => timers,
                    (expired, Delivery::Handled { count }) => Delivery::Handled {
                        count: count.saturating_add(expired),
                    },
                    (expired, _) => Delivery::Handled { count: expired },
                })
            }
            Event::Reply { call, outcome } => self.deliver_reply(call, outcome),
        }
    }

    fn deliver_message(&mut self, request: u32, bytes: &[u8]) -> Result<Delivery, Fault> {
        let Some(handler) = self.entries.on_message else {
            return Ok(Delivery::NoHandler);
        };
        let Ok(length) = i32::try_from(bytes.len()) else {
            return Ok(Delivery::Refused);
        };
        let state = self.store.data_mut();
        if bytes.len() > MAX_MESSAGE_BYTES as usize {
            return Ok(Delivery::Refused);
        }
        if request != 0 && !state.pending_requests.contains(&request) {
            if state.pending_requests.len() >= state.limits.max_pending_requests as usize {
                return Ok(Delivery::Refused);
            }
            state.pending_requests.push(request);
        }
        state.message.clear();
        state.message.extend_from_slice(bytes);
        state.message_present = true;
        state.note(crate::access::Access::Received {
            request,
            length: length as u32,
            operation: crate::access::OperationName::of(bytes),
        });
        // Request ids are passed through as the same 32 bits.
        let ran = self.run_event(Entry::Message, handler, (request as i32, length))?;
        Ok(Delivery::after(ran, 1))
    }

    /// Runs `on_timer` for each timer due now, one at a time (a timer a
    /// handler arms again waits for the next event); a handler that waits
    /// (`ipc_wait`) leaves the timers not yet run armed and due, for after
    /// its wait.
    fn deliver_timers(&mut self) -> Result<Delivery, Fault> {
        let handler = self.entries.on_timer;
        let state = self.store.data_mut();
        let now = state.platform.now_nanoseconds();
        let generation = state.capabilities.generation();
        let due: Vec<usize> = state
            .capabilities
            .iter()
            .enumerate()
            .filter_map(|(slot, capability)| match capability {
                Capability::Timer { deadline } if deadline.is_some_and(|at| at <= now) => {
                    Some(slot)
                }
                _ => None,
            })
            .collect();
        let mut count = 0u32;
        for slot in due {
            let state = self.store.data_mut();
            match state.capabilities.get_mut(slot) {
                Some(Capability::Timer { deadline }) if deadline.is_some_and(|at| at <= now) => {
                    *deadline = None;
                }
                _ => continue,
            }
            // Without `on_timer` the expired timers are disarmed all the
            // same, so a deadline that nobody handles is not due for ever.
            let Some(handler) = handler else {
                continue;
            };
            let handle = Handle::encode(generation, slot);
            count = count.saturating_add(1);
            if let Ran::Waiting { call } = self.run_event(Entry::Timer, handler, handle)? {
                return Ok(Delivery::Waiting { call });
            }
        }
        Ok(match (handler, count) {
            (None, _) => Delivery::NoHandler,
            (Some(_), 0) => Delivery::NothingDue,
            (Some(_), count) => Delivery::Handled { count },
        })
    }

    /// The one event a suspended instance takes: the answer to the call it
    /// waits for, or (a timer event) that call's deadline passing, either
    /// of which resumes the handler. Anything else is [`Delivery::NotNow`].
    fn deliver_while_waiting(&mut self, waited: u32, event: Event<'_>) -> Result<Delivery, Fault> {
        let outcome = match event {
            Event::Reply { call, outcome } if call == waited => {
                let state = self.store.data_mut();
                state.capabilities.end_lending(call);
                state.calls.close(call);
                match outcome {
                    Ok(bytes) if bytes.len() > MAX_MESSAGE_BYTES as usize => {
                        Err(cella_abi::ErrorCode::TooLong)
                    }
                    other => other,
                }
            }
            Event::Timer => {
                let state = self.store.data_mut();
                let now = state.platform.now_nanoseconds();
                if !state.calls.is_due(waited, now) {
                    return Ok(Delivery::NothingDue);
                }
                state.capabilities.end_lending(waited);
                state.calls.close(waited);
                Err(cella_abi::ErrorCode::TimedOut)
            }
            _ => return Ok(Delivery::NotNow),
        };
        let ran = self.resume(outcome)?;
        Ok(Delivery::after(ran, 1))
    }
}
