//! Native processes in the supervisor's commands: their rows in `ps`, and
//! `call ENDPOINT TEXT`, which calls an endpoint a native process registered
//! (the IPC name service of `kernel/src/ipc`) and shows the reply. Modules'
//! endpoints go through the sandboxes' router instead (`send`).

use crate::sandboxes::system::System;
use crate::{ipc, proc, time};
use alloc::format;
use alloc::string::String;
use core::fmt::Write;

/// How long `call` waits for the reply.
const CALL_TIMEOUT_NS: u64 = 1_000_000_000;

/// One `ps` row per live native process: its name, `native` for the version,
/// its thread, each endpoint it may serve, marked `*` once it has registered
/// it (it is serving), the kernel memory charged to it against its allowance,
/// and how many refusal warnings the rate limit held back.
pub fn process_rows() -> String {
    let mut out = String::new();
    for row in proc::running() {
        let (thread, name) = (row.thread, &row.name);
        let endpoints: alloc::vec::Vec<String> = row
            .serves
            .iter()
            .map(|endpoint| {
                let mark = if ipc::lookup(endpoint).is_ok() {
                    "*"
                } else {
                    ""
                };
                format!("{endpoint}{mark}")
            })
            .collect();
        let _ = writeln!(
            out,
            "{name:<14} {:<8} {:>4} {:<10} thread {thread}, serves [{}], kernel memory {} of {} KiB, {} warnings dropped, {} lines held back",
            "native",
            "-",
            "running",
            endpoints.join(", "),
            row.kernel_memory.0.div_ceil(1024),
            row.kernel_memory.1 / 1024,
            row.warnings_dropped,
            row.lines_dropped
        );
    }
    out
}

impl System {
    /// `call ENDPOINT TEXT`, run on another thread while the event loop goes
    /// on (the process may in turn call a module, which needs the event loop).
    /// Module endpoints are refused: they take `send`.
    pub(crate) fn call_process(&mut self, endpoint: &str, text: &str) -> Result<String, String> {
        let served_by_module = self
            .endpoint_id(endpoint)
            .and_then(|id| self.server_of(id))
            .map(|index| self.slots[index].plan.name.clone());
        if let Some(module) = served_by_module {
            return Err(format!(
                "`{endpoint}` is served by the module {module}, not a process: use `send {endpoint} TEXT`"
            ));
        }
        let (endpoint, text) = (String::from(endpoint), String::from(text));
        self.run_elsewhere("supervisor-call", move || call(&endpoint, &text))
    }
}

/// `call ENDPOINT TEXT`: calls the registered endpoint with TEXT and shows
/// the reply's bytes in hex.
fn call(endpoint: &str, text: &str) -> Result<String, String> {
    let id = ipc::lookup(endpoint).map_err(|_| {
        format!("no native process serves `{endpoint}` (module endpoints take `send`)")
    })?;
    let deadline = time::now_nanoseconds() + CALL_TIMEOUT_NS;
    let reply = ipc::call(id, text.as_bytes(), Some(deadline))
        .map_err(|error| format!("call {endpoint}: {error:?}"))?;
    let mut hex = String::new();
    for byte in &reply {
        let _ = write!(hex, "{byte:02x}");
    }
    Ok(format!(
        "reply from {endpoint}: {} bytes: {hex}",
        reply.len()
    ))
}
