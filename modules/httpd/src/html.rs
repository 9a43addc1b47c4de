//! The status page (`GET /`): one HTML document with the modules, native
//! processes and recent faults as tables, and the uptime and kernel heap.
//!
//! The tables are rendered here, so the page reads the same without
//! script; a small script fetches `/api/ps` and `/api/log` every
//! [`REFRESH_SECONDS`] and renders the tables again from the JSON (its
//! text goes in with `textContent`, never as markup). Without script a
//! `<noscript>` meta refresh reloads the page instead. Every text from the
//! supervisor is escaped ([`text`]).

use cella_sdk::interfaces::supervisor::{FaultRow, ModuleRow, ProcessRow, Status};
use core::fmt::{Result, Write};

/// How often the page refreshes.
pub const REFRESH_SECONDS: u32 = 2;
/// The most fault records the page shows (the latest ones).
pub const MAX_FAULTS_SHOWN: usize = 16;

/// `value` with `&`, `<`, `>`, `"` and `'` written as character
/// references, so it is text in an element or attribute.
pub fn text(out: &mut impl Write, value: &str) -> Result {
    let mut plain = 0;
    for (at, byte) in value.bytes().enumerate() {
        let escaped = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&value[plain..at])?;
        out.write_str(escaped)?;
        plain = at + 1;
    }
    out.write_str(&value[plain..])
}

/// The document's start: head, style, title and the status line.
pub fn start(out: &mut impl Write, status: Option<&Status>) -> Result {
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Cella status</title>\
<noscript><meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\"></noscript>\
<style>{STYLE}</style></head><body>\n<h1>Cella status</h1>\n<p id=\"status\">"
    )?;
    match status {
        Some(status) => status_line(out, status)?,
        None => out.write_str("The supervisor did not tell the status.")?,
    }
    out.write_str("</p>\n")
}

/// `Up 12.345 s. Kernel heap: 2048 KiB used, 30720 KiB free. 8 of 9
/// modules running.`
fn status_line(out: &mut impl Write, status: &Status) -> Result {
    write!(
        out,
        "Up {}.{:03} s. Kernel heap: {} KiB used, {} KiB free. {} of {} modules running.",
        status.uptime_ns / 1_000_000_000,
        status.uptime_ns / 1_000_000 % 1000,
        status.heap_used / 1024,
        status.heap_free / 1024,
        status.modules_up,
        status.modules_total
    )
}

/// The column names of the modules' table.
const MODULE_COLUMNS: [&str; 8] = [
    "Name",
    "Version",
    "Generation",
    "State",
    "Restarts",
    "Events",
    "Fuel",
    "Memory",
];

/// A table's start: its heading, `<table>` and the header row; the rows
/// follow in `<tbody id="BODY_ID">`.
pub fn table_start(out: &mut impl Write, heading: &str, body_id: &str, columns: &[&str]) -> Result {
    write!(out, "<h2>{heading}</h2>\n<table><thead><tr>")?;
    for column in columns {
        write!(out, "<th>{column}</th>")?;
    }
    writeln!(out, "</tr></thead><tbody id=\"{body_id}\">")
}

/// A table's end.
pub fn table_end(out: &mut impl Write) -> Result {
    out.write_str("</tbody></table>\n")
}

/// The modules' table's start.
pub fn modules_start(out: &mut impl Write) -> Result {
    table_start(out, "Modules", "modules", &MODULE_COLUMNS)
}

/// One module's row.
pub fn module(out: &mut impl Write, row: &ModuleRow<'_>) -> Result {
    out.write_str("<tr><td>")?;
    text(out, row.name)?;
    out.write_str("</td><td>")?;
    text(out, row.version)?;
    write!(out, "</td><td>{}</td><td>", row.generation)?;
    text(out, row.state)?;
    writeln!(
        out,
        "</td><td>{}</td><td>{}</td><td>{}</td><td>{} KiB</td></tr>",
        row.restarts, row.events, row.fuel, row.memory_kib
    )
}

/// The processes' table's start.
pub fn processes_start(out: &mut impl Write) -> Result {
    table_start(
        out,
        "Native processes",
        "processes",
        &["Name", "As ps shows it"],
    )
}

/// One native process's row.
pub fn process(out: &mut impl Write, row: &ProcessRow<'_>) -> Result {
    out.write_str("<tr><td>")?;
    text(out, row.name)?;
    out.write_str("</td><td><code>")?;
    text(out, row.line)?;
    out.write_str("</code></td></tr>\n")
}

