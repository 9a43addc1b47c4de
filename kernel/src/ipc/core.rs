//! IPC without hardware: bounded endpoint queues, per-holder capability tables
//! with generations, and the name service. Tested on the host; `ipc::kernel`
//! adds blocking on top with real threads.
//!
//! - A message is at most [`MAX_MESSAGE_BYTES`] bytes (the ABI's one limit,
//!   the same for Wasm modules and native processes); an endpoint queues at
//!   most [`QUEUE_CAPACITY`] messages and [`QUEUE_BYTES`] bytes. A send to a
//!   full queue fails with [`IpcError::Full`] at once (back-pressure by error;
//!   the queue never grows).
//! - A call is a send that carries a reply token; the server's reply with that
//!   token goes to the caller alone. A token is answered at most once, and
//!   an untrusted replier only by the receiver its message was taken by
//!   ([`PendingCalls::close_by`]); tokens do not count up.
//! - A holder names endpoints by handle. A handle is `index | generation << 16`;
//!   revoking a slot bumps its generation, so an old handle fails with
//!   [`IpcError::StaleHandle`] instead of reaching whatever reuses the slot.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use hashbrown::HashMap;

/// Largest message, in bytes: the ABI's limit for every guest.
pub const MAX_MESSAGE_BYTES: usize = cella_abi::MAX_MESSAGE_BYTES as usize;
/// Most messages queued on one endpoint.
pub const QUEUE_CAPACITY: usize = 64;
/// Most payload bytes queued on one endpoint (four of the largest messages,
/// or 64 of 256 bytes).
pub const QUEUE_BYTES: usize = 16 * 1024;
/// Most capabilities one holder has.
pub const MAX_HANDLES: usize = 256;

/// What can go wrong; each has a stable code for syscalls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpcError {
    /// The handle was never issued.
    BadHandle,
    /// The handle's slot was revoked (and maybe reused) since.
    StaleHandle,
    /// The handle does not carry the right needed (send, receive).
    NoRight,
    /// The message is longer than [`MAX_MESSAGE_BYTES`].
    TooLong,
    /// The endpoint's queue is full: try again later.
    Full,
    /// Nothing queued (non-blocking receive).
    Empty,
    /// The endpoint is gone.
    Closed,
    /// The reply token is unknown or was answered already.
    BadToken,
    /// The name is taken.
    NameTaken,
    /// No endpoint has that name.
    NotFound,
    /// The holder's table is full.
    TooManyHandles,
    /// The wait timed out.
    TimedOut,
    /// The kernel had no memory for it.
    NoMemory,
}

impl IpcError {
    /// The ABI's code for it (the one error set of host calls and syscalls).
    pub fn error_code(self) -> cella_abi::ErrorCode {
        use cella_abi::ErrorCode;
        match self {
            Self::BadHandle => ErrorCode::BadHandle,
            Self::StaleHandle => ErrorCode::StaleHandle,
            Self::NoRight => ErrorCode::Denied,
            Self::TooLong => ErrorCode::TooLong,
            Self::Full => ErrorCode::Busy,
            Self::Empty => ErrorCode::NoMessage,
            Self::Closed => ErrorCode::Closed,
            Self::BadToken => ErrorCode::BadToken,
            Self::NameTaken => ErrorCode::NameTaken,
            Self::NotFound => ErrorCode::NotFound,
            Self::TooManyHandles => ErrorCode::Exhausted,
            Self::TimedOut => ErrorCode::TimedOut,
            Self::NoMemory => ErrorCode::Exhausted,
        }
    }

    /// The code a syscall returns (negative).
    pub fn code(self) -> i64 {
        self.error_code().syscall_code()
    }
}

impl core::fmt::Display for IpcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BadHandle => "no such handle",
            Self::StaleHandle => "the handle was revoked",
            Self::NoRight => "the handle lacks the right",
            Self::TooLong => "the message is too long",
            Self::Full => "the queue is full",
            Self::Empty => "nothing queued",
            Self::Closed => "the server went away or is down",
            Self::BadToken => "unknown or answered reply token",
            Self::NameTaken => "the name is taken",
            Self::NotFound => "no endpoint has that name",
            Self::TooManyHandles => "too many handles",
            Self::TimedOut => "timed out",
            Self::NoMemory => "the kernel has no memory for it",
        })
    }
}

