//! Endpoints in the running kernel: the queues of `ipc::core` plus the threads
//! waiting on them. Every operation runs with interrupts off; a thread that
//! must wait blocks through `sched::block_current` and retries when woken, so
//! no wake-up is lost between the check and the block.

use super::core::{Endpoint, EndpointId, IpcError, Message, NameService, PendingCalls};
use crate::sched::{self, ThreadId};
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use cella_wasm_host::Loan;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

#[derive(Default)]
struct KernelEndpoint {
    queue: Endpoint,
    receivers: VecDeque<ThreadId>,
    /// Called (interrupts off) whenever a message is queued: for a receiver
    /// that polls instead of blocking in `receive` (the Wasm event loop).
    watcher: Option<fn()>,
}

#[derive(Default)]
struct Ipc {
    endpoints: BTreeMap<EndpointId, KernelEndpoint>,
    names: NameService,
    calls: PendingCalls<ThreadId>,
    /// Answers waiting for their callers: a reply, or the error the call failed with.
    replies: BTreeMap<ThreadId, Result<Vec<u8>, IpcError>>,
    /// The module buffers lent with calls in flight ([`call_lending`]), by token.
    loans: BTreeMap<u64, Loan>,
    /// The calls kernel code opened without waiting ([`call_watched`]): their
    /// answers are kept by token, not by thread.
    watched_calls: BTreeSet<u64>,
    /// Answers to watched calls, until [`take_watched_answers`] takes them.
    watched_answers: BTreeMap<u64, Result<Vec<u8>, IpcError>>,
    /// Called (interrupts off) whenever a watched call gets its answer.
    answer_watcher: Option<fn()>,
    next_endpoint: EndpointId,
}

static IPC: Mutex<Option<Ipc>> = Mutex::new(None);

fn with_ipc<T>(action: impl FnOnce(&mut Ipc) -> T) -> T {
    without_interrupts(|| {
        action(IPC.lock().get_or_insert_with(|| {
            let mut ipc = Ipc::default();
            // The time-stamp counter at first use: enough that a process cannot
            // predict other callers' tokens from its own (and a token is
            // useless to anyone but its receiver anyway).
            ipc.calls
                .set_key(crate::arch::tsc::read().rotate_left(17) ^ 0x5851_f42d_4c95_7f2d);
            ipc
        }))
    })
}

impl Ipc {
    /// Gives the answer of call `token` to whoever waits for it: the thread
    /// `waiter`, or (a watched call) the answers kept by token.
    fn deliver(&mut self, token: u64, waiter: ThreadId, answer: Result<Vec<u8>, IpcError>) {
        if self.watched_calls.remove(&token) {
            self.watched_answers.insert(token, answer);
            if let Some(watcher) = self.answer_watcher {
                watcher();
            }
        } else {
            self.replies.insert(waiter, answer);
            sched::wake(waiter);
        }
    }

    /// Withdraws call `token` (its caller no longer waits): its message, if
    /// nobody received it yet, leaves the queue, and a later reply to it is
    /// [`IpcError::BadToken`].
    fn withdraw(&mut self, token: u64) {
        if let Some(id) = self.calls.queued_on(token)
            && let Some(endpoint) = self.endpoints.get_mut(&id)
        {
            endpoint.queue.remove_call(token);
        }
        let _ = self.calls.close(token);
    }

    fn endpoint(&mut self, id: EndpointId) -> Result<&mut KernelEndpoint, IpcError> {
        self.endpoints.get_mut(&id).ok_or(IpcError::Closed)
    }

    fn wake_one_receiver(&mut self, id: EndpointId) {
        let Some(endpoint) = self.endpoints.get_mut(&id) else {
            return;
        };
        if let Some(receiver) = endpoint.receivers.pop_front() {
            sched::wake(receiver);
        }
        if let Some(watcher) = endpoint.watcher {
            watcher();
        }
    }
}

/// Creates an endpoint, registered under `name` if given.
///
/// # Errors
/// [`IpcError::NameTaken`] if the name is registered already.
pub fn create_endpoint(name: Option<&str>) -> Result<EndpointId, IpcError> {
    with_ipc(|ipc| {
        let id = ipc.next_endpoint + 1;
        if let Some(name) = name {
            ipc.names.register(name, id)?;
        }
        ipc.next_endpoint = id;
        ipc.endpoints.insert(id, KernelEndpoint::default());
        Ok(id)
    })
}

