//! Waiting for an answer inside a handler: `ipc_wait(call, pointer,
//! capacity)`.
//!
//! An event handler that calls another module and needs the answer before
//! it can go on (a file system library reading its disk) waits for it with
//! `ipc_wait`. The host function does not block the thread: it ends the
//! handler's run with a host error that wasmi turns into a resumable
//! invocation, the handler's whole Wasm stack kept aside. The instance is
//! then *suspended*: it is home, but takes no event except the one that
//! ends the wait, the answer to that call ([`crate::Event::Reply`]) or its
//! deadline passing ([`crate::Event::Timer`]). That event resumes the
//! handler: the reply's bytes are written where the handler asked and
//! `ipc_wait` returns their length, or the call's error. Each resumption
//! runs under a fresh fuel budget, as an event does, so a handler that
//! waits many times cannot run unmetered, and each wait is bounded by its
//! call's deadline.
//!
//! Only event handlers may wait; `init` and the state transfer of a hot
//! swap are refused (`Denied`), so a swap's saved state never belongs to a
//! handler half done: a hot swap waits until the instance is not suspended
//! ([`Sandbox::waiting_for`]). A fault or restart drops the suspended
//! handler with the rest of the instance.

use crate::faults::{Entry, Fault, FaultKind};
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::sandbox::Sandbox;
use crate::state::{State, guest_range};
use cella_abi::ErrorCode;
use core::fmt;
use wasmi::{TypedFunc, TypedResumableCall, TypedResumableCallHostTrap, Val, WasmParams};

/// What `ipc_wait` asked for: the call, and where its reply goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitRequest {
    pub(crate) call: u32,
    pointer: i32,
    capacity: u32,
}

/// The host error with which `ipc_wait` ends a handler's run for now.
#[derive(Debug)]
pub(crate) struct WaitForAnswer;

impl fmt::Display for WaitForAnswer {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("waiting for a call's answer")
    }
}

impl wasmi::errors::HostError for WaitForAnswer {}

/// A handler suspended in `ipc_wait`.
pub(crate) struct Suspended {
    entry: Entry,
    wait: WaitRequest,
    invocation: TypedResumableCallHostTrap<()>,
}

/// How a handler's run ended, when it did not fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ran {
    /// It returned.
    Finished,
    /// It waits for the answer to `call`.
    Waiting { call: u32 },
}

/// `ipc_wait(call, pointer, capacity)`: checks that the running handler may
/// wait, that `call` is one of this instance's open calls and that the
/// reply's place lies in linear memory, and records the wait; the caller
/// then ends the run with [`WaitForAnswer`].
pub(crate) fn request<P, O>(
    memory_length: usize,
    state: &mut State<P, O>,
    call: i32,
    pointer: i32,
    capacity: i32,
) -> Result<WaitRequest, ErrorCode> {
    if !state.may_wait {
        return Err(ErrorCode::Denied);
    }
    let call = u32::try_from(call).map_err(|_| ErrorCode::BadArgument)?;
    if !state.calls.holds(call) {
        return Err(ErrorCode::BadArgument);
    }
    let capacity = u32::try_from(capacity).map_err(|_| ErrorCode::BadArgument)?;
    guest_range(memory_length, pointer, capacity)?;
    Ok(WaitRequest {
        call,
        pointer,
        capacity,
    })
}

impl<P: Platform, O: Outbox> Sandbox<P, O> {
    /// The call whose answer this instance waits for inside a handler
    /// (`ipc_wait`), if it is suspended. While it is, only that answer or
    /// the call's deadline may be delivered, and it cannot save its state.
    pub fn waiting_for(&self) -> Option<u32> {
        self.suspended.as_ref().map(|suspended| suspended.wait.call)
    }

    /// The deadline of the call this instance waits for, if it is
    /// suspended: the time to deliver [`crate::Event::Timer`] at, which
    /// resumes the handler with `TimedOut`.
    pub fn wait_deadline(&self) -> Option<u64> {
        let call = self.waiting_for()?;
        self.store.data().calls.deadline_of(call)
    }