/// The faults' table's start.
pub fn faults_start(out: &mut impl Write) -> Result {
    table_start(
        out,
        "Recent faults",
        "faults",
        &[
            "Time",
            "Module",
            "Generation",
            "Reason",
            "Device accesses before it",
        ],
    )
}

/// One fault record's row, its accesses one a line.
pub fn fault(out: &mut impl Write, row: &FaultRow<'_>) -> Result {
    write!(
        out,
        "<tr><td>{}.{:03} s</td><td>",
        row.time_ns / 1_000_000_000,
        row.time_ns / 1_000_000 % 1000
    )?;
    text(out, row.module)?;
    write!(out, "</td><td>{}</td><td>", row.generation)?;
    text(out, row.reason)?;
    if !row.handling.is_empty() {
        out.write_str("<br>it was handling: ")?;
        text(out, row.handling)?;
    }
    out.write_str("</td><td><pre>")?;
    text(out, row.accesses)?;
    out.write_str("</pre></td></tr>\n")
}

/// A row saying a table is empty or could not be read (`why`).
pub fn note_row(out: &mut impl Write, columns: usize, why: &str) -> Result {
    write!(out, "<tr><td colspan=\"{columns}\">")?;
    text(out, why)?;
    out.write_str("</td></tr>\n")
}

/// The modules' table's column count.
pub const MODULE_COLUMN_COUNT: usize = MODULE_COLUMNS.len();

/// The document's end: the refresh script.
pub fn end(out: &mut impl Write) -> Result {
    write!(
        out,
        "<p>JSON: <a href=\"/api/ps\">/api/ps</a>, <a href=\"/api/log\">/api/log</a>, \
/api/caps/NAME.</p>\n<script>{SCRIPT}</script>\n</body></html>\n"
    )
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#111}\
table{border-collapse:collapse;margin-bottom:1.5em}\
th,td{border:1px solid #bbb;padding:0.2em 0.6em;text-align:left;vertical-align:top}\
th{background:#eee}pre{margin:0;font-size:0.85em}";

/// Fetches the JSON every 2 s and renders the tables again, counting the
/// refreshes in the body's `data-refreshed`; a failed fetch leaves the
/// tables as they were and says so in the status line.
const SCRIPT: &str = r#"
"use strict";
function cell(row, value) {
  const td = document.createElement("td");
  td.textContent = String(value);
  row.appendChild(td);
  return td;
}
function fill(id, items, render, columns, empty) {
  const body = document.getElementById(id);
  const rows = [];
  for (const item of items) {
    const row = document.createElement("tr");
    render(row, item);
    rows.push(row);
  }
  if (rows.length === 0) {
    const row = document.createElement("tr");
    cell(row, empty).colSpan = columns;
    rows.push(row);
  }
  body.replaceChildren(...rows);
}
function seconds(ns) {
  return (ns / 1e9).toFixed(3) + " s";
}
async function refresh() {
  try {
    const ps = await (await fetch("/api/ps")).json();
    const log = await (await fetch("/api/log")).json();
    const s = ps.status;
    document.getElementById("status").textContent = "Up " + seconds(s.uptime_ns) +
      ". Kernel heap: " + Math.floor(s.heap_used / 1024) + " KiB used, " +
      Math.floor(s.heap_free / 1024) + " KiB free. " + s.modules_up + " of " +
      s.modules_total + " modules running.";
    fill("modules", ps.modules, (row, m) => {
      for (const value of [m.name, m.version, m.generation, m.state, m.restarts, m.events,
        m.fuel, m.memory_kib + " KiB"]) {
        cell(row, value);
      }
    }, 8, "No modules.");
    fill("processes", ps.processes, (row, p) => {
      cell(row, p.name);
      const code = document.createElement("code");
      code.textContent = p.line;
      cell(row, "").appendChild(code);
    }, 2, "No native processes.");
    fill("faults", log.faults.slice(-16), (row, f) => {
      cell(row, seconds(f.time_ns));
      cell(row, f.module);
      cell(row, f.generation);
      const reason = cell(row, f.reason);
      if (f.handling) {
        reason.appendChild(document.createElement("br"));
        reason.appendChild(document.createTextNode("it was handling: " + f.handling));
      }
      const pre = document.createElement("pre");
      pre.textContent = f.accesses.join("\n");
      cell(row, "").appendChild(pre);
    }, 5, "No faults recorded.");
    // How many refreshes rendered: a browser test reads it from the DOM.
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (error) {
    document.getElementById("status").textContent = "The status could not be fetched (" +
      error + "); trying again.";
  }
}
setInterval(refresh, 2000);
"#;

#[cfg(test)]
mod tests;
