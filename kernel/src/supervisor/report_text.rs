//! The shell-facing text of the supervisor's reports: the one place where a
//! [`Report`] or [`CommandError`] becomes what a person reads.

use super::command_line::USAGE;
use super::reports::{CommandError, Installed, Report, SwapReport};
use alloc::format;
use alloc::string::String;
use core::fmt::{self, Display, Write};

/// The text of a command's outcome, ending in a newline unless empty.
pub fn text_of(outcome: &Result<Report, CommandError>) -> String {
    let mut out = match outcome {
        Ok(report) => report_text(report),
        Err(error) => format!("error: {error}"),
    };
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

impl Display for SwapReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: swapped {} -> {} (state format {} -> {}, generation {}) in {} us, events stopped for {} us; {} queued events follow",
            self.module,
            self.old_version,
            self.new_version,
            self.old_state_format,
            self.new_state_format,
            self.generation,
            self.total_ns / 1000,
            self.blackout_ns / 1000,
            self.queued
        )
    }
}

impl Display for Installed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Installed::Swapped(swap) => write!(f, "{swap}"),
            Installed::Started { module, state } => {
                write!(f, "loaded and started ({module}: {state})")
            }
            Installed::New {
                module,
                version,
                grants,
                serves,
            } => write!(
                f,
                "{module} {version} installed and started: grants [{}]; serves [{}]",
                grants.join(", "),
                serves.join(", ")
            ),
        }
    }
}

impl Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Usage(text) | CommandError::Refused(text) => f.write_str(text),
            CommandError::SwapFailed(text) => f.write_str(text),
            CommandError::NoSuchModule(name) => write!(f, "no module named {name}"),
            CommandError::NotRunning { module, state } => {
                write!(f, "{module} is not running ({state})")
            }
            CommandError::AlreadyRunning(module) => write!(f, "{module} is already running"),
            CommandError::InboxFull(module) => write!(
                f,
                "{module}'s inbox is full; nothing was sent, try again when it has caught up"
            ),
            CommandError::Busy { module } => write!(
                f,
                "{module} is busy with another command (a swap or restart); try again when it is done"
            ),
            CommandError::NoServer(endpoint) => write!(f, "nothing serves `{endpoint}`"),
            CommandError::CallFailed { endpoint, why } => write!(f, "call {endpoint}: {why}"),
            CommandError::SendFailed { endpoint, why } => write!(f, "send {endpoint}: {why}"),
        }
    }
}

