//! The kernel console: the `log` backend and raw output lines, both on COM1.
//!
//! Log lines look like `INFO  mm: 246 MiB usable`. Lines that tests match
//! exactly (markers, scenario results) are printed raw with [`kprintln!`].
//!
//! Once the Wasm UART driver is up, console output is routed to it as
//! one-way `write` messages of the typed interface `cella_interfaces::uart`
//! (see [`route_output_to`]), sent without waiting for the driver; the
//! kernel's own COM1 writer stays as
//! the early-boot path and the fallback when the driver is down or its queue
//! is full, so log lines are never lost.
//! Kernel output that would land after a half-written line of a module's
//! (the shell's prompt and what is typed after it) starts on a line of its
//! own; the shell draws its prompt again afterwards (see
//! `crate::module_system::prompt`).
//! Output takes a spin lock with interrupts off; fault and panic reports use
//! [`emergency_writer`] instead, which needs no lock, so a fault in the middle
//! of a log line cannot deadlock its own report.
#![forbid(unsafe_code)]

use crate::arch::serial::SerialPort;
use crate::module_host::message_queue as router;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::uart;
use cella_interfaces::wire::WireError;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use log::{LevelFilter, Log, Metadata, Record};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

static PORT: Mutex<SerialPort> = Mutex::new(SerialPort::com1());
/// Endpoint that receives console output; 0 while the kernel writes COM1 itself.
static SINK: AtomicU64 = AtomicU64::new(0);
/// The last output a module sent to the console's driver did not end a line.
static LINE_OPEN: AtomicBool = AtomicBool::new(false);
/// Largest piece of console output sent as one message.
const CHUNK_BYTES: usize = 1024;
const _: () = assert!(CHUNK_BYTES <= uart::MAX_WRITE_BYTES);
static LOGGER: KernelLogger = KernelLogger;

struct KernelLogger;

impl Log for KernelLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let target = record.target();
        // The kernel's own modules (and the test kernel's) log under their
        // module path, without the crate's name.
        let target = target
            .strip_prefix("cella_kernel::")
            .or_else(|| target.strip_prefix("cella_test_kernel::"))
            .unwrap_or(target);
        print(format_args!(
            "{:<5} {}: {}\n",
            record.level(),
            target,
            record.args()
        ));
    }

    fn flush(&self) {}
}

/// Sets up COM1 and installs the logger at `level`. Safe to call again (it only re-sets the level).
pub fn initialise(level: LevelFilter) {
    without_interrupts(|| PORT.lock().initialise());
    // A second call finds the logger installed; only the level changes.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Writes formatted text to the console.
pub fn print(arguments: fmt::Arguments<'_>) {
    let sink = SINK.load(Ordering::Acquire);
    if sink == 0 && !crate::mm::heap::ready() {
        // Before the heap exists: straight to COM1, not kept in the log ring.
        without_interrupts(|| {
            let _ = PORT.lock().write_fmt(arguments);
        });
        return;
    }
    let mut text = String::new();
    let _ = text.write_fmt(arguments);
    crate::log_ring::append(text.as_bytes());
    if sink == 0 {
        without_interrupts(|| {
            let _ = PORT.lock().write_str(&text);
        });
        return;
    }
    let mut text = text.replace('\n', "\r\n");
    if LINE_OPEN.swap(false, Ordering::AcqRel) {
        text.insert_str(0, "\r\n");
    }
    for chunk in text.as_bytes().chunks(CHUNK_BYTES) {
        let Some(message) = write_message(chunk) else {
            write_direct(chunk);
            continue;
        };
        if let Err(message) = router::send_from_kernel(sink, message) {
            write_message_direct(&message);
        }
    }
}

/// `bytes` as a `uart` `write` message, `None` if there is no memory for it
/// (or they are more than one write carries).
fn write_message(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut message = Vec::new();
    message
        .try_reserve_exact(bytes.len() + uart::WRITE_OVERHEAD)
        .ok()?;
    message.resize(bytes.len() + uart::WRITE_OVERHEAD, 0);
    let length = uart::write::request(&mut message, uart::Bytes(bytes)).ok()?;
    message.truncate(length);
    Some(message)
}

/// Writes what a `uart` message carries to COM1 with the kernel's own
/// writer (console output the driver did not take).
///
/// # Errors
/// The message is not a `write`: nothing of it is written (the caller
/// warns; this module logs nothing itself).
pub fn write_uart_message(message: &[u8]) -> Result<(), WireError> {
    uart::written(message).map(write_direct)
}

/// The kernel's own `write` message, written directly.
fn write_message_direct(message: &[u8]) {
    if let Ok(bytes) = uart::written(message) {
        write_direct(bytes);
    }
}

/// Writes bytes to COM1 with the kernel's own writer.
pub fn write_direct(bytes: &[u8]) {
    without_interrupts(|| {
        let mut port = PORT.lock();
        for &byte in bytes {
            port.write_byte(byte);
        }
    });
}

/// Notes what a module sent to `endpoint`: if it is the console's driver
/// and the `write` in `message` leaves a line open (a prompt, typed text),
/// the kernel's next output starts on a new line.
pub fn note_module_output(endpoint: u64, message: &[u8]) {
    if endpoint != 0
        && endpoint == SINK.load(Ordering::Acquire)
        && let Ok(bytes) = uart::written(message)
        && !bytes.is_empty()
    {
        LINE_OPEN.store(!bytes.ends_with(b"\n"), Ordering::Release);
    }
}

/// Sends console output to the module serving `endpoint` from now on.
pub fn route_output_to(endpoint: u64) {
    SINK.store(endpoint, Ordering::Release);
}

/// The endpoint console output goes to, if a driver has it.
pub fn output_endpoint() -> Option<u64> {
    Some(SINK.load(Ordering::Acquire)).filter(|&endpoint| endpoint != 0)
}

/// Takes console output back from the driver (it died, or the run ends) and
/// writes whatever was still waiting for it directly, so nothing is lost:
/// the bytes of each `write` message. Returns how many messages were
/// refused (not a `write`), for the caller's warning.
pub fn take_back(waiting: Vec<Vec<u8>>) -> usize {
    SINK.store(0, Ordering::Release);
    waiting
        .iter()
        .filter(|message| write_uart_message(message).is_err())
        .count()
}

/// A writer to COM1 that takes no lock: for fault and panic reports only.
pub fn emergency_writer() -> SerialPort {
    SerialPort::com1()
}

/// Prints a line to the console, bypassing the log levels.
#[macro_export]
macro_rules! kprintln {
    ($($argument:tt)*) => {
        $crate::console::print(format_args!("{}\n", format_args!($($argument)*)))
    };
}