/// Has `watcher` called (with interrupts off; it must not block or use IPC)
/// each time a message is queued on endpoint `id`.
///
/// # Errors
/// [`IpcError::Closed`] if there is no such endpoint.
pub fn watch(id: EndpointId, watcher: fn()) -> Result<(), IpcError> {
    with_ipc(|ipc| {
        ipc.endpoint(id)?.watcher = Some(watcher);
        Ok(())
    })
}

/// The endpoint registered as `name`.
///
/// # Errors
/// [`IpcError::NotFound`].
pub fn lookup(name: &str) -> Result<EndpointId, IpcError> {
    with_ipc(|ipc| ipc.names.lookup(name))
}

/// Closes an endpoint: its name goes, every call queued on it or received
/// from it and not yet answered fails (its caller gets [`IpcError::Closed`]),
/// waiting receivers wake.
pub fn close_endpoint(id: EndpointId) {
    with_ipc(|ipc| {
        ipc.names.unregister_endpoint(id);
        if let Some(endpoint) = ipc.endpoints.remove(&id) {
            for receiver in endpoint.receivers {
                sched::wake(receiver);
            }
        }
        for (token, waiter) in ipc.calls.close_endpoint(id) {
            if ipc.watched_calls.contains(&token) {
                ipc.deliver(token, waiter, Err(IpcError::Closed));
            } else {
                sched::wake(waiter);
            }
        }
    });
}

/// Queues a one-way message.
///
/// # Errors
/// [`IpcError::Full`] (back-pressure), [`IpcError::TooLong`], [`IpcError::Closed`].
pub fn send(id: EndpointId, bytes: &[u8]) -> Result<(), IpcError> {
    with_ipc(|ipc| {
        ipc.endpoint(id)?.queue.push(Message {
            token: 0,
            bytes: bytes.to_vec(),
        })?;
        ipc.wake_one_receiver(id);
        Ok(())
    })
}

/// Queues a kernel notification (an IRQ's `[line]`): a one-way message whose
/// token is [`NOTIFICATION_TOKEN`], so the receiver can tell it from a
/// client's message. Safe with interrupts off (the IRQ handler calls it).
///
/// # Errors
/// As [`send`].
pub fn notify(id: EndpointId, bytes: &[u8]) -> Result<(), IpcError> {
    with_ipc(|ipc| {
        ipc.endpoint(id)?.queue.push(Message {
            token: NOTIFICATION_TOKEN,
            bytes: bytes.to_vec(),
        })?;
        ipc.wake_one_receiver(id);
        Ok(())
    })
}

/// The token of kernel notifications; reply tokens never take it.
pub const NOTIFICATION_TOKEN: u64 = cella_abi::syscalls::IRQ_TOKEN;

/// Sends `bytes` and waits for the reply (until `deadline`, if any).
///
/// # Errors
/// As [`send`]; [`IpcError::TimedOut`]; [`IpcError::Closed`] if the endpoint
/// closed before replying.
pub fn call(id: EndpointId, bytes: &[u8], deadline: Option<u64>) -> Result<Vec<u8>, IpcError> {
    call_with(id, bytes, None, deadline)
}

/// [`call`] lending the module buffer `loan` (one of `module_host::device_access`'s
/// buffers) with the request: its receiver may map it ([`loan_for`]) until it
/// answers. The call holds the buffer until it returns, so its memory
/// outlives a free by its owner meanwhile.
///
/// # Errors
/// As [`call`]; [`IpcError::NotFound`] when no buffer of that size starts
/// at the loan's address.
pub fn call_lending(
    id: EndpointId,
    bytes: &[u8],
    loan: Loan,
    deadline: Option<u64>,
) -> Result<Vec<u8>, IpcError> {
    use crate::module_host::dma_loans;
    if !dma_loans::hold(None, loan.device_address, loan.size) {
        return Err(IpcError::NotFound);
    }
    let outcome = call_with(id, bytes, Some(loan), deadline);
    dma_loans::give_back(None, loan.device_address);
    outcome
}

/// The buffer lent with call `token`, if `receiver` received it and has not
/// answered it yet.
pub fn loan_for(token: u64, receiver: ThreadId) -> Option<Loan> {
    with_ipc(|ipc| {
        if ipc.calls.receiver_of(token) != Some(receiver) {
            return None;
        }
        ipc.loans.get(&token).copied()
    })
}