    /// Runs an event handler under the fuel budget; it may suspend in
    /// `ipc_wait`.
    pub(crate) fn run_event<Params: WasmParams>(
        &mut self,
        entry: Entry,
        func: TypedFunc<Params, ()>,
        params: Params,
    ) -> Result<Ran, Fault> {
        let budget = self.begin_run(entry)?;
        self.store.data_mut().may_wait = true;
        let result = func.call_resumable(&mut self.store, params);
        self.store.data_mut().may_wait = false;
        self.settle(entry, budget, result)
    }

    /// Resumes the suspended handler with the answer to the call it waits
    /// for: the reply's bytes (written where it asked, or `TooLong` if they
    /// do not fit) or the call's error.
    pub(crate) fn resume(&mut self, outcome: Result<&[u8], ErrorCode>) -> Result<Ran, Fault> {
        let Some(suspended) = self.suspended.take() else {
            return Ok(Ran::Finished);
        };
        let Suspended {
            entry,
            wait,
            invocation,
        } = suspended;
        let value = match outcome {
            Ok(bytes) if bytes.len() <= wait.capacity as usize => {
                match self.write_reply(wait.pointer, bytes) {
                    // At most MAX_MESSAGE_BYTES: a reply longer than a
                    // message is refused before it gets here.
                    Ok(()) => bytes.len() as i32,
                    Err(error) => error.code(),
                }
            }
            Ok(_) => ErrorCode::TooLong.code(),
            Err(ErrorCode::Ok) => ErrorCode::Closed.code(),
            Err(error) => error.code(),
        };
        let budget = self.begin_run(entry)?;
        self.store.data_mut().may_wait = true;
        let result = invocation.resume(&mut self.store, &[Val::I32(value)]);
        self.store.data_mut().may_wait = false;
        self.settle(entry, budget, result)
    }

    fn write_reply(&mut self, pointer: i32, bytes: &[u8]) -> Result<(), ErrorCode> {
        let memory = self.store.data().memory.ok_or(ErrorCode::BadPointer)?;
        let data = memory.data_mut(&mut self.store);
        let range = guest_range(data.len(), pointer, bytes.len() as u32)?;
        data.get_mut(range)
            .ok_or(ErrorCode::BadPointer)?
            .copy_from_slice(bytes);
        Ok(())
    }

    /// Accounts a resumable run and classifies how it ended: returned,
    /// suspended in `ipc_wait`, or a fault (which kills the instance). The
    /// message or reply the handler reads with `ipc_receive` stays readable
    /// only while it waits.
    fn settle(
        &mut self,
        entry: Entry,
        budget: u64,
        result: Result<TypedResumableCall<()>, wasmi::Error>,
    ) -> Result<Ran, Fault> {
        self.end_run(budget);
        let ran = self.classify_run(entry, budget, result);
        if !matches!(ran, Ok(Ran::Waiting { .. })) {
            self.store.data_mut().message_present = false;
        }
        ran
    }

    fn classify_run(
        &mut self,
        entry: Entry,
        budget: u64,
        result: Result<TypedResumableCall<()>, wasmi::Error>,
    ) -> Result<Ran, Fault> {
        let kind = match result {
            Ok(TypedResumableCall::Finished(())) => {
                let counters = &mut self.store.data_mut().counters;
                counters.events_handled = counters.events_handled.wrapping_add(1);
                return Ok(Ran::Finished);
            }
            Ok(TypedResumableCall::HostTrap(invocation)) => {
                let state = self.store.data_mut();
                let waits = invocation
                    .host_error()
                    .downcast_ref::<WaitForAnswer>()
                    .is_some();
                match (waits, state.wait_request.take()) {
                    (true, Some(wait)) => {
                        let call = wait.call;
                        self.suspended = Some(Suspended {
                            entry,
                            wait,
                            invocation,
                        });
                        return Ok(Ran::Waiting { call });
                    }
                    _ => match state.pending_fault.take() {
                        Some(kind) => kind,
                        None => Self::classify(invocation.host_error(), budget),
                    },
                }
            }
            Ok(TypedResumableCall::OutOfFuel(_)) => FaultKind::OutOfFuel { budget },
            Err(error) => match self.store.data_mut().pending_fault.take() {
                Some(kind) => kind,
                None => Self::classify(&error, budget),
            },
        };
        Err(self.kill(entry, kind))
    }
}