/// An endpoint's number in the kernel.
pub type EndpointId = u32;
/// A capability handle as a holder sees it.
pub type Handle = u32;

/// A message in a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The reply token if this is a call (0 for a plain send).
    pub token: u64,
    /// The payload.
    pub bytes: Vec<u8>,
}

/// One endpoint's queue.
#[derive(Debug, Default)]
pub struct Endpoint {
    queue: VecDeque<Message>,
    /// Payload bytes queued.
    queued_bytes: usize,
}

impl Endpoint {
    /// Whether a message of `length` bytes would be refused, and why.
    pub fn refuses(&self, length: usize) -> Option<IpcError> {
        if length > MAX_MESSAGE_BYTES {
            return Some(IpcError::TooLong);
        }
        if self.queue.len() >= QUEUE_CAPACITY || self.queued_bytes + length > QUEUE_BYTES {
            return Some(IpcError::Full);
        }
        None
    }

    /// Queues `message`, or fails with [`IpcError::TooLong`] / [`IpcError::Full`].
    pub fn push(&mut self, message: Message) -> Result<(), IpcError> {
        if let Some(error) = self.refuses(message.bytes.len()) {
            return Err(error);
        }
        self.queued_bytes += message.bytes.len();
        self.queue.push_back(message);
        Ok(())
    }

    /// Takes the oldest message.
    pub fn pop(&mut self) -> Option<Message> {
        let message = self.queue.pop_front()?;
        self.queued_bytes -= message.bytes.len();
        Some(message)
    }

    /// Takes the message of call `token` off the queue (its caller
    /// withdrew it before anyone received it); whether it was queued.
    pub fn remove_call(&mut self, token: u64) -> bool {
        let Some(position) = self.queue.iter().position(|message| message.token == token) else {
            return false;
        };
        if let Some(message) = self.queue.remove(position) {
            self.queued_bytes -= message.bytes.len();
        }
        true
    }

    /// Messages queued.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// What a handle lets its holder do: the ABI's one rights type, the same
/// one a Wasm module's endpoint capabilities carry.
pub use cella_abi::Rights;

/// A capability: an endpoint and rights on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// What the holder may do.
    pub rights: Rights,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    generation: u16,
    capability: Option<Capability>,
}

/// One holder's capabilities.
#[derive(Clone, Debug, Default)]
pub struct CapabilityTable {
    slots: Vec<Slot>,
}

impl CapabilityTable {
    /// Grants `capability`; returns its handle.
    pub fn insert(&mut self, capability: Capability) -> Result<Handle, IpcError> {
        let index = match self.slots.iter().position(|slot| slot.capability.is_none()) {
            Some(index) => index,
            None if self.slots.len() < MAX_HANDLES => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
            None => return Err(IpcError::TooManyHandles),
        };
        let slot = &mut self.slots[index];
        slot.capability = Some(capability);
        Ok(index as u32 | (u32::from(slot.generation) << 16))
    }

    /// The capability `handle` names, if it is live.
    pub fn get(&self, handle: Handle) -> Result<Capability, IpcError> {
        let index = (handle & 0xffff) as usize;
        let generation = (handle >> 16) as u16;
        let slot = self.slots.get(index).ok_or(IpcError::BadHandle)?;
        if slot.generation != generation {
            return Err(IpcError::StaleHandle);
        }
        slot.capability.ok_or(IpcError::StaleHandle)
    }

    /// Like [`get`](Self::get), and checks that the handle carries `wanted`.
    pub fn check(&self, handle: Handle, wanted: Rights) -> Result<EndpointId, IpcError> {
        let capability = self.get(handle)?;
        if capability.rights.contains(wanted) {
            Ok(capability.endpoint)
        } else {
            Err(IpcError::NoRight)
        }
    }

    /// Revokes `handle`; its slot's generation moves on.
    pub fn revoke(&mut self, handle: Handle) -> Result<(), IpcError> {
        self.get(handle)?;
        let slot = &mut self.slots[(handle & 0xffff) as usize];
        slot.capability = None;
        slot.generation = slot.generation.wrapping_add(1);
        Ok(())
    }

