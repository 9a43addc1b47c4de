//! The queue modules' messages travel in: bounded, filled by every sandbox's
//! outbox on any thread, drained by the event loop's router.
//!
//! A module's `ipc_send`, `ipc_reply` and `ipc_call` land here through [`KernelOutbox`];
//! the kernel itself posts here too (console output, its own requests). The
//! queue is bounded: when it is full a module's send fails with `Busy`
//! (back-pressure, never unbounded growth) and the kernel console falls back
//! to writing COM1 directly.

use crate::module_system::services::Routed;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::abi::ErrorCode;
use cella_wasm_host::{Loan, Outbox};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Most messages in flight at once.
pub const CAPACITY: usize = 1024;

/// The sender name the kernel uses for its own messages.
pub const KERNEL: &str = crate::module_system::router::KERNEL_SENDER;

static QUEUE: Mutex<VecDeque<Routed>> = Mutex::new(VecDeque::new());

/// Process calls being handled whose reply goes straight to the process:
/// request -> its reply token, or `None` once answered.
static DIRECT: Mutex<BTreeMap<u32, Option<u64>>> = Mutex::new(BTreeMap::new());

/// Request `request` is process call `token`: a module's reply to it is
/// given to the process at once, on the module's thread, so the process
/// runs on without waiting for the event loop to route the reply.
pub fn answer_directly(request: u32, token: u64) {
    without_interrupts(|| DIRECT.lock().insert(request, Some(token)));
}

/// Whether the reply to `request` already reached its process; forgets
/// `request` either way.
pub fn answered_directly(request: u32) -> bool {
    without_interrupts(|| DIRECT.lock().remove(&request)) == Some(None)
}

fn push(message: Routed) -> Result<(), Routed> {
    without_interrupts(|| {
        let mut queue = QUEUE.lock();
        if queue.len() >= CAPACITY {
            return Err(message);
        }
        queue.push_back(message);
        Ok(())
    })
}

/// Posts a kernel message to `endpoint`; gives the bytes back if the queue is full.
pub fn send_from_kernel(endpoint: u64, bytes: Vec<u8>) -> Result<(), Vec<u8>> {
    push(Routed::Send {
        from: String::from(KERNEL),
        endpoint,
        bytes,
    })
    .map_err(|message| match message {
        Routed::Send { bytes, .. } | Routed::Reply { bytes, .. } | Routed::Call { bytes, .. } => {
            bytes
        }
    })
}

/// Takes everything queued, oldest first.
pub fn take_all() -> VecDeque<Routed> {
    without_interrupts(|| core::mem::take(&mut *QUEUE.lock()))
}

/// Whether anything is queued.
pub fn is_empty() -> bool {
    without_interrupts(|| QUEUE.lock().is_empty())
}

/// The outbox every sandbox gets: a handle to the shared queue.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelOutbox;

impl Outbox for KernelOutbox {
    fn send(&mut self, module: &str, endpoint: u64, message: &[u8]) -> Result<(), ErrorCode> {
        push(Routed::Send {
            from: String::from(module),
            endpoint,
            bytes: message.to_vec(),
        })
        .map_err(|_| ErrorCode::Busy)?;
        crate::console::note_module_output(endpoint, message);
        Ok(())
    }

    fn reply(&mut self, module: &str, request: u32, message: &[u8]) -> Result<(), ErrorCode> {
        let token = without_interrupts(|| match DIRECT.lock().get_mut(&request) {
            Some(waiting @ Some(_)) => waiting.take(),
            _ => None,
        });
        // The router still sees every reply (it forgets the request then);
        // a reply that goes to its process from here needs no bytes there.
        let bytes = if token.is_some() {
            Vec::new()
        } else {
            message.to_vec()
        };
        let queued = push(Routed::Reply {
            from: String::from(module),
            request,
            bytes,
        })
        .is_ok();
        if !queued {
            // Refused: the way to the process stays for the module's next try.
            if let Some(token) = token {
                without_interrupts(|| DIRECT.lock().insert(request, Some(token)));
            }
            return Err(ErrorCode::Busy);
        }
        match token.map(|token| crate::ipc::reply(token, message)) {
            None | Some(Ok(())) => {}
            // The caller withdrew the call (it timed out, or its instance ended).
            Some(Err(crate::ipc::IpcError::BadToken)) => {
                log::info!("a reply was dropped: its caller no longer waits")
            }
            Some(Err(error)) => log::warn!("a reply was not delivered: {error}"),
        }
        Ok(())
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
        push(Routed::Call {
            from: String::from(module),
            generation,
            endpoint,
            call,
            bytes: message.to_vec(),
            loan,
        })
        .map_err(|_| ErrorCode::Busy)
    }
}
