//! The kernel console: the `log` backend and raw output lines, both on COM1.
//!
//! Log lines look like `INFO  mm: 246 MiB usable`. Lines that tests match
//! exactly (markers, scenario results) are printed raw with [`kprintln!`].
//! Output takes a spin lock with interrupts off; fault and panic reports use
//! [`emergency_writer`] instead, which needs no lock, so a fault in the middle
//! of a log line cannot deadlock its own report.

use crate::arch::serial::{COM1, SerialPort};
use core::fmt::{self, Write};
use log::{LevelFilter, Log, Metadata, Record};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

static PORT: Mutex<SerialPort> = Mutex::new(SerialPort::new(COM1));
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
        let target = target.strip_prefix("cella_kernel::").unwrap_or(target);
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
    without_interrupts(|| {
        let _ = PORT.lock().write_fmt(arguments);
    });
}

/// A writer to COM1 that takes no lock: for fault and panic reports only.
pub fn emergency_writer() -> SerialPort {
    SerialPort::new(COM1)
}

/// Prints a line to the console, bypassing the log levels.
#[macro_export]
macro_rules! kprintln {
    ($($argument:tt)*) => {
        $crate::console::print(format_args!("{}\n", format_args!($($argument)*)))
    };
}