    /// Revokes every capability naming `endpoint` (it closed).
    pub fn revoke_endpoint(&mut self, endpoint: EndpointId) {
        for slot in &mut self.slots {
            if slot
                .capability
                .is_some_and(|capability| capability.endpoint == endpoint)
            {
                slot.capability = None;
                slot.generation = slot.generation.wrapping_add(1);
            }
        }
    }

    /// Live capabilities.
    pub fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.capability.is_some())
            .count()
    }

    /// Whether the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Servers by name (a hash map: nothing lists the names in order).
#[derive(Debug, Default)]
pub struct NameService {
    names: HashMap<String, EndpointId>,
}

impl NameService {
    /// Registers `name` for `endpoint`.
    pub fn register(&mut self, name: &str, endpoint: EndpointId) -> Result<(), IpcError> {
        if self.names.contains_key(name) {
            return Err(IpcError::NameTaken);
        }
        self.names.insert(String::from(name), endpoint);
        Ok(())
    }

    /// The endpoint registered as `name`.
    pub fn lookup(&self, name: &str) -> Result<EndpointId, IpcError> {
        self.names.get(name).copied().ok_or(IpcError::NotFound)
    }

    /// Forgets every name of `endpoint`.
    pub fn unregister_endpoint(&mut self, endpoint: EndpointId) {
        self.names.retain(|_, registered| *registered != endpoint);
    }
}

/// One outstanding call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingCall<W> {
    /// Who waits for the reply.
    waiter: W,
    /// The endpoint the call was queued on.
    endpoint: EndpointId,
    /// Who took the message off the queue (the only one who may answer it
    /// through [`PendingCalls::close_by`]); `None` while it is queued.
    receiver: Option<W>,
}

/// Outstanding calls: token → who waits for the reply, and who may answer.
///
/// Tokens are not a count from 1: each is a bijective mix of a counter and a
/// per-boot key ([`PendingCalls::set_key`]), so they are distinct but not
/// guessable from one another; and an untrusted replier must be the receiver
/// the token is bound to ([`PendingCalls::close_by`]), so even a guessed
/// token answers nothing.
#[derive(Debug, Default)]
pub struct PendingCalls<W> {
    counter: u64,
    key: u64,
    waiting: BTreeMap<u64, PendingCall<W>>,
}

