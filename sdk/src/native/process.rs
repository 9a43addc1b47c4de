//! The native process around a module: the backend's state, the start
//! (manifest read, every request checked against the kernel's grant, then
//! `init`), the event loop (messages, IRQ notifications, timers, one event
//! at a time) and the Wasm host's accounting of refused calls.

use super::syscall::{size, syscall};
use super::table::{Entry, Refusals, Table};
use crate::module::Slot;
use crate::text::TextBuffer;
use cella_abi::syscalls::{
    E_DENIED, E_TIMED_OUT, EXIT, IRQ_ROUTE, IRQ_TOKEN, LOG, LOOKUP, MAX_LOG_BYTES, MMIO_MAP_RANGE,
    PCI_FUNCTION, PORTS_GRANTED, RECEIVE, REGISTER, REPLY, TIME,
};
use cella_abi::{ErrorCode, HostFunction, LogLevel, MAX_CAPABILITY_REQUESTS, Manifest};
use cella_interfaces::pci::Function;
use cella_interfaces::wire::decode;
use core::fmt::Write;

/// Bytes of the message being handled (the ABI's limit).
pub const MESSAGE_BYTES: usize = cella_abi::MAX_MESSAGE_BYTES as usize;
/// Exit code of a module faulted for too many refused calls.
pub const FAULT_EXIT: i64 = 70;
/// Exit code when the manifest is bad or asks for more than the grant.
pub const NOT_GRANTED_EXIT: i64 = 71;

/// What the backend keeps between calls.
pub struct State {
    /// The module's name (from its manifest), for log lines.
    pub module: &'static str,
    /// The module's capabilities.
    pub table: Table,
    pub refusals: Refusals,
    /// Kernel handle of the endpoint the process serves (and gets IRQs on).
    pub served: u64,
    /// The message being handled.
    pub message: [u8; MESSAGE_BYTES],
    pub length: usize,
    /// Inside a message event (`ipc_receive` works).
    pub present: bool,
    /// Requests awaiting `ipc_reply`: (request id, kernel reply token),
    /// answered in the event that brought them or later (as a Wasm module
    /// may).
    pub pending: Pending,
    /// The granted PCI function, as the kernel described it at start.
    pub device: Option<Function>,
    next_request: i32,
}

static STATE: Slot<State> = Slot::new(State {
    module: "",
    table: Table::empty(),
    refusals: Refusals::new(),
    served: 0,
    message: [0; MESSAGE_BYTES],
    length: 0,
    present: false,
    pending: Pending::new(),
    device: None,
    next_request: 1,
});

/// Runs `body` on the state; `None` if it is in use (the backend never
/// re-enters itself, so that would be a bug, refused rather than raced).
pub fn with<R>(body: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE.with(body)
}

/// Requests received and not yet answered: a module may answer a request
/// in a later event (when its device has finished), as in the Wasm host.
pub struct Pending {
    waiting: [Option<(i32, u64)>; MAX_PENDING],
}

/// Requests a native module may hold unanswered (the Wasm host's default).
pub const MAX_PENDING: usize = 32;

impl Pending {
    pub const fn new() -> Pending {
        Pending {
            waiting: [None; MAX_PENDING],
        }
    }

    /// Keeps `request`'s reply token; `false` if every place is taken.
    pub fn add(&mut self, request: i32, token: u64) -> bool {
        match self.waiting.iter_mut().find(|place| place.is_none()) {
            Some(place) => {
                *place = Some((request, token));
                true
            }
            None => false,
        }
    }

    /// The reply token of `request`, if it waits.
    pub fn token(&self, request: i32) -> Option<u64> {
        self.waiting
            .iter()
            .flatten()
            .find(|(waiting, _)| *waiting == request)
            .map(|(_, token)| *token)
    }

    /// Forgets `request` (answered, or its caller is gone).
    pub fn remove(&mut self, request: i32) {
        for place in &mut self.waiting {
            if matches!(place, Some((waiting, _)) if *waiting == request) {
                *place = None;
            }
        }
    }
}

/// The entry points the module exports (what `module!` generates).
pub struct Exports {
    pub init: extern "C" fn() -> i32,
    pub on_irq: extern "C" fn(i32),
    pub on_message: extern "C" fn(i32, i32),
    pub on_timer: extern "C" fn(i32),
}