fn report_text(report: &Report) -> String {
    let mut out = String::new();
    match report {
        Report::Nothing => {}
        Report::Help => out = USAGE.join("\n"),
        Report::ProcessList { modules, processes } => {
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
            for row in modules {
                let _ = write!(
                    out,
                    "{:<14} {:<8} {:>4} {:<10} {:>8} {:>8} {:>12} {:>5} KiB {:>11}",
                    row.name,
                    row.version,
                    row.generation,
                    row.state,
                    row.restarts,
                    row.events,
                    row.fuel,
                    row.memory_kib,
                    row.log_lines_dropped
                );
                if row.warnings_dropped != 0 {
                    let _ = write!(out, ", {} warnings dropped", row.warnings_dropped);
                }
                if row.lines_held_back != 0 {
                    let _ = write!(out, ", {} console lines held back", row.lines_held_back);
                }
                out.push('\n');
            }
            out.push_str(processes);
        }
        Report::List { modules } => {
            let _ = writeln!(out, "{:<14} {:<8} STATE", "NAME", "VERSION");
            for row in modules {
                let _ = writeln!(out, "{:<14} {:<8} {}", row.name, row.version, row.state);
            }
        }
        Report::Capabilities {
            module,
            grants,
            serves,
            held,
            state,
        } => {
            let _ = writeln!(out, "{module}: granted by the system manifest:");
            for grant in grants {
                let _ = writeln!(out, "  {grant}");
            }
            if grants.is_empty() {
                out.push_str("  nothing\n");
            }
            if !serves.is_empty() {
                let _ = writeln!(out, "  serves {}", serves.join(", "));
            }
            match held {
                Some((generation, capabilities)) => {
                    let _ = writeln!(out, "{module}: held by instance {generation}:");
                    for capability in capabilities {
                        let _ = writeln!(out, "  {capability}");
                    }
                    if capabilities.is_empty() {
                        out.push_str("  nothing (it requests nothing)\n");
                    }
                }
                None => {
                    let _ = writeln!(out, "{module}: no running instance ({state})");
                }
            }
        }
        Report::Log {
            faults,
            lines,
            tail,
        } => {
            let _ = writeln!(out, "{} recorded:", counted(faults.len(), "fault"));
            for fault in faults {
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
            out.push_str(tail);
        }
        Report::Explained { module, faults } => {
            let whose = module
                .as_ref()
                .map_or_else(String::new, |module| format!(" for {module}"));
            if faults.is_empty() {
                out = format!("no faults recorded{whose}");
            } else {
                let _ = writeln!(out, "{} recorded{whose}:", counted(faults.len(), "fault"));
                for fault in faults {
                    let _ = writeln!(
                        out,
                        "[{:>6}.{:03} s] {} generation {}: {}",
                        fault.time / 1_000_000_000,
                        fault.time / 1_000_000 % 1000,
                        fault.module,
                        fault.generation,
                        fault.explanation
                    );
                }
            }
        }
        Report::Restarted { module, state } => out = format!("{module}: {state}"),
        Report::Stopped { module } => out = format!("{module}: stopped"),
        Report::Removed { module } => {
            out = format!("{module}: removed (stopped and unloaded; its grants are released)")
        }
        Report::Swapped(swap) => out = format!("{swap}"),
        Report::Installed(installed) => out = format!("{installed}"),
        Report::Persisted { install, path } => {
            out = format!("{}; kept in {path}", report_text(install))
        }
        Report::NotPersisted { install, path, why } => {
            out = format!("{}; not kept in {path}: {why}", report_text(install))
        }
        Report::Trace { module, on } => {
            out = format!("trace {module}: {}", if *on { "on" } else { "off" })
        }
        Report::RecentAccesses {
            module,
            generation,
            accesses,
        } => {
            if accesses.is_empty() {
                out = format!("{module}: instance {generation} has made no device access yet");
            } else {
                let _ = writeln!(
                    out,
                    "{module}: the last {} device accesses of instance {generation}, oldest first:",
                    accesses.len()
                );
                for access in accesses {
                    let _ = writeln!(out, "  {access}");
                }
                out.pop();
            }
        }
        Report::Sent {
            bytes,
            endpoint,
            module,
        } => out = format!("sent {bytes} bytes to {endpoint} ({module})"),
        Report::Reply {
            endpoint,
            request,
            bytes,
        } => {
            let _ = write!(out, "reply from {endpoint}: ");
            let mut answer = String::new();
            match cella_interfaces::render_reply(endpoint, request, bytes, &mut answer) {
                Some(Ok(())) => out.push_str(&answer),
                rendered => {
                    let _ = write!(out, "{}", counted(bytes.len(), "byte"));
                    if let Some(Err(error)) = rendered {
                        let _ = write!(out, " that are not an answer ({error})");
                    }
                    out.push_str(": ");
                    for byte in bytes {
                        let _ = write!(out, "{byte:02x}");
                    }
                }
            }
        }
        Report::Uptime { nanoseconds } => {
            out = format!(
                "up {}.{:03} s",
                nanoseconds / 1_000_000_000,
                nanoseconds / 1_000_000 % 1000
            )
        }
        Report::Memory { machine, modules } => {
            let _ = writeln!(
                out,
                "physical: {} of {} frames in use ({} of {} MiB)",
                machine.frames_used,
                machine.frames_total,
                machine.frames_used * 4 / 1024,
                machine.frames_total * 4 / 1024
            );
            let _ = writeln!(
                out,
                "heap: {} of {} KiB in use, {} KiB kept for the kernel",
                machine.heap_used / 1024,
                machine.heap_size / 1024,
                machine.heap_kept_for_kernel / 1024
            );
            let _ = writeln!(
                out,
                "DMA: {} KiB of freed buffers kept for the next ones",
                machine.dma_frames_kept * 4
            );
            let _ = writeln!(
                out,
                "  {:<14} {:>8} KiB",
                "kernel",
                machine.kernel_heap_charged.div_ceil(1024)
            );
            for module in modules {
                let _ = write!(
                    out,
                    "  {:<14} {:>8} KiB of {} KiB",
                    module.name,
                    module.heap_bytes.div_ceil(1024),
                    module.limit_bytes / 1024
                );
                if let Some((used, granted)) = module.dma {
                    let _ = write!(
                        out,
                        ", DMA {} of {} KiB",
                        used.div_ceil(1024),
                        granted.div_ceil(1024)
                    );
                }
                out.push('\n');
            }
        }
    }
    out
}

/// `1 fault`, `3 faults`: a count with its noun.
fn counted(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn recent_accesses_read_one_a_line_or_say_there_are_none() {
        let text = text_of(&Ok(Report::RecentAccesses {
            module: "cmos-rtc".into(),
            generation: 4,
            accesses: vec![
                "write port 0x70 1 <- 0x0".into(),
                "read port 0x71 1 -> 0x12".into(),
            ],
        }));
        assert_eq!(
            text,
            "cmos-rtc: the last 2 device accesses of instance 4, oldest first:\n  write port 0x70 1 <- 0x0\n  read port 0x71 1 -> 0x12\n"
        );
        let text = text_of(&Ok(Report::RecentAccesses {
            module: "shell".into(),
            generation: 2,
            accesses: Vec::new(),
        }));
        assert_eq!(text, "shell: instance 2 has made no device access yet\n");
    }

    #[test]
    fn caps_of_a_module_that_requests_nothing_says_so() {
        let text = text_of(&Ok(Report::Capabilities {
            module: "idle".into(),
            grants: Vec::new(),
            serves: Vec::new(),
            held: Some((3, Vec::new())),
            state: "running",
        }));
        assert_eq!(
            text,
            "idle: granted by the system manifest:\n  nothing\nidle: held by instance 3:\n  nothing (it requests nothing)\n"
        );
    }

    #[test]
    fn errors_read_as_sentences_with_the_error_prefix() {
        let text = text_of(&Err(CommandError::NotRunning {
            module: "pci".into(),
            state: "held",
        }));
        assert_eq!(text, "error: pci is not running (held)\n");
        assert_eq!(
            text_of(&Err(CommandError::NoSuchModule("nope".into()))),
            "error: no module named nope\n"
        );
    }

    #[test]
    fn list_shows_one_line_per_module_and_remove_says_what_it_did() {
        let text = text_of(&Ok(Report::List {
            modules: vec![
                crate::supervisor::reports::ListRow {
                    name: "uart16550".into(),
                    version: "1.0.0".into(),
                    state: "running",
                },
                crate::supervisor::reports::ListRow {
                    name: "pci".into(),
                    version: "-".into(),
                    state: "removed",
                },
            ],
        }));
        assert_eq!(
            text,
            "NAME           VERSION  STATE\nuart16550      1.0.0    running\npci            -        removed\n"
        );
        assert_eq!(
            text_of(&Ok(Report::Removed {
                module: "pci".into()
            })),
            "pci: removed (stopped and unloaded; its grants are released)\n"
        );
    }

    #[test]
    fn a_reply_is_shown_in_hex_and_nothing_prints_nothing() {
        let text = text_of(&Ok(Report::Reply {
            endpoint: "checksum".into(),
            request: b"hello".to_vec(),
            bytes: vec![0xde, 0xad, 0x01],
        }));
        assert_eq!(text, "reply from checksum: 3 bytes: dead01\n");
        // A typed interface's answer reads as its value, or says it is not one.
        let text = text_of(&Ok(Report::Reply {
            endpoint: "rtc".into(),
            request: b"time".to_vec(),
            bytes: vec![0, 0xea, 0x07, 12, 5, 8, 44, 2],
        }));
        assert_eq!(text, "reply from rtc: 2026-12-05T08:44:02Z\n");
        let text = text_of(&Ok(Report::Reply {
            endpoint: "rtc".into(),
            request: b"time".to_vec(),
            bytes: Vec::new(),
        }));
        assert_eq!(
            text,
            "reply from rtc: 0 bytes that are not an answer (the message ends early): \n"
        );
        assert_eq!(text_of(&Ok(Report::Nothing)), "");
    }

    #[test]
    fn a_swap_report_names_versions_generation_and_blackout() {
        let text = text_of(&Ok(Report::Swapped(SwapReport {
            module: "uart16550".into(),
            old_version: "1.0.0".into(),
            new_version: "2.0.0".into(),
            old_state_format: 1,
            new_state_format: 2,
            generation: 7,
            total_ns: 900_123,
            blackout_ns: 40_999,
            queued: 3,
        })));
        assert_eq!(
            text,
            "uart16550: swapped 1.0.0 -> 2.0.0 (state format 1 -> 2, generation 7) in 900 us, events stopped for 40 us; 3 queued events follow\n"
        );
    }
}
