//! Event kinds delivered to a module, and log levels.

/// What woke a module up. Each kind has its own exported handler (see
/// [`crate::Export`]); the number is used in traces and by the SDK.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The module is started: `init` runs.
    Init = 0,
    /// A granted IRQ line fired: `on_irq(handle)` runs.
    Irq = 1,
    /// An IPC message arrived: `on_message(request, length)` runs.
    Message = 2,
    /// A one-shot timer expired: `on_timer(handle)` runs.
    Timer = 3,
    /// A call made with `ipc_call` was answered or failed:
    /// `on_reply(call, status, length)` runs.
    Reply = 4,
}

/// Log levels for the `log` host call.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Something failed.
    Error = 1,
    /// Something looks wrong.
    Warn = 2,
    /// Normal progress.
    Info = 3,
    /// Detail for developers.
    Debug = 4,
    /// Very fine detail.
    Trace = 5,
}

impl LogLevel {
    /// The level with the given number, if there is one.
    pub const fn from_code(code: i32) -> Option<LogLevel> {
        match code {
            1 => Some(LogLevel::Error),
            2 => Some(LogLevel::Warn),
            3 => Some(LogLevel::Info),
            4 => Some(LogLevel::Debug),
            5 => Some(LogLevel::Trace),
            _ => None,
        }
    }

    /// Upper-case name as printed in logs.
    pub const fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        }
    }
}