/// The 64-bit finaliser of SplitMix64: a bijection that scatters its input.
fn scatter(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

impl<W: Copy + PartialEq> PendingCalls<W> {
    /// Sets the key tokens are mixed with (from a boot-time entropy source).
    pub fn set_key(&mut self, key: u64) {
        self.key = key;
    }

    /// A fresh token for a call by `waiter` queued on `endpoint` (never 0,
    /// never `u64::MAX`, which is the notification token).
    pub fn open(&mut self, waiter: W, endpoint: EndpointId) -> u64 {
        let token = loop {
            self.counter = self.counter.wrapping_add(1);
            let token = scatter(self.counter ^ self.key);
            if token != 0 && token != u64::MAX && !self.waiting.contains_key(&token) {
                break token;
            }
        };
        self.waiting.insert(
            token,
            PendingCall {
                waiter,
                endpoint,
                receiver: None,
            },
        );
        token
    }

    /// Binds `token` to `receiver`, who took its message off the queue.
    pub fn received(&mut self, token: u64, receiver: W) {
        if let Some(call) = self.waiting.get_mut(&token) {
            call.receiver = Some(receiver);
        }
    }

    /// Who received the message of call `token`, if it was received and is
    /// not answered yet.
    pub fn receiver_of(&self, token: u64) -> Option<W>
    where
        W: Copy,
    {
        self.waiting.get(&token).and_then(|call| call.receiver)
    }

    /// The endpoint whose queue still holds the message of call `token`
    /// (nobody received it yet).
    pub fn queued_on(&self, token: u64) -> Option<EndpointId> {
        self.waiting
            .get(&token)
            .filter(|call| call.receiver.is_none())
            .map(|call| call.endpoint)
    }

    /// Answers `token` once (trusted kernel code): who waited, or [`IpcError::BadToken`].
    pub fn close(&mut self, token: u64) -> Result<W, IpcError> {
        self.waiting
            .remove(&token)
            .map(|call| call.waiter)
            .ok_or(IpcError::BadToken)
    }

    /// Answers `token` once on behalf of `receiver`, who must be the one that
    /// received its message. Anything else is [`IpcError::BadToken`] and
    /// leaves the call as it was (its real receiver can still answer it).
    pub fn close_by(&mut self, token: u64, receiver: W) -> Result<W, IpcError> {
        match self.waiting.get(&token) {
            Some(call) if call.receiver == Some(receiver) => self.close(token),
            _ => Err(IpcError::BadToken),
        }
    }

    /// Withdraws every call queued on or received from `endpoint` (it
    /// closed); returns their tokens and waiters, to be told.
    pub fn close_endpoint(&mut self, endpoint: EndpointId) -> Vec<(u64, W)> {
        let mut waiters = Vec::new();
        self.waiting.retain(|token, call| {
            if call.endpoint == endpoint {
                waiters.push((*token, call.waiter));
                false
            } else {
                true
            }
        });
        waiters
    }

    /// Calls in flight.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether no call is in flight.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: &[u8]) -> Message {
        Message {
            token: 0,
            bytes: bytes.to_vec(),
        }
    }

    const SEND: Rights = Rights::SEND;
    const BOTH: Rights = Rights::SEND.union(Rights::RECEIVE);

    #[test]
    fn codes_match_the_native_syscall_abi() {
        use cella_abi::syscalls as abi;
        assert_eq!(IpcError::TooLong.code(), abi::E_TOO_LONG);
        assert_eq!(IpcError::Full.code(), abi::E_FULL);
        assert_eq!(IpcError::Closed.code(), abi::E_CLOSED);
        assert_eq!(IpcError::BadToken.code(), abi::E_BAD_TOKEN);
        assert_eq!(IpcError::NotFound.code(), abi::E_NOT_FOUND);
        assert_eq!(IpcError::TimedOut.code(), abi::E_TIMED_OUT);
    }

    #[test]
    fn queue_is_fifo_and_bounded() {
        let mut endpoint = Endpoint::default();
        for index in 0..QUEUE_CAPACITY {
            endpoint.push(message(&[index as u8])).expect("room");
        }
        assert_eq!(endpoint.push(message(b"x")), Err(IpcError::Full));
        assert_eq!(endpoint.len(), QUEUE_CAPACITY);
        for index in 0..QUEUE_CAPACITY {
            assert_eq!(endpoint.pop(), Some(message(&[index as u8])));
        }
        assert_eq!(endpoint.pop(), None);
        assert!(endpoint.is_empty());
    }

    #[test]
    fn message_size_limit_is_exact() {
        let mut endpoint = Endpoint::default();
        assert!(endpoint.push(message(&[0; MAX_MESSAGE_BYTES])).is_ok());
        assert_eq!(
            endpoint.push(message(&[0; MAX_MESSAGE_BYTES + 1])),
            Err(IpcError::TooLong)
        );
        assert!(endpoint.push(message(&[])).is_ok());
    }

    #[test]
    fn a_queue_holds_at_most_its_bytes() {
        let mut endpoint = Endpoint::default();
        let largest = MAX_MESSAGE_BYTES;
        for _ in 0..QUEUE_BYTES / largest {
            endpoint.push(message(&vec![7; largest])).expect("room");
        }
        assert_eq!(endpoint.push(message(&[1])), Err(IpcError::Full));
        assert_eq!(endpoint.refuses(1), Some(IpcError::Full));
        // A receive makes room for exactly what it took.
        assert!(endpoint.pop().is_some());
        assert_eq!(endpoint.refuses(largest + 1), Some(IpcError::TooLong));
        assert_eq!(endpoint.refuses(largest), None);
        endpoint
            .push(message(&vec![7; largest - 10]))
            .expect("room");
        assert_eq!(endpoint.refuses(11), Some(IpcError::Full));
        endpoint.push(message(&[0; 10])).expect("room");
        while endpoint.pop().is_some() {}
        assert_eq!(endpoint.refuses(largest), None);
    }

    #[test]
    fn ipc_errors_are_the_abis_codes() {
        // The numbers a process sees, as docs/processes.md lists them.
        for (error, code) in [
            (IpcError::NoRight, -1),
            (IpcError::BadHandle, -2),
            (IpcError::StaleHandle, -3),
            (IpcError::TooManyHandles, -8),
            (IpcError::Full, -9),
            (IpcError::Empty, -10),
            (IpcError::TooLong, -13),
            (IpcError::Closed, -14),
            (IpcError::BadToken, -15),
            (IpcError::NotFound, -16),
            (IpcError::TimedOut, -17),
            (IpcError::NameTaken, -18),
        ] {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }

    #[test]
    fn a_withdrawn_call_leaves_the_queue_and_frees_its_bytes() {
        let mut endpoint = Endpoint::default();
        let mut calls = PendingCalls::default();
        let kept = calls.open(1u32, 9);
        let withdrawn = calls.open(2u32, 9);
        for token in [kept, withdrawn] {
            endpoint
                .push(Message {
                    token,
                    bytes: vec![1; MAX_MESSAGE_BYTES],
                })
                .expect("room");
        }
        assert_eq!(calls.queued_on(withdrawn), Some(9));
        assert!(endpoint.remove_call(withdrawn));
        assert!(!endpoint.remove_call(withdrawn), "once");
        assert_eq!(endpoint.len(), 1);
        // Its bytes are free again: two more of the largest fit.
        for _ in 0..2 {
            endpoint
                .push(Message {
                    token: 0,
                    bytes: vec![0; MAX_MESSAGE_BYTES],
                })
                .expect("room");
        }
        assert_eq!(endpoint.pop().map(|message| message.token), Some(kept));
        // A received call is no longer queued anywhere.
        calls.received(kept, 5);
        assert_eq!(calls.queued_on(kept), None);
    }

    #[test]
    fn full_queue_accepts_again_after_a_receive() {
        let mut endpoint = Endpoint::default();
        while endpoint.push(message(b"m")).is_ok() {}
        endpoint.pop();
        assert!(endpoint.push(message(b"n")).is_ok());
        assert_eq!(endpoint.push(message(b"o")), Err(IpcError::Full));
    }

    #[test]
    fn handles_check_rights() {
        let mut table = CapabilityTable::default();
        let send_only = table
            .insert(Capability {
                endpoint: 7,
                rights: SEND,
            })
            .expect("room");
        assert_eq!(table.check(send_only, Rights::SEND), Ok(7));
        assert_eq!(
            table.check(send_only, Rights::RECEIVE),
            Err(IpcError::NoRight)
        );
        assert_eq!(table.check(0xffff, Rights::SEND), Err(IpcError::BadHandle));
    }

    #[test]
    fn revoked_handle_is_stale_even_after_its_slot_is_reused() {
        let mut table = CapabilityTable::default();
        let old = table
            .insert(Capability {
                endpoint: 1,
                rights: BOTH,
            })
            .expect("room");
        table.revoke(old).expect("live");
        assert_eq!(table.get(old), Err(IpcError::StaleHandle));
        let new = table
            .insert(Capability {
                endpoint: 2,
                rights: BOTH,
            })
            .expect("room");
        assert_eq!(new & 0xffff, old & 0xffff, "the slot is reused");
        assert_ne!(new, old, "with a new generation");
        assert_eq!(table.get(old), Err(IpcError::StaleHandle));
        assert_eq!(table.check(new, Rights::RECEIVE), Ok(2));
        assert_eq!(table.revoke(old), Err(IpcError::StaleHandle));
    }

    #[test]
    fn closing_an_endpoint_revokes_its_handles() {
        let mut table = CapabilityTable::default();
        let first = table
            .insert(Capability {
                endpoint: 3,
                rights: SEND,
            })
            .expect("room");
        let other = table
            .insert(Capability {
                endpoint: 4,
                rights: SEND,
            })
            .expect("room");
        table.revoke_endpoint(3);
        assert_eq!(table.get(first), Err(IpcError::StaleHandle));
        assert!(table.get(other).is_ok());
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn table_is_bounded() {
        let mut table = CapabilityTable::default();
        for _ in 0..MAX_HANDLES {
            table
                .insert(Capability {
                    endpoint: 1,
                    rights: SEND,
                })
                .expect("room");
        }
        assert_eq!(
            table.insert(Capability {
                endpoint: 1,
                rights: SEND
            }),
            Err(IpcError::TooManyHandles)
        );
    }

    #[test]
    fn name_service_registers_once_and_finds() {
        let mut names = NameService::default();
        names.register("crc", 5).expect("free");
        assert_eq!(names.register("crc", 6), Err(IpcError::NameTaken));
        assert_eq!(names.lookup("crc"), Ok(5));
        assert_eq!(names.lookup("nope"), Err(IpcError::NotFound));
        names.unregister_endpoint(5);
        assert_eq!(names.lookup("crc"), Err(IpcError::NotFound));
    }

    #[test]
    fn reply_tokens_answer_once() {
        let mut calls = PendingCalls::default();
        let first = calls.open(10u32, 1);
        let second = calls.open(11u32, 1);
        assert_ne!(first, 0);
        assert_ne!(first, second);
        assert_eq!(calls.close(second), Ok(11));
        assert_eq!(calls.close(second), Err(IpcError::BadToken));
        assert_eq!(calls.close(first), Ok(10));
        assert!(calls.is_empty());
        assert_eq!(calls.close(12345), Err(IpcError::BadToken));
    }

    #[test]
    fn only_the_receiver_answers_and_a_foreign_try_changes_nothing() {
        let mut calls = PendingCalls::default();
        let token = calls.open(10u32, 1);
        // Still queued: nobody may answer it yet.
        assert_eq!(calls.close_by(token, 20), Err(IpcError::BadToken));
        calls.received(token, 20);
        assert_eq!(calls.close_by(token, 99), Err(IpcError::BadToken));
        assert_eq!(calls.len(), 1, "the foreign reply left the call pending");
        assert_eq!(calls.close_by(token, 20), Ok(10));
        assert_eq!(calls.close_by(token, 20), Err(IpcError::BadToken), "once");
    }

    #[test]
    fn tokens_are_distinct_and_do_not_count_up() {
        let mut calls = PendingCalls::default();
        calls.set_key(0x1234_5678_9abc_def0);
        let tokens: Vec<u64> = (0..10_000).map(|_| calls.open(1u32, 1)).collect();
        let mut sorted = tokens.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), tokens.len());
        assert!(tokens.iter().all(|&token| token != 0 && token != u64::MAX));
        let consecutive = tokens
            .windows(2)
            .filter(|pair| pair[1].wrapping_sub(pair[0]) < 1 << 32)
            .count();
        assert!(consecutive < 10, "{consecutive} near-consecutive tokens");
    }

    #[test]
    fn closing_an_endpoint_returns_its_callers_queued_or_received() {
        let mut calls = PendingCalls::default();
        let queued = calls.open(10u32, 1);
        let received = calls.open(11u32, 1);
        calls.received(received, 30);
        let other = calls.open(12u32, 2);
        let mut waiters = calls.close_endpoint(1);
        waiters.sort_unstable_by_key(|(_, waiter)| *waiter);
        assert_eq!(waiters, [(queued, 10), (received, 11)]);
        assert_eq!(calls.close(queued), Err(IpcError::BadToken));
        assert_eq!(calls.close(other), Ok(12));
    }

    #[test]
    fn error_codes_are_distinct_and_negative() {
        let all = [
            IpcError::BadHandle,
            IpcError::StaleHandle,
            IpcError::NoRight,
            IpcError::TooLong,
            IpcError::Full,
            IpcError::Empty,
            IpcError::Closed,
            IpcError::BadToken,
            IpcError::NameTaken,
            IpcError::NotFound,
            IpcError::TooManyHandles,
            IpcError::TimedOut,
        ];
        let mut codes: Vec<i64> = all.iter().map(|error| error.code()).collect();
        assert!(codes.iter().all(|&code| code < 0));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        // Running out of memory is the same for a caller as running out of
        // handles: a limit was reached.
        assert_eq!(
            IpcError::NoMemory.error_code(),
            IpcError::TooManyHandles.error_code()
        );
    }
}
