//! JSON rendering of the supervisor's rows, written by hand into any
//! `core::fmt::Write`. Strings are escaped as RFC 8259 says: `"` and `\`
//! with a backslash, the control characters below U+0020 as `\n`, `\r`,
//! `\t` or `\u00XX`; everything else (any Unicode) as it is.
//!
//! The shapes (docs/httpd.md): a module is `{"name", "version",
//! "generation", "state", "restarts", "events", "fuel", "memory_kib",
//! "log_lines_dropped"}`; a process `{"name", "line"}`; a fault `{"time_ns",
//! "module", "generation", "handling", "reason", "accesses": [lines]}`; a
//! capability `{"kind", "text"}`; the status `{"uptime_ns", "heap_used",
//! "heap_free", "modules_up", "modules_total"}`; an error `{"error"}`.

use cella_sdk::interfaces::supervisor::{CapabilityRow, FaultRow, ModuleRow, ProcessRow, Status};
use core::fmt::{Result, Write};

/// `text` as a JSON string, quotes included.
pub fn string(out: &mut impl Write, text: &str) -> Result {
    out.write_char('"')?;
    let mut plain = 0;
    for (at, character) in text.char_indices() {
        let escaped = match character {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            control if u32::from(control) < 0x20 => "",
            _ => continue,
        };
        out.write_str(&text[plain..at])?;
        if escaped.is_empty() {
            write!(out, "\\u{:04x}", u32::from(character))?;
        } else {
            out.write_str(escaped)?;
        }
        plain = at + character.len_utf8();
    }
    out.write_str(&text[plain..])?;
    out.write_char('"')
}

/// One module of `ps`.
pub fn module(out: &mut impl Write, row: &ModuleRow<'_>) -> Result {
    out.write_str("{\"name\":")?;
    string(out, row.name)?;
    out.write_str(",\"version\":")?;
    string(out, row.version)?;
    write!(out, ",\"generation\":{},\"state\":", row.generation)?;
    string(out, row.state)?;
    write!(
        out,
        ",\"restarts\":{},\"events\":{},\"fuel\":{},\"memory_kib\":{},\"log_lines_dropped\":{}}}",
        row.restarts, row.events, row.fuel, row.memory_kib, row.log_lines_dropped
    )
}

/// One native process of `ps`.
pub fn process(out: &mut impl Write, row: &ProcessRow<'_>) -> Result {
    out.write_str("{\"name\":")?;
    string(out, row.name)?;
    out.write_str(",\"line\":")?;
    string(out, row.line)?;
    out.write_char('}')
}

/// One fault record; its device accesses and host calls one string a line.
pub fn fault(out: &mut impl Write, row: &FaultRow<'_>) -> Result {
    write!(out, "{{\"time_ns\":{},\"module\":", row.time_ns)?;
    string(out, row.module)?;
    write!(out, ",\"generation\":{},\"handling\":", row.generation)?;
    string(out, row.handling)?;
    out.write_str(",\"reason\":")?;
    string(out, row.reason)?;
    out.write_str(",\"accesses\":[")?;
    for (index, access) in row.accesses.lines().enumerate() {
        if index > 0 {
            out.write_char(',')?;
        }
        string(out, access)?;
    }
    out.write_str("]}")
}

/// One line of `caps`.
pub fn capability(out: &mut impl Write, row: &CapabilityRow<'_>) -> Result {
    out.write_str("{\"kind\":")?;
    string(out, row.kind.word())?;
    out.write_str(",\"text\":")?;
    string(out, row.text)?;
    out.write_char('}')
}

/// Uptime, kernel heap and modules running.
pub fn status(out: &mut impl Write, status: &Status) -> Result {
    write!(
        out,
        "{{\"uptime_ns\":{},\"heap_used\":{},\"heap_free\":{},\"modules_up\":{},\"modules_total\":{}}}",
        status.uptime_ns,
        status.heap_used,
        status.heap_free,
        status.modules_up,
        status.modules_total
    )
}

/// `{"error":"WHY"}`.
pub fn error(out: &mut impl Write, why: impl core::fmt::Display) -> Result {
    let mut text = cella_sdk::TextBuffer::<256>::new();
    let _ = write!(text, "{why}");
    out.write_str("{\"error\":")?;
    string(out, text.as_str())?;
    out.write_str("}")
}

#[cfg(test)]
mod tests;
