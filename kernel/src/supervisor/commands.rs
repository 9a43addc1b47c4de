//! The supervisor's commands, as the shell sends them on the `supervisor` endpoint.
//!
//! The endpoint is served by the kernel itself, not by a module. A module
//! granted `endpoint supervisor` sends one command line per message; the
//! answer comes back as messages on the first endpoint the sender serves,
//! each starting with a two-byte marker: [`MORE`] for a piece of the answer,
//! [`DONE`] for its last piece. (The shell also receives typed input on that
//! endpoint; typed input never starts with these control bytes followed by
//! `S`.) Text uses `\r\n` line ends, ready for a terminal.

use crate::sandboxes::slot::{ModuleState, Pending};
use crate::sandboxes::system::System;
use crate::supervisor::records;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::Capability;
use core::fmt::Write;

/// The endpoint name the kernel serves.
pub const SUPERVISOR_ENDPOINT: &str = "supervisor";
/// Marker of a piece of an answer with more to come.
pub const MORE: [u8; 2] = [0x01, b'S'];
/// Marker of an answer's last piece.
pub const DONE: [u8; 2] = [0x02, b'S'];
/// Text bytes per answer message (plus the framing byte).
const PIECE_BYTES: usize = 2048;

use super::command_line::Command;
pub use super::command_line::USAGE;

impl System {
    /// Answers one command line from module `from`.
    pub(crate) fn serve_supervisor(&mut self, from: &str, bytes: &[u8]) {
        let answer = match core::str::from_utf8(bytes) {
            Ok(line) => self.command(line),
            Err(_) => String::from("error: the command is not UTF-8\n"),
        };
        let Some(reply_to) = self
            .find(from)
            .and_then(|index| self.slots[index].serves.first().copied())
            .and_then(|endpoint| self.server_of(endpoint))
        else {
            log::warn!("supervisor: {from} sent a command but serves no endpoint to answer on");
            return;
        };
        let text = answer.replace('\n', "\r\n");
        let pieces: Vec<&[u8]> = text.as_bytes().chunks(PIECE_BYTES).collect();
        let count = pieces.len().max(1);
        for index in 0..count {
            let mut message = Vec::with_capacity(PIECE_BYTES + 1);
            message.extend_from_slice(if index + 1 == count { &DONE } else { &MORE });
            message.extend_from_slice(pieces.get(index).copied().unwrap_or_default());
            self.slots[reply_to].inbox.push_back(Pending::Message {
                request: 0,
                bytes: message,
            });
        }
    }

    /// Runs one command line and returns its output (always ending in a newline).
    pub fn command(&mut self, line: &str) -> String {
        // Every command sees the table at rest: no instance is away on its worker.
        self.bring_all_home();
        let result = Command::parse(line).and_then(|command| self.carry_out(command));
        let mut output = match result {
            Ok(text) => text,
            Err(problem) => format!("error: {problem}"),
        };
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output
    }

    /// Carries out one well-formed command; its output, or why it failed.
    fn carry_out(&mut self, command: Command<'_>) -> Result<String, String> {
        match command {
            Command::Nothing => Ok(String::new()),
            Command::Help => Ok(USAGE.join("\n")),
            Command::ProcessList => Ok(self.process_list()),
            Command::Capabilities { module } => self.capabilities_of(module),
            Command::Log { lines } => Ok(log_report(lines)),
            Command::Restart { module } => self.restart_by_hand(module),
            Command::Stop { module } => self.stop_by_hand(module),
            Command::Start { module } => self.start_by_hand(module),
            Command::Swap { module, file } => self.swap(module, file),
            Command::Trace { module, on } => self.set_tracing(module, on),
            Command::Send { endpoint, text } => self.send_by_hand(endpoint, &text),
            Command::Call { endpoint, text } => self.call_process(endpoint, &text),
            Command::Uptime => Ok(uptime()),
            Command::Memory => Ok(self.memory_report()),
        }
    }

