//! A Wasm module serving a kernel IPC endpoint, so native processes, kernel
//! threads and Wasm servers all meet on the same endpoints.
//!
//! The module runs in its own sandbox on its own kernel thread (preempted like
//! any other thread, so a module busy inside its fuel budget never stops the
//! rest). The thread receives from the endpoint and delivers each message as a
//! message event; the module's `ipc_reply` answers the caller's reply token.
//! Requests get sandbox-local ids (the ABI's request ids are 32-bit); the
//! outbox maps them back to tokens.

use alloc::collections::BTreeMap;
use alloc::string::String;
use cella_kernel::ipc::{self, IpcError};
use cella_kernel::module_host::platform::KernelPlatform;
use cella_kernel::sched::{self, Priority, ThreadId};
use cella_wasm_host::abi::ErrorCode;
use cella_wasm_host::{Event, Grant, Limits, Outbox, Runtime, Sandbox};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Fuel per event for bridged servers: enough for the benchmark's 64 KiB CRC.
pub const FUEL_PER_EVENT: u64 = 50_000_000;
/// Stack of a bridged server's thread (the interpreter recurses).
pub const STACK_PAGES: u64 = 64;

/// Request id → reply token, for every bridged sandbox.
static TOKENS: Mutex<BTreeMap<u32, u64>> = Mutex::new(BTreeMap::new());
static NEXT_REQUEST: Mutex<u32> = Mutex::new(1);

/// Replies go back to the kernel endpoint's caller; sends are refused (a
/// bridged server only answers).
#[derive(Clone, Copy, Debug, Default)]
pub struct BridgeOutbox;

impl Outbox for BridgeOutbox {
    fn send(&mut self, _module: &str, _endpoint: u64, _message: &[u8]) -> Result<(), ErrorCode> {
        Err(ErrorCode::Denied)
    }

    fn reply(&mut self, _module: &str, request: u32, message: &[u8]) -> Result<(), ErrorCode> {
        if request == DIRECT_REQUEST {
            without_interrupts(|| *DIRECT_REPLY.lock() = Some(message.to_vec()));
            return Ok(());
        }
        let token = without_interrupts(|| TOKENS.lock().remove(&request));
        match token {
            Some(token) => ipc::reply(token, message).map_err(|_| ErrorCode::BadArgument),
            None => Err(ErrorCode::BadArgument),
        }
    }
}

/// A sandbox that bridged servers and the benchmark drive directly.
pub type BridgeSandbox = Sandbox<KernelPlatform, BridgeOutbox>;

/// Loads and starts `bytes` as module `name` with no capabilities.
///
/// # Errors
/// The loader's or `init`'s complaint, as text.
pub fn instantiate(name: &str, bytes: &[u8]) -> Result<BridgeSandbox, String> {
    instantiate_granted(name, bytes, &Grant::new())
}

/// Loads and starts `bytes` as module `name` with `grant` (device access
/// through the kernel's platform, as for the manifest's modules).
///
/// # Errors
/// The loader's or `init`'s complaint, as text.
pub fn instantiate_granted(
    name: &str,
    bytes: &[u8],
    grant: &Grant,
) -> Result<BridgeSandbox, String> {
    let limits = Limits {
        fuel_per_event: FUEL_PER_EVENT,
        ..Limits::default()
    };
    let mut runtime: Runtime<KernelPlatform, BridgeOutbox> = Runtime::new(limits);
    let module = runtime
        .load(name, bytes, grant)
        .map_err(|error| alloc::format!("{error}"))?;
    runtime
        .start(&module, KernelPlatform, BridgeOutbox)
        .map_err(|error| alloc::format!("{error}"))
}

/// Delivers one request to `sandbox`, answering `token` through its reply.
fn deliver(sandbox: &mut BridgeSandbox, token: u64, bytes: &[u8]) -> Result<(), String> {
    let request = without_interrupts(|| {
        let mut next = NEXT_REQUEST.lock();
        let request = *next;
        *next = if *next >= DIRECT_REQUEST - 1 {
            1
        } else {
            *next + 1
        };
        if token != 0 {
            TOKENS.lock().insert(request, token);
        }
        request
    });
    let id = if token == 0 { 0 } else { request };
    let outcome = sandbox.deliver(Event::Message { request: id, bytes });
    // A request the module did not answer must not keep its caller waiting.
    let unanswered = without_interrupts(|| TOKENS.lock().remove(&request));
    if let Some(token) = unanswered {
        let _ = ipc::reply(token, &[]);
    }
    outcome
        .map(|_| ())
        .map_err(|fault| alloc::format!("{fault}"))
}

/// Starts a thread that serves endpoint `name` with the Wasm module `bytes`.
///
/// # Errors
/// The endpoint name is taken, or the thread could not start.
pub fn serve(name: &str, module: &str, bytes: &'static [u8]) -> Result<ThreadId, IpcError> {
    serve_granted(name, module, bytes, Grant::new())
}

/// Starts a thread that serves endpoint `name` with the Wasm module `bytes`
/// holding `grant`.
///
/// # Errors
/// The endpoint name is taken, or the thread could not start.
pub fn serve_granted(
    name: &str,
    module: &str,
    bytes: &'static [u8],
    grant: Grant,
) -> Result<ThreadId, IpcError> {
    let endpoint = ipc::create_endpoint(Some(name))?;
    let label = String::from(module);
    sched::spawn_with(
        module,
        Priority::Normal,
        STACK_PAGES,
        None,
        alloc::boxed::Box::new(move || {
            let mut sandbox = match instantiate_granted(&label, bytes, &grant) {
                Ok(sandbox) => sandbox,
                Err(error) => {
                    log::error!("wasm server {label}: {error}");
                    ipc::close_endpoint(endpoint);
                    return;
                }
            };
            log::info!("wasm server {label} serves a kernel endpoint");
            while let Ok(message) = ipc::receive(endpoint, true) {
                if let Err(fault) = deliver(&mut sandbox, message.token, &message.bytes) {
                    log::error!("wasm server {label} faulted: {fault}; endpoint closed");
                    ipc::close_endpoint(endpoint);
                    return;
                }
            }
        }),
    )
    .map_err(|_| IpcError::Closed)
}

/// Delivers a request straight from the kernel (no queue, no thread switch)
/// and returns the reply: the "direct kernel call of a Wasm event" the
/// benchmark measures.
///
/// # Errors
/// The module faulted or did not reply.
pub fn call_direct(
    sandbox: &mut BridgeSandbox,
    bytes: &[u8],
) -> Result<alloc::vec::Vec<u8>, String> {
    without_interrupts(|| DIRECT_REPLY.lock().take());
    let outcome = sandbox.deliver(Event::Message {
        request: DIRECT_REQUEST,
        bytes,
    });
    outcome.map_err(|fault| alloc::format!("{fault}"))?;
    without_interrupts(|| DIRECT_REPLY.lock().take()).ok_or_else(|| String::from("no reply"))
}

/// The request id of [`call_direct`]; bridged requests never use it.
const DIRECT_REQUEST: u32 = 0x7fff_ffff;
static DIRECT_REPLY: Mutex<Option<alloc::vec::Vec<u8>>> = Mutex::new(None);