fn call_with(
    id: EndpointId,
    bytes: &[u8],
    loan: Option<Loan>,
    deadline: Option<u64>,
) -> Result<Vec<u8>, IpcError> {
    let me = sched::current();
    without_interrupts(|| {
        let token = open_call(id, bytes, loan, me)?;
        let outcome = wait_for_answer(id, token, me, deadline);
        if loan.is_some() {
            with_ipc(|ipc| ipc.loans.remove(&token));
        }
        outcome
    })
}

/// Queues call `bytes` on `id` for `me`, with `loan` kept by its token; the
/// token.
fn open_call(
    id: EndpointId,
    bytes: &[u8],
    loan: Option<Loan>,
    me: ThreadId,
) -> Result<u64, IpcError> {
    with_ipc(|ipc| {
        if let Some(error) = ipc.endpoint(id)?.queue.refuses(bytes.len()) {
            return Err(error);
        }
        let token = ipc.calls.open(me, id);
        let pushed = ipc.endpoint(id).and_then(|endpoint| {
            endpoint.queue.push(Message {
                token,
                bytes: bytes.to_vec(),
            })
        });
        if let Err(error) = pushed {
            let _ = ipc.calls.close(token);
            return Err(error);
        }
        if let Some(loan) = loan {
            ipc.loans.insert(token, loan);
        }
        ipc.wake_one_receiver(id);
        Ok(token)
    })
}

/// Waits (until `deadline`, if any) for the answer to `me`'s call `token`.
fn wait_for_answer(
    id: EndpointId,
    token: u64,
    me: ThreadId,
    deadline: Option<u64>,
) -> Result<Vec<u8>, IpcError> {
    loop {
        let outcome = with_ipc(|ipc| {
            if let Some(reply) = ipc.replies.remove(&me) {
                return Some(reply);
            }
            if !ipc.endpoints.contains_key(&id) {
                let _ = ipc.calls.close(token);
                return Some(Err(IpcError::Closed));
            }
            None
        });
        if let Some(outcome) = outcome {
            return outcome;
        }
        if !sched::block_current(deadline) {
            // Timed out: withdraw the call unless the reply raced in.
            let reply = with_ipc(|ipc| {
                let reply = ipc.replies.remove(&me);
                if reply.is_none() {
                    ipc.withdraw(token);
                }
                reply
            });
            return reply.unwrap_or(Err(IpcError::TimedOut));
        }
    }
}

/// Opens a call on `id` without waiting for its answer (kernel code that
/// must not block: the Wasm event loop calling a process for a module). The
/// answer, or the error the call fails with (the endpoint closed, its
/// receiver failed it), is kept by the returned token until
/// [`take_watched_answers`] takes it, and the watcher set with
/// [`watch_answers`] is told when it arrives.
///
/// # Errors
/// As [`send`].
pub fn call_watched(id: EndpointId, bytes: &[u8]) -> Result<u64, IpcError> {
    let me = sched::current();
    without_interrupts(|| {
        let token = open_call(id, bytes, None, me)?;
        with_ipc(|ipc| ipc.watched_calls.insert(token));
        Ok(token)
    })
}

/// Has `watcher` called (with interrupts off; it must not block or use IPC)
/// each time a watched call ([`call_watched`]) gets its answer.
pub fn watch_answers(watcher: fn()) {
    with_ipc(|ipc| ipc.answer_watcher = Some(watcher));
}

/// The answers watched calls got since the last call, by token.
pub fn take_watched_answers() -> Vec<(u64, Result<Vec<u8>, IpcError>)> {
    with_ipc(|ipc| {
        core::mem::take(&mut ipc.watched_answers)
            .into_iter()
            .collect()
    })
}

/// Withdraws watched call `token` (its caller no longer waits): its
/// message leaves the queue if nobody received it yet, an answer kept for
/// it is dropped, and its receiver's later reply is [`IpcError::BadToken`].
pub fn withdraw_watched(token: u64) {
    with_ipc(|ipc| {
        if ipc.watched_calls.remove(&token) {
            ipc.withdraw(token);
        }
        ipc.watched_answers.remove(&token);
    });
}

/// Watched calls open and answers kept (both 0 when nothing leaks).
pub fn watched_counts() -> (usize, usize) {
    with_ipc(|ipc| (ipc.watched_calls.len(), ipc.watched_answers.len()))
}