pub fn exit(code: i64) -> ! {
    syscall(EXIT, [code as u64, 0, 0, 0, 0]);
    loop {
        core::hint::spin_loop();
    }
}

pub fn now() -> u64 {
    u64::try_from(syscall(TIME, [0; 5])).unwrap_or(0)
}

/// One log line `LEVEL module: text` (the Wasm host's format; the kernel
/// puts `[process]` in front); text past one syscall's limit goes on
/// continuation lines.
pub fn write_log(level: LogLevel, text: &str) {
    let module = with(|state| state.module).unwrap_or("");
    let mut rest = text;
    loop {
        let mut line = TextBuffer::<MAX_LOG_BYTES>::new();
        let _ = write!(line, "{:<5} {module}: ", level.name());
        let mut cut = rest.len().min(MAX_LOG_BYTES - line.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        line.push_str(rest.get(..cut).unwrap_or_default());
        let bytes = line.as_bytes();
        syscall(LOG, [bytes.as_ptr() as u64, size(bytes.len()), 0, 0, 0]);
        rest = rest.get(cut..).unwrap_or_default();
        if rest.is_empty() || cut == 0 {
            break;
        }
    }
}

/// Counts and logs a refused call as the Wasm host does; one past the
/// limit faults (ends) the module.
fn refuse(function: HostFunction, error: ErrorCode) {
    let Some(counted) = with(|state| state.refusals.count(error)).flatten() else {
        return;
    };
    let mut text = TextBuffer::<128>::new();
    let _ = write!(
        text,
        "refused {function}: {error} (#{}, limit {})",
        counted.count, counted.limit
    );
    write_log(LogLevel::Warn, text.as_str());
    if counted.fault {
        write_log(LogLevel::Error, "faulted: too many refused calls");
        exit(FAULT_EXIT);
    }
}

/// An `i32` result for the module: the value, or the error code (counted).
pub fn conclude(function: HostFunction, result: Result<i32, ErrorCode>) -> i32 {
    result.unwrap_or_else(|error| {
        refuse(function, error);
        error.code()
    })
}

/// An `i64` result for the module: the value, or the error code (counted).
pub fn conclude64(function: HostFunction, result: Result<i64, ErrorCode>) -> i64 {
    result.unwrap_or_else(|error| {
        refuse(function, error);
        i64::from(error.code())
    })
}

/// Checks one manifest request against the kernel's grant (mapping MMIO and
/// routing IRQs to `served` on the way); `false` if it is not granted.
fn admit(entry: &mut Entry, served: u64, device: &mut Option<Function>) -> bool {
    match entry {
        Entry::Ports { base, count } => {
            syscall(
                PORTS_GRANTED,
                [u64::from(*base), u64::from(*count), 0, 0, 0],
            ) == 0
        }
        Entry::Mmio {
            base,
            length,
            address,
        } => {
            let mapped = syscall(MMIO_MAP_RANGE, [*base, *length, 0, 0, 0]);
            *address = u64::try_from(mapped).unwrap_or(0);
            mapped > 0
        }
        Entry::Irq { line } => syscall(IRQ_ROUTE, [u64::from(*line), served, 0, 0, 0]) == 0,
        // Buffers come one by one from `dma_alloc`, within the kernel's grant.
        Entry::Dma { .. } => true,
        // Made at run time only.
        Entry::DmaBuffer { .. } | Entry::LentBuffer { .. } => false,
        Entry::Endpoint { name, kernel } => {
            let handle = syscall(LOOKUP, [name.as_ptr() as u64, size(name.len()), 0, 0, 0]);
            // Not registered yet is fine: `ipc_send` looks it up again.
            *kernel = u64::try_from(handle).ok();
            handle != E_DENIED
        }
        Entry::Timer { .. } => true,
        Entry::PciDevice => {
            let mut record = [0u8; 256];
            let length = syscall(
                PCI_FUNCTION,
                [record.as_mut_ptr() as u64, size(record.len()), 0, 0, 0],
            );
            let decoded = usize::try_from(length)
                .ok()
                .and_then(|length| record.get(..length))
                .and_then(|bytes| decode::<Function>(bytes).ok());
            *device = decoded;
            device.is_some()
        }
        // The list of functions is a module's.
        Entry::PciBus => false,
    }
}

fn describe(entry: Entry, text: &mut TextBuffer<128>) {
    let _ = match entry {
        Entry::Ports { base, count } => write!(text, "port {base:#x} {count}"),
        Entry::Mmio { base, length, .. } => write!(text, "mmio {base:#x} {length:#x}"),
        Entry::Irq { line } => write!(text, "irq {line}"),
        Entry::Dma { bytes, .. } => write!(text, "dma {bytes}"),
        Entry::DmaBuffer { .. } => write!(text, "dma buffer"),
        Entry::LentBuffer { .. } => write!(text, "lent buffer"),
        Entry::Endpoint { name, .. } => write!(text, "endpoint {name}"),
        Entry::Timer { .. } => write!(text, "timer"),
        Entry::PciDevice => write!(text, "pci (no function granted)"),
        Entry::PciBus => write!(text, "pci-bus (granted to modules only)"),
    };
}

/// Reads the manifest, registers `name`, checks every request against the
/// grant. Ends the process with a log line if anything fails.
fn start(name: &str, manifest: &'static str) {
    let (module, table) = match Manifest::parse(manifest)
        .and_then(|parsed| Table::from_manifest(manifest).map(|table| (parsed.name, table)))
    {
        Ok(parsed) => parsed,
        Err(error) => {
            let mut text = TextBuffer::<128>::new();
            let _ = write!(text, "bad manifest: {error}");
            write_log(LogLevel::Error, text.as_str());
            exit(NOT_GRANTED_EXIT);
        }
    };
    let served = syscall(REGISTER, [name.as_ptr() as u64, size(name.len()), 0, 0, 0]);
    let Ok(served) = u64::try_from(served) else {
        write_log(LogLevel::Error, "cannot register the served endpoint");
        exit(served);
    };
    let refused = with(|state| {
        state.module = module;
        state.table = table;
        state.served = served;
        let State { table, device, .. } = state;
        (0..MAX_CAPABILITY_REQUESTS).find_map(|slot| {
            let entry = table.entry_mut(slot)?;
            (!admit(entry, served, device)).then_some(*entry)
        })
    })
    .flatten();
    if let Some(entry) = refused {
        let mut text = TextBuffer::<128>::new();
        let _ = text.write_str("not granted: ");
        describe(entry, &mut text);
        write_log(LogLevel::Error, text.as_str());
        exit(NOT_GRANTED_EXIT);
    }
}

/// The process's life: start, `init`, then one event at a time.
pub fn run(name: &str, manifest: &'static str, exports: Exports) -> ! {
    start(name, manifest);
    let status = (exports.init)();
    if status != 0 {
        exit(i64::from(status));
    }
    loop {
        if let Some(timer) = with(|state| state.table.take_due(now())).flatten() {
            (exports.on_timer)(timer);
            continue;
        }
        let deadline = with(|state| state.table.next_deadline())
            .flatten()
            .map_or(0, |deadline| deadline.max(1));
        let mut token = 0u64;
        let received = with(|state| {
            syscall(
                RECEIVE,
                [
                    state.served,
                    state.message.as_mut_ptr() as u64,
                    size(MESSAGE_BYTES),
                    &raw mut token as u64,
                    deadline,
                ],
            )
        })
        .unwrap_or(E_DENIED);
        if received == E_TIMED_OUT {
            continue;
        }
        let Ok(length) = usize::try_from(received) else {
            write_log(LogLevel::Error, "receiving on the served endpoint failed");
            exit(received);
        };
        let length = length.min(MESSAGE_BYTES);
        if token == IRQ_TOKEN {
            let handle = with(|state| match state.message.get(..length) {
                Some(&[line]) => state.table.handle_for_irq(line),
                _ => None,
            });
            if let Some(handle) = handle.flatten() {
                (exports.on_irq)(handle);
            }
            continue;
        }
        let request = with(|state| {
            state.length = length;
            state.present = true;
            if token == 0 {
                return 0;
            }
            let request = state.next_request;
            state.next_request = if request >= i32::MAX - 1 {
                1
            } else {
                request + 1
            };
            if state.pending.add(request, token) {
                request
            } else {
                // As many requests wait as the Wasm host lets a module
                // hold: this one is answered empty at once.
                -1
            }
        })
        .unwrap_or(0);
        if request < 0 {
            write_log(
                LogLevel::Warn,
                "too many requests unanswered: one answered empty",
            );
            syscall(REPLY, [token, 0, 0, 0, 0]);
            with(|state| state.present = false);
            continue;
        }
        (exports.on_message)(request, length as i32);
        with(|state| state.present = false);
    }
}
