//! How messages leave a sandbox: the embedder's router.
//!
//! The host owns no kernel endpoints. A message a guest sends (or a reply to a
//! request it handled) is handed to the [`Outbox`] the embedder supplied;
//! incoming messages come back as [`crate::Event::Message`].

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use cella_abi::ErrorCode;
use core::cell::RefCell;

/// A DMA buffer the caller lends with a call (`ipc_call_lending`): where
/// it is, how big, and whether the server may write it. The server reaches
/// it as a buffer capability until it answers the call (see
/// [`crate::Sandbox::deliver_lent`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loan {
    /// The buffer's address (physical, as the caller's platform allocated it).
    pub device_address: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Whether the server (and its device) may write it.
    pub writable: bool,
}

/// The embedder's message router. Like [`crate::Platform`], a cheap handle:
/// clones reach the same router.
pub trait Outbox {
    /// Takes a message from `module` to the endpoint `endpoint` (the id the
    /// grant gave for the name the module requested).
    ///
    /// # Errors
    /// [`ErrorCode::Busy`] when the receiver cannot take it now; any other
    /// code is passed to the guest as is.
    fn send(&mut self, module: &str, endpoint: u64, message: &[u8]) -> Result<(), ErrorCode>;

    /// Takes `module`'s reply to request `request`.
    ///
    /// # Errors
    /// As for [`Outbox::send`].
    fn reply(&mut self, module: &str, request: u32, message: &[u8]) -> Result<(), ErrorCode>;

    /// Takes `module`'s call `call` (made by its instance of generation
    /// `generation`) to the endpoint `endpoint`, lending the server `loan`
    /// if there is one. The answer comes back to that instance as
    /// [`crate::Event::Reply`] for `call`: the reply's bytes, or an error
    /// code when the call fails.
    ///
    /// A loan comes held: the host took one loan of the buffer for the
    /// call ([`crate::Platform::dma_lend`] with no device), which the
    /// router gives back ([`crate::Platform::dma_return`] with no device)
    /// when the request ends: answered, failed or dropped. When this
    /// returns an error the host gives it back itself.
    ///
    /// The default refuses every call with [`ErrorCode::Closed`], for
    /// routers that carry no calls.
    ///
    /// # Errors
    /// As for [`Outbox::send`].
    fn call(
        &mut self,
        module: &str,
        generation: u32,
        endpoint: u64,
        call: u32,
        message: &[u8],
        loan: Option<Loan>,
    ) -> Result<(), ErrorCode> {
        let _ = (module, generation, endpoint, call, message, loan);
        Err(ErrorCode::Closed)
    }
}

/// One message handed to a [`QueueOutbox`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// A message to an endpoint.
    Send {
        /// Sending module.
        module: String,
        /// Endpoint id.
        endpoint: u64,
        /// Bytes.
        message: Vec<u8>,
    },
    /// A reply to a request.
    Reply {
        /// Replying module.
        module: String,
        /// Request id.
        request: u32,
        /// Bytes.
        message: Vec<u8>,
    },
    /// A call to an endpoint.
    Call {
        /// Calling module.
        module: String,
        /// The calling instance's generation.
        generation: u32,
        /// Endpoint id.
        endpoint: u64,
        /// Call id.
        call: u32,
        /// Bytes.
        message: Vec<u8>,
        /// The buffer lent with it.
        loan: Option<Loan>,
    },
}

/// A bounded in-memory [`Outbox`] for tests and simple embedders: clones
/// share one queue; a full queue answers [`ErrorCode::Busy`].
#[derive(Clone, Debug)]
pub struct QueueOutbox {
    queue: Rc<RefCell<VecDeque<Outgoing>>>,
    capacity: usize,
}

impl QueueOutbox {
    /// A queue that holds at most `capacity` messages.
    pub fn new(capacity: usize) -> QueueOutbox {
        QueueOutbox {
            queue: Rc::new(RefCell::new(VecDeque::new())),
            capacity,
        }
    }

    /// Removes and returns everything queued.
    pub fn drain(&self) -> Vec<Outgoing> {
        self.queue.borrow_mut().drain(..).collect()
    }

    /// Number of queued messages.
    pub fn len(&self) -> usize {
        self.queue.borrow().len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }

    fn push(&mut self, item: Outgoing) -> Result<(), ErrorCode> {
        let mut queue = self.queue.borrow_mut();
        if queue.len() >= self.capacity {
            return Err(ErrorCode::Busy);
        }
        queue.push_back(item);
        Ok(())
    }
}

impl Outbox for QueueOutbox {
    fn send(&mut self, module: &str, endpoint: u64, message: &[u8]) -> Result<(), ErrorCode> {
        self.push(Outgoing::Send {
            module: module.into(),
            endpoint,
            message: message.to_vec(),
        })
    }

    fn reply(&mut self, module: &str, request: u32, message: &[u8]) -> Result<(), ErrorCode> {
        self.push(Outgoing::Reply {
            module: module.into(),
            request,
            message: message.to_vec(),
        })
    }

    fn call(
        &mut self,
        module: &str,
        generation: u32,
        endpoint: u64,
        call: u32,
        message: &[u8],
        loan: Option<Loan>,
    ) -> Result<(), ErrorCode> {
        self.push(Outgoing::Call {
            module: module.into(),
            generation,
            endpoint,
            call,
            message: message.to_vec(),
            loan,
        })
    }
}