    fn process_list(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<14} {:<8} {:>4} {:<10} {:>8} {:>8} {:>12} {:>8} {:>11}",
            "NAME",
            "VERSION",
            "GEN",
            "STATE",
            "RESTARTS",
            "EVENTS",
            "FUEL",
            "MEMORY",
            "LOG-DROPPED"
        );
        for slot in &self.slots {
            let version = slot.module.as_ref().map_or("-", |module| module.version());
            let (generation, fuel, memory, log_dropped) = match &slot.sandbox {
                Some(sandbox) => (
                    sandbox.generation(),
                    sandbox.counters().fuel_used,
                    sandbox.memory_pages() * 64,
                    sandbox.counters().log_lines_dropped,
                ),
                None => (0, 0, 0, 0),
            };
            let _ = write!(
                out,
                "{:<14} {:<8} {:>4} {:<10} {:>8} {:>8} {:>12} {:>5} KiB {:>11}",
                slot.plan.name,
                version,
                generation,
                slot.state.name(),
                slot.tracker.restarts,
                slot.events_handled,
                fuel,
                memory,
                log_dropped
            );
            let (warnings, lines) = crate::sandboxes::platform::lines_dropped(&slot.plan.name);
            if warnings != 0 {
                let _ = write!(out, ", {warnings} warnings dropped");
            }
            if lines != 0 {
                let _ = write!(out, ", {lines} console lines held back");
            }
            out.push('\n');
        }
        out.push_str(&super::native::process_rows());
        out
    }

    fn capabilities_of(&self, name: &str) -> Result<String, String> {
        let index = self
            .find(name)
            .ok_or_else(|| format!("no module named {name}"))?;
        let slot = &self.slots[index];
        let mut out = String::new();
        let _ = writeln!(out, "{name}: granted by the system manifest:");
        for grant in &slot.plan.grants {
            let _ = writeln!(out, "  {grant}");
        }
        if slot.plan.grants.is_empty() {
            out.push_str("  nothing\n");
        }
        if !slot.plan.serves.is_empty() {
            let _ = writeln!(out, "  serves {}", slot.plan.serves.join(", "));
        }
        match &slot.sandbox {
            Some(sandbox) if slot.state == ModuleState::Running => {
                let _ = writeln!(out, "{name}: held by instance {}:", sandbox.generation());
                let held = sandbox.capabilities();
                for capability in &held {
                    let _ = writeln!(out, "  {capability}");
                }
                if held.is_empty() {
                    out.push_str("  nothing (it requests nothing)\n");
                }
            }
            _ => {
                let _ = writeln!(out, "{name}: no running instance ({})", slot.state.name());
            }
        }
        Ok(out)
    }

    /// `send ENDPOINT TEXT`: queues TEXT for the module serving ENDPOINT (no reply expected).
    fn send_by_hand(&mut self, endpoint: &str, text: &str) -> Result<String, String> {
        let server = self
            .endpoint_id(endpoint)
            .and_then(|id| self.server_of(id))
            .ok_or_else(|| format!("no module serves `{endpoint}`"))?;
        let slot = &mut self.slots[server];
        if !slot.accepts_messages() {
            return Err(format!(
                "{} (serving {endpoint}) is not running ({})",
                slot.plan.name,
                slot.state.name()
            ));
        }
        slot.inbox.push_back(Pending::Message {
            request: 0,
            bytes: text.as_bytes().to_vec(),
        });
        Ok(format!(
            "sent {} bytes to {endpoint} ({})",
            text.len(),
            slot.plan.name
        ))
    }

    fn set_tracing(&mut self, name: &str, on: bool) -> Result<String, String> {
        let index = self
            .find(name)
            .ok_or_else(|| format!("no module named {name}"))?;
        self.slots[index].tracing = on;
        Ok(format!("trace {name}: {}", if on { "on" } else { "off" }))
    }
}

fn log_report(lines: usize) -> String {
    let mut out = String::new();
    let faults = records::all();
    let _ = writeln!(out, "{} faults recorded:", faults.len());
    for fault in &faults {
        let _ = writeln!(
            out,
            "  [{:>6}.{:03} s] {} generation {}: {}",
            fault.time / 1_000_000_000,
            fault.time / 1_000_000 % 1000,
            fault.module,
            fault.generation,
            fault.reason
        );
        for access in &fault.last_accesses {
            let _ = writeln!(out, "      before: {access}");
        }
    }
    let _ = writeln!(out, "last {lines} lines of the kernel log:");
    out.push_str(&crate::log_ring::tail(lines));
    out
}

fn uptime() -> String {
    let now = crate::time::now_nanoseconds();
    format!("up {}.{:03} s", now / 1_000_000_000, now / 1_000_000 % 1000)
}

impl System {
    /// `mem`: physical frames, the heap, and what each module holds of it.
    fn memory_report(&self) -> String {
        use crate::mm::{budget, heap};
        let frames = crate::mm::paging::frame_statistics();
        let statistics = heap::statistics();
        let mut out = format!(
            "physical: {} of {} frames in use ({} of {} MiB)\nheap: {} of {} KiB in use, {} KiB kept for the kernel\n",
            frames.allocated_frames,
            frames.total_frames,
            frames.allocated_frames * 4 / 1024,
            frames.total_frames * 4 / 1024,
            statistics.used / 1024,
            statistics.size / 1024,
            budget::KERNEL_RESERVE_BYTES / 1024
        );
        let _ = writeln!(
            out,
            "DMA: {} KiB of freed buffers kept for the next ones",
            crate::mm::device_memory::dma_frames_kept() * 4
        );
        let _ = writeln!(
            out,
            "  {:<14} {:>8} KiB",
            "kernel",
            heap::charged(heap::KERNEL_ACCOUNT).div_ceil(1024)
        );
        for (index, slot) in self.slots.iter().enumerate() {
            let account = crate::sandboxes::system::account_of(index);
            let _ = write!(
                out,
                "  {:<14} {:>8} KiB of {} KiB",
                slot.plan.name,
                heap::charged(account).div_ceil(1024),
                budget::limit(account) / 1024
            );
            // DMA comes from physical frames, not the heap, and is bounded by
            // the module's grant.
            let dma = slot.sandbox.as_ref().map(|sandbox| {
                sandbox
                    .capabilities()
                    .iter()
                    .filter_map(|capability| match capability {
                        Capability::DmaPool { budget, used } => Some((*used, *budget)),
                        _ => None,
                    })
                    .fold((0u64, 0u64), |(used, granted), (pool_used, pool_budget)| {
                        (
                            used.saturating_add(pool_used),
                            granted.saturating_add(pool_budget),
                        )
                    })
            });
            if let Some((used, granted)) = dma.filter(|&(_, granted)| granted > 0) {
                let _ = write!(
                    out,
                    ", DMA {} of {} KiB",
                    used.div_ceil(1024),
                    granted.div_ceil(1024)
                );
            }
            out.push('\n');
        }
        out
    }
}
