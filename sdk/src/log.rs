//! Logging through the `log` host call. Use the macros: [`crate::info!`],
//! [`crate::warn!`], [`crate::error!`], [`crate::debug!`], [`crate::trace!`].
//!
//! The kernel prints a module's lines on the serial console as
//! `LEVEL module-name: text`. Messages longer than
//! [`cella_abi::MAX_LOG_BYTES`] are cut (at a character boundary), never
//! refused.

use crate::sys;
use crate::text::TextBuffer;
pub use cella_abi::LogLevel;
use core::fmt;

const MAX: usize = cella_abi::MAX_LOG_BYTES as usize;

/// Logs `message` at `level`. Logging cannot fail from the module's point of
/// view: a refusal is ignored (there is nowhere else to report it).
pub fn write(level: LogLevel, message: &str) {
    let mut end = message.len().min(MAX);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let text = message.get(..end).unwrap_or_default();
    let _ = sys::log(
        level as i32,
        sys::pointer(text.as_bytes()),
        sys::length(text.as_bytes()),
    );
}

/// Logs formatted text at `level` (what the macros call).
pub fn write_fmt(level: LogLevel, arguments: fmt::Arguments<'_>) {
    if let Some(text) = arguments.as_str() {
        write(level, text);
        return;
    }
    let mut text = TextBuffer::<MAX>::new();
    let _ = fmt::write(&mut text, arguments);
    write(level, text.as_str());
}

/// Logs at a given [`LogLevel`]: `log!(LogLevel::Info, "x = {}", x)`.
#[macro_export]
macro_rules! log {
    ($level:expr, $($argument:tt)+) => {
        $crate::log::write_fmt($level, ::core::format_args!($($argument)+))
    };
}

/// Logs at [`LogLevel::Error`], with `format!` syntax.
#[macro_export]
macro_rules! error {
    ($($argument:tt)+) => { $crate::log!($crate::LogLevel::Error, $($argument)+) };
}

/// Logs at [`LogLevel::Warn`], with `format!` syntax.
#[macro_export]
macro_rules! warn {
    ($($argument:tt)+) => { $crate::log!($crate::LogLevel::Warn, $($argument)+) };
}

/// Logs at [`LogLevel::Info`], with `format!` syntax.
#[macro_export]
macro_rules! info {
    ($($argument:tt)+) => { $crate::log!($crate::LogLevel::Info, $($argument)+) };
}

/// Logs at [`LogLevel::Debug`], with `format!` syntax.
#[macro_export]
macro_rules! debug {
    ($($argument:tt)+) => { $crate::log!($crate::LogLevel::Debug, $($argument)+) };
}

/// Logs at [`LogLevel::Trace`], with `format!` syntax.
#[macro_export]
macro_rules! trace {
    ($($argument:tt)+) => { $crate::log!($crate::LogLevel::Trace, $($argument)+) };
}