impl Ipc {
    /// Takes the oldest message of `id`; a call's token is bound to `receiver`.
    fn pop_for(&mut self, id: EndpointId, receiver: ThreadId) -> Result<Option<Message>, IpcError> {
        let message = self.endpoint(id)?.queue.pop();
        if let Some(message) = &message
            && message.token != 0
            && message.token != NOTIFICATION_TOKEN
        {
            self.calls.received(message.token, receiver);
        }
        Ok(message)
    }
}

/// Takes the oldest message; waits for one if `wait` (else [`IpcError::Empty`]).
/// A call's reply right goes to the current thread ([`reply_from`]).
///
/// # Errors
/// [`IpcError::Empty`], [`IpcError::Closed`].
pub fn receive(id: EndpointId, wait: bool) -> Result<Message, IpcError> {
    if wait {
        receive_until(id, None)
    } else {
        let me = sched::current();
        with_ipc(|ipc| ipc.pop_for(id, me)?.ok_or(IpcError::Empty))
    }
}

/// Takes the oldest message, waiting for one until `deadline` (nanoseconds
/// since boot, as `time::now_nanoseconds`) or for ever.
///
/// # Errors
/// [`IpcError::TimedOut`], [`IpcError::Closed`].
pub fn receive_until(id: EndpointId, deadline: Option<u64>) -> Result<Message, IpcError> {
    let me = sched::current();
    without_interrupts(|| {
        loop {
            let outcome = with_ipc(|ipc| {
                if let Some(message) = ipc.pop_for(id, me)? {
                    return Ok(Some(message));
                }
                if deadline.is_some_and(|deadline| crate::time::now_nanoseconds() >= deadline) {
                    return Err(IpcError::TimedOut);
                }
                let endpoint = ipc.endpoint(id)?;
                if !endpoint.receivers.contains(&me) {
                    endpoint.receivers.push_back(me);
                }
                Ok(None)
            })?;
            if let Some(message) = outcome {
                return Ok(message);
            }
            if !sched::block_current(deadline) {
                // Timed out: stop waiting unless a message raced in.
                return with_ipc(|ipc| {
                    let endpoint = ipc.endpoint(id)?;
                    endpoint.receivers.retain(|&waiting| waiting != me);
                    ipc.pop_for(id, me)?.ok_or(IpcError::TimedOut)
                });
            }
        }
    })
}

/// Answers the call that carried `token` (trusted kernel code: the event
/// loop and bridges keep their own request-to-token maps).
///
/// # Errors
/// [`IpcError::BadToken`] for an unknown or answered token; [`IpcError::TooLong`].
pub fn reply(token: u64, bytes: &[u8]) -> Result<(), IpcError> {
    answer(token, bytes, None)
}

/// Answers the call that carried `token` on behalf of `receiver` (a
/// process's thread), which must be the thread that received its message.
///
/// # Errors
/// [`IpcError::BadToken`] for an unknown, answered or foreign token (the
/// call stays pending for its real receiver); [`IpcError::TooLong`].
pub fn reply_from(receiver: ThreadId, token: u64, bytes: &[u8]) -> Result<(), IpcError> {
    answer(token, bytes, Some(receiver))
}

/// Fails the call that carried `token` with `error` (trusted kernel code: a
/// module server that was stopped, held or restarted before answering).
///
/// # Errors
/// [`IpcError::BadToken`] for an unknown or answered token.
pub fn fail(token: u64, error: IpcError) -> Result<(), IpcError> {
    with_ipc(|ipc| {
        let waiter = ipc.calls.close(token)?;
        ipc.deliver(token, waiter, Err(error));
        Ok(())
    })
}

fn answer(token: u64, bytes: &[u8], receiver: Option<ThreadId>) -> Result<(), IpcError> {
    if bytes.len() > super::MAX_MESSAGE_BYTES {
        return Err(IpcError::TooLong);
    }
    let bytes = Ok(bytes.to_vec());
    with_ipc(|ipc| {
        let waiter = match receiver {
            Some(receiver) => ipc.calls.close_by(token, receiver)?,
            None => ipc.calls.close(token)?,
        };
        ipc.deliver(token, waiter, bytes);
        Ok(())
    })
}

/// Messages queued on an endpoint.
pub fn queued(id: EndpointId) -> Result<usize, IpcError> {
    with_ipc(|ipc| ipc.endpoint(id).map(|endpoint| endpoint.queue.len()))
}
